"""An event answered 202 is on disk: SIGKILL right after the answer loses nothing."""

from __future__ import annotations

import collections
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.support.devices import subscription
from tests.support.hub_server import start_hub_process, wait_until
from tests.support.push_service import PushService

SUBSCRIPTION = subscription("http://127.0.0.1:9/push/phone")


def test_kill_9_right_after_202_loses_no_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # 250 pushed warnings in a second: above the default push budget, which is not what this tests
    first = start_hub_process(data_dir, args=("--allow-private-endpoints", "--push-budget", "1000"))
    accepted: list[str] = []
    try:
        with first.client(first.read_key) as c:  # one phone, so every event also gets an outbox row
            device = c.post("/v1/devices", json={"subscription": SUBSCRIPTION}).json()
        with first.client(first.publish_key) as c:
            for batch in range(10):
                events = [
                    {"id": str(uuid.uuid4()), "title": f"b{batch} e{i}", "level": "warning"}
                    for i in range(25)
                ]
                answer = c.post("/v1/events", json={"events": events})
                assert answer.status_code == 202
                accepted += [e["id"] for e in events]
    finally:
        first.kill()  # SIGKILL the moment the last 202 arrived: no shutdown code runs
    assert first.process.returncode == -9

    second = start_hub_process(data_dir)
    try:
        assert second.publish_key == first.publish_key  # same credentials after restart
        stored: list[dict[str, Any]] = []
        with second.client(second.read_key) as c:
            params: dict[str, Any] = {"limit": 200}
            while True:
                page = c.get("/v1/events", params=params).json()
                stored += page["events"]
                if not page["next_cursor"]:
                    break
                params["cursor"] = page["next_cursor"]
    finally:
        second.stop()
    assert sorted(e["id"] for e in stored) == sorted(accepted)
    with sqlite3.connect(data_dir / "pushlog.db") as db:
        rows = db.execute("SELECT event_id, device_id, round FROM deliveries").fetchall()
    assert sorted(r[0] for r in rows) == sorted(accepted)  # the outbox rows committed with their events
    assert {(r[1], r[2]) for r in rows} == {(device["id"], 0)}


def _fanout_rows(data_dir: Path) -> tuple[list[tuple[str, str, str, int]], int]:
    """(id, device_id, status, attempts) of every delivery, and how many fan-outs are still expanding."""
    with sqlite3.connect(data_dir / "pushlog.db") as db:
        rows = db.execute("SELECT id, device_id, status, attempts FROM deliveries").fetchall()
        expanding = db.execute("SELECT count(*) FROM fanouts").fetchone()[0]
    return rows, int(expanding)


def test_kill_9_mid_fan_out_then_restart_gives_every_device_one_delivery(tmp_path: Path) -> None:
    """A hub killed while a fan-out is still streaming (the first chunk in flight, the rest of the
    audience not expanded yet) goes on after a restart: every device ends with exactly one delivery,
    sent, and a phone gets a push twice only if the killed process had claimed it (sent, unrecorded)."""
    data_dir = tmp_path / "data"
    phones_count = 80
    args = ("--allow-private-endpoints", "--delivery-lease", "2", "--push-budget", "100000")
    with PushService(delay=1.0) as service:  # the first chunk stays in flight for a second
        first = start_hub_process(data_dir, args=args)
        try:
            phones = [service.subscribe() for _ in range(phones_count)]
            with first.client(first.read_key) as c:
                answers = [c.post("/v1/devices", json={"subscription": p.subscription()}) for p in phones]
                devices = {answer.json()["id"] for answer in answers}
            with first.client(first.publish_key) as c:
                event = {"id": str(uuid.uuid4()), "title": "disk full", "level": "error"}
                assert c.post("/v1/events", json={"events": [event]}).status_code == 202
        finally:
            first.kill()  # SIGKILL at the 202: the first chunk is claimed, the rest not expanded
        rows, expanding = _fanout_rows(data_dir)
        assert 0 < len(rows) < phones_count and expanding == 1  # killed mid fan-out

        second = start_hub_process(data_dir, args=args)
        try:

            def all_sent() -> bool:
                done, left = _fanout_rows(data_dir)
                return left == 0 and len(done) == phones_count and all(r[2] == "sent" for r in done)

            wait_until(all_sent, timeout=60, what="every device's delivery sent after the restart")
        finally:
            second.stop()
        received = collections.Counter(p.payload["delivery_id"] for p in service.received if p.status == 201)
    rows, expanding = _fanout_rows(data_dir)
    assert expanding == 0
    assert sorted(r[1] for r in rows) == sorted(devices)  # one row per device, none missing or doubled
    for delivery_id, _, _, attempts in rows:
        assert 1 <= received[delivery_id] <= attempts  # sent again only when the killed hub had claimed it
    assert set(received) == {r[0] for r in rows}


def test_the_outbox_cannot_hold_the_same_delivery_twice(tmp_path: Path) -> None:
    import datetime as _dt

    import sqlalchemy as sa

    from pushlog.hub.store import create_engine, migrate
    from pushlog.hub.store._tables import deliveries, events

    engine = create_engine(f"sqlite:///{tmp_path / 'o.db'}")
    migrate(engine)
    now = _dt.datetime.now(_dt.UTC)
    row = {
        "event_seq": 1,
        "event_id": "e1",
        "device_id": "d1",
        "round": 0,
        "status": "queued",
        "created_at": now,
        "updated_at": now,
    }
    try:
        with engine.begin() as conn:
            conn.execute(
                events.insert().values(
                    seq=1,
                    id="e1",
                    ts=now,
                    received_at=now,
                    level=30,
                    title="t",
                    tags=[],
                    actions=[],
                    metadata={},
                    push=True,
                    source={},
                )
            )
            conn.execute(deliveries.insert().values(id="dl_1", **row))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(deliveries.insert().values(id="dl_2", **row))
        with engine.begin() as conn:  # the next CRITICAL round is a different row
            conn.execute(deliveries.insert().values(id="dl_3", **{**row, "round": 1}))
    finally:
        engine.dispose()
