"""The team's analytics (``store/analytics.py``) give the same exact numbers on SQLite and on a real
PostgreSQL server: per channel over time, the noisiest fingerprints, time to acknowledge CRITICALs,
per transport success and latency percentiles, and the funnel with the gate's reasons."""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any

import sqlalchemy as sa
from tests.hub.store.rows import REPEAT, VAULT
from tests.support.devices import AUTH, P256DH

from pushlog._levels import Level
from pushlog.hub.attention import PreferenceDocument
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import preferences as pref_store
from pushlog.hub.store import stats as stats_store
from pushlog.hub.store._tables import deliveries, events
from pushlog.hub.store.analytics import percentile


def at(hour: int, minute: int = 0, second: float = 0) -> _dt.datetime:
    return _dt.datetime(2026, 1, 1, hour, minute, tzinfo=_dt.UTC) + _dt.timedelta(seconds=second)


WINDOW = stats_store.Window(since=at(9), until=at(12), unit="hour")


def new_event(level: Level, ts: _dt.datetime, **fields: Any) -> event_store.NewEvent:
    base: dict[str, Any] = {"id": str(uuid.uuid4()), "ts": ts, "level": level, "title": "t"}
    return event_store.NewEvent(**{**base, **fields})


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 11)], 0.5) == 5.0


def test_channels_noisiest_and_acknowledgement(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        batch = [
            new_event(
                Level.ERROR, at(9, 10), channel="payments", fingerprint="card", title="card declined", count=7
            ),
            new_event(
                Level.ERROR,
                at(10, 10),
                channel="payments",
                fingerprint="card",
                title="card declined",
                count=5,
            ),
            new_event(
                Level.WARNING, at(10, 20), channel="ops", fingerprint="disk", title="disk full", count=3
            ),
            new_event(Level.INFO, at(11, 0), channel=None, fingerprint="deploy", title="deployed"),
            new_event(Level.CRITICAL, at(11, 5), channel="ops", title="db down"),
            new_event(Level.CRITICAL, at(11, 6), channel="ops", title="api down"),
            new_event(Level.CRITICAL, at(11, 7), channel="ops", title="still open"),
            new_event(
                Level.ERROR, at(8), channel="payments", fingerprint="card", count=100
            ),  # before the window
        ]
        for item in batch:  # received when they happened, so acknowledgement times are exact
            event_store.insert_events(conn, [item], key_id=None, now=item.ts, repeat=REPEAT)
        conn.execute(events.update().where(events.c.id == batch[4].id).values(acknowledged_at=at(11, 5, 60)))
        conn.execute(events.update().where(events.c.id == batch[5].id).values(acknowledged_at=at(11, 6, 300)))
        got = stats_store.stats(conn, WINDOW, top=2)

    assert got["channels"]["by_channel"] == {"ops": 4, "payments": 2, "(none)": 1}
    buckets = {b["start"]: b["channels"] for b in got["channels"]["buckets"]}
    assert buckets["2026-01-01T09:00:00.000000Z"] == {"ops": 0, "payments": 1, "(none)": 0}
    assert buckets["2026-01-01T11:00:00.000000Z"] == {"ops": 3, "payments": 0, "(none)": 1}
    assert got["noisiest"] == [
        {
            "fingerprint": "card",
            "title": "card declined",
            "channel": "payments",
            "level": "error",
            "lines": 2,
            "occurrences": 12,
        },
        {
            "fingerprint": "disk",
            "title": "disk full",
            "channel": "ops",
            "level": "warning",
            "lines": 1,
            "occurrences": 3,
        },
    ]
    assert got["acknowledgement"] == {"critical": 3, "acknowledged": 2, "mean_s": 180.0, "p90_s": 300.0}


def test_transports_and_the_funnel_with_the_gates_reasons(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        phone, _ = device_store.register_webpush(
            conn,
            device_store.WebPushRegistration(
                name="phone",
                endpoint="https://push.example/1",
                p256dh=P256DH,
                auth=AUTH,
                min_level=Level.WARNING,
                channels=None,
            ),
            now=at(9),
            vault=VAULT,
        )
        feed_only = PreferenceDocument(categories={"marketing": "off"})
        pref_store.put_document(conn, pref_store.DEVICE, phone["id"], feed_only, now=at(9))
        batch = [new_event(Level.WARNING, at(10, n), channel="ops", push=True) for n in range(4)] + [
            new_event(Level.WARNING, at(10, 30), channel="marketing", push=True)
        ]
        event_store.insert_events(conn, batch, key_id=None, now=at(10), repeat=REPEAT)
        rows = {r.event_id: r.id for r in conn.execute(sa.select(deliveries.c.event_id, deliveries.c.id))}
        latencies = [1.0, 2.0, 4.0]
        for item, seconds in zip(batch, latencies, strict=False):
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == rows[item.id])
                .values(status="delivered", sent_at=at(10), delivered_at=at(10, 0, seconds))
            )
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == rows[batch[3].id])
            .values(status="failed", last_status_code=413)
        )
        got = stats_store.stats(conn, WINDOW)

    assert got["transports"] == [
        {
            "transport": "webpush",
            "sent": 3,
            "failed": 1,
            "success_rate": 0.75,
            "latency_p50_s": 2.0,
            "latency_p90_s": 4.0,
            "latency_p99_s": 4.0,
        }
    ]
    assert got["funnel"] == {
        "targeted": 5,
        "held": {},
        "skipped": {"category_off": 1},
        "sent": 3,
        "delivered": 3,
        "opened": 0,
        "acknowledged": 0,
        "failed": {"413": 1},
    }
    assert got["deliveries"]["by_status"]["skipped"] == 1
