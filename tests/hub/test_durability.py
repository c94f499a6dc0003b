"""An event answered 202 is on disk: SIGKILL right after the answer loses nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.support.hub_server import start_hub_process


def test_kill_9_right_after_202_loses_no_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_hub_process(data_dir)
    accepted: list[str] = []
    try:
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
