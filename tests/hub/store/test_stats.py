"""The stats queries give the same exact answer on SQLite and on a real PostgreSQL server.

The hour/day bucket expression is the one dialect-specific piece of ``store/stats.py``; this proves
both renderings cut timestamps the same way (including a row exactly on a bucket boundary and one
microsecond before it) and that the aggregates are portable.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

import sqlalchemy as sa
from tests.hub.store.rows import VAULT

from pushlog._levels import Level
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import stats as stats_store
from pushlog.hub.store._tables import deliveries

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> _dt.datetime:
    return _dt.datetime(2026, 1, 1, hour, minute, second, micro, tzinfo=_dt.UTC)


def new_event(level: Level, ts: _dt.datetime, **fields: Any) -> event_store.NewEvent:
    return event_store.NewEvent(id=str(uuid.uuid4()), ts=ts, level=level, title="t", **fields)


def test_the_same_counts_on_both_databases(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device, _ = device_store.register_webpush(
            conn,
            device_store.WebPushRegistration(
                name="phone",
                endpoint="https://push.example/1",
                p256dh=P256DH,
                auth="BTBZMqHH6r4Tts7J_aSIgg",
                min_level=Level.WARNING,
                channels=None,
            ),
            vault=VAULT,
            now=NOW,
        )
        batch = [
            new_event(Level.INFO, at(9, 59, 59, 999_999)),  # the last microsecond of 09:00
            new_event(Level.INFO, at(10), count=4),  # exactly on the boundary: 10:00
            new_event(Level.WARNING, at(10, 30), push=True),
            new_event(Level.ERROR, at(11, 15), push=True),
            new_event(Level.WARNING, at(8), push=True),  # before the window
        ]
        event_store.insert_events(conn, batch, key_id=None, now=NOW, repeat=REPEAT)
        # A dedup follow-up of the 10:00 line, an hour later: folded into that line, not a line of its own.
        follow_up = new_event(Level.INFO, at(11, 5), count=6, repeat_of=batch[1].id)
        event_store.insert_events(conn, [follow_up], key_id=None, now=NOW, repeat=REPEAT)
        # One delivery sent and delivered 1.5 s later, one failed; the third (08:00's) stays queued.
        rows = {
            r.event_id: r.id for r in conn.execute(sa.select(deliveries.c.event_id, deliveries.c.id)).all()
        }
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == rows[batch[2].id])
            .values(status="delivered", sent_at=NOW, delivered_at=NOW + _dt.timedelta(seconds=1.5))
        )
        conn.execute(deliveries.update().where(deliveries.c.id == rows[batch[3].id]).values(status="failed"))
        stats_store.record_client_report(conn, dropped=5, key_id=None, sdk="pushlog/1", now=at(10, 5))
        stats_store.record_client_report(conn, dropped=2, key_id=None, sdk=None, now=at(7))

    window = stats_store.Window(since=at(9), until=at(12), unit="hour")
    with engine.connect() as conn:
        got = stats_store.stats(conn, window)

    assert [(b["start"], b["info"], b["warning"], b["error"]) for b in got["events"]["buckets"]] == [
        ("2026-01-01T09:00:00.000000Z", 1, 0, 0),
        ("2026-01-01T10:00:00.000000Z", 1, 1, 0),
        ("2026-01-01T11:00:00.000000Z", 0, 0, 1),
    ]
    assert (got["events"]["total"], got["events"]["occurrences"]) == (4, 13)  # 1 + (4 + 6) + 1 + 1
    # Deliveries are windowed by created_at (all at NOW = 12:00, the exclusive end): none.
    assert got["deliveries"]["total"] == 0
    assert got["clients"]["dropped"] == 5
    assert [b["dropped"] for b in got["clients"]["buckets"]] == [0, 5, 0]

    with engine.connect() as conn:
        day = stats_store.stats(
            conn, stats_store.Window(since=at(0), until=at(0) + _dt.timedelta(days=1), unit="day")
        )
    assert [(b["start"], b["warning"]) for b in day["events"]["buckets"]] == [
        ("2026-01-01T00:00:00.000000Z", 2)
    ]
    assert day["deliveries"]["total"] == 3
    assert day["deliveries"]["by_status"]["queued"] == 1
    assert day["deliveries"]["by_device"][0]["device_id"] == device["id"]
    assert day["pushes"] == {
        "sent": 1,
        "failed": 1,
        "delivered": 1,
        "opened": 0,
        "acknowledged": 0,
        "median_delivery_latency_s": 1.5,
        "buckets": [
            {"start": "2026-01-01T00:00:00.000000Z", "sent": 1, "delivered": 1, "opened": 0, "open_rate": 0.0}
        ],
    }
    assert day["clients"]["dropped"] == 7
