"""Incidents in the feed list, on SQLite and PostgreSQL: lines sharing a trace id are one incident,
lines without one sharing a fingerprint are one too, with first/last occurrence and counts."""

from __future__ import annotations

import datetime as _dt

import sqlalchemy as sa
from tests.hub.store.rows import NOW, REPEAT, new_event

from pushlog._levels import Level
from pushlog.hub.store import events as event_store


def test_lines_are_grouped_by_trace_id_else_fingerprint(engine: sa.Engine) -> None:
    minute = _dt.timedelta(minutes=1)
    batch = [
        new_event("db timeout", level=Level.ERROR, fingerprint="db", ts=NOW, count=3),
        new_event("db timeout", level=Level.ERROR, fingerprint="db", ts=NOW + 5 * minute),
        new_event("checkout failed", fingerprint="co", metadata={"trace_id": "t1"}, ts=NOW + minute),
        new_event("card declined", fingerprint="cd", metadata={"trace_id": "t1"}, ts=NOW + 2 * minute),
        new_event("deployed", fingerprint="dep", ts=NOW),
    ]
    with engine.begin() as conn:
        event_store.insert_events(conn, batch, key_id=None, now=NOW, repeat=REPEAT)
        page, _ = event_store.list_events(conn, event_store.EventFilter(), limit=50)
    by_title = {(e["title"], e["ts"]): e["incident"] for e in page}
    db = by_title[("db timeout", "2026-01-01T12:00:00.000000Z")]
    assert db == {
        "by": "fingerprint",
        "key": "db",
        "first": "2026-01-01T12:00:00.000000Z",
        "last": "2026-01-01T12:05:00.000000Z",
        "count": 4,
        "lines": 2,
    }
    assert by_title[("db timeout", "2026-01-01T12:05:00.000000Z")] == db
    trace = by_title[("checkout failed", "2026-01-01T12:01:00.000000Z")]
    assert (trace["by"], trace["key"], trace["lines"], trace["last"]) == (
        "trace_id",
        "t1",
        2,
        "2026-01-01T12:02:00.000000Z",
    )
    assert by_title[("card declined", "2026-01-01T12:02:00.000000Z")] == trace
    assert by_title[("deployed", "2026-01-01T12:00:00.000000Z")] is None, "a line alone is no incident"
