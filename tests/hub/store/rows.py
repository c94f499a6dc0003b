"""Rows for the store tests: a fixed ingest time, a re-push schedule, NewEvent builders, the device
vault the store seals device secrets with and a Web Push device builder."""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

import sqlalchemy as sa
from tests.support.devices import AUTH, P256DH

from pushlog._levels import Level
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store.device_tokens import DeviceTokenVault

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
VAULT = DeviceTokenVault(bytes(range(32)))


def webpush_device(
    conn: sa.Connection,
    n: int,
    min_level: Level = Level.WARNING,
    channels: list[str] | None = None,
    *,
    now: _dt.datetime = NOW,
) -> str:
    """Register Web Push device number ``n`` (its own endpoint) at ``now``; its id."""
    device, _ = device_store.register_webpush(
        conn,
        device_store.WebPushRegistration(
            name=f"d{n}",
            endpoint=f"https://push.example/{n}",
            p256dh=P256DH,
            auth=AUTH,
            min_level=min_level,
            channels=channels,
        ),
        vault=VAULT,
        now=now,
    )
    return str(device["id"])


def new_event(title: str, **fields: Any) -> event_store.NewEvent:
    """An INFO event at :data:`NOW` with a fresh id; ``fields`` override any attribute."""
    base: dict[str, Any] = {"id": str(uuid.uuid4()), "ts": NOW, "level": Level.INFO, "title": title}
    base.update(fields)
    return event_store.NewEvent(**base)


def rich_event(title: str = "disk 90% full", **fields: Any) -> event_store.NewEvent:
    """A pushed CRITICAL event with every optional column set (non-ASCII and quoted text, tags, link,
    actions, metadata of every JSON kind, fingerprint, source): what a read-back must reproduce."""
    base: dict[str, Any] = {
        "level": Level.CRITICAL,
        "push": True,
        "body": 'ü — ✓ "quoted"',
        "channel": "ops",
        "tags": ["disk", "db"],
        "link": "https://x.example/disk",
        "actions": [{"action": "open", "title": "Open", "url": "https://x.example/a"}],
        "metadata": {
            "host": "db-1",
            "pct": 90,
            "ratio": 0.5,
            "ok": False,
            "none": None,
            "nested": {"a": [1]},
        },
        "fingerprint": "fp",
        "source": {"logger": "app", "pid": 1},
    }
    base.update(fields)
    return new_event(title, **base)
