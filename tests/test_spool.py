"""The durable spool: events survive a hub outage and a process restart, redacted on disk."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from tests.conftest import StandInHub

from pushlog import Client
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._spool import Spool


def test_spool_roundtrip_keeps_wire_form(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_events=3)
    events = [
        Event(title="feed", level=Level.INFO, metadata={"a": [1, {"b": None}]}),
        Event(title="push", level=Level.ERROR, tags=["x"], count=4),
    ]
    assert spool.add(events) == 0 and len(spool) == 2
    assert [e.to_wire() for e in spool.peek(10)] == [events[1].to_wire(), events[0].to_wire()]  # pushed first
    assert spool.add([Event(title="3"), Event(title="4")]) == 1  # full at 3: one did not fit
    assert spool.failed([events[0].id]) == 0  # never gives up
    spool.remove([events[0].id, events[1].id])
    assert len(spool) == 1
    spool.close()


def test_events_survive_outage_and_restart(hub: StandInHub, tmp_path: Path) -> None:
    path = tmp_path / "spool" / "pushlog.db"
    hub.script += [hub.status(503, {"Retry-After": "3600"})]  # the hub is down for the first process
    first = Client(hub.dsn, spool=str(path), linger=0.0, dedup_window=0)
    ids = [
        first.capture(Event(title="order paid", level=Level.WARNING, metadata={"password": "hunter22"})),
        first.capture(Event(title="feed line", level=Level.INFO)),
    ]
    hub.wait_for(lambda: len(hub.requests) == 1)
    assert first.flush(0.2) is False
    first.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT wire FROM spooled_events").fetchall()
    assert len(rows) == 2
    assert all("hunter22" not in row[0] for row in rows)  # redacted before it touched the disk

    second = Client(hub.dsn, spool=str(path), linger=0.0)  # "the process restarted"; hub is back
    try:
        assert second.flush(10) is True
    finally:
        second.close()
    delivered = hub.accepted_events()
    assert sorted(e["id"] for e in delivered) == sorted(ids)
    assert {e["title"]: e["metadata"] for e in delivered}["order paid"] == {"password": "[redacted]"}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM spooled_events").fetchone()[0] == 0


def test_event_the_spool_cannot_store_as_is_is_repaired_and_the_rest_goes_on(
    hub: StandInHub, tmp_path: Path
) -> None:
    path = tmp_path / "spool.db"
    client = Client(hub.dsn, spool=str(path), linger=0.0, dedup_window=0)
    try:
        name = os.fsdecode(b"\xfe.log")  # a lone surrogate: SQLite cannot store it as UTF-8
        client.capture(Event(title="cannot open " + name, level=Level.WARNING))
        for i in range(20):
            client.capture(Event(title=f"after {i}"))
        assert client.flush(10)
    finally:
        client.close()
    titles = sorted(e["title"] for e in hub.accepted_events())
    assert titles == sorted(["cannot open \\xfe.log", *(f"after {i}" for i in range(20))])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
