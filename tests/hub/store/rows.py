"""Rows for the store tests: a fixed ingest time, a re-push schedule, a NewEvent builder and the device
vault the store seals device secrets with."""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

from pushlog._levels import Level
from pushlog.hub.store import events as event_store
from pushlog.hub.store.device_tokens import DeviceTokenVault

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
VAULT = DeviceTokenVault(bytes(range(32)))


def new_event(title: str, **fields: Any) -> event_store.NewEvent:
    """An INFO event at :data:`NOW` with a fresh id; ``fields`` override any attribute."""
    base: dict[str, Any] = {"id": str(uuid.uuid4()), "ts": NOW, "level": Level.INFO, "title": title}
    base.update(fields)
    return event_store.NewEvent(**base)
