"""An event answered 202 is on disk: SIGKILL right after the answer loses nothing."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.support.hub_server import start_hub_process

SUBSCRIPTION = {
    "endpoint": "http://127.0.0.1:9/push/phone",
    "keys": {
        "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    },
}


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
