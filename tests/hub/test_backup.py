"""``pushlog backup`` while a real hub (subprocess) is ingesting, ``pushlog restore`` into a new data
directory, a hub started on it: every event answered 202 before the backup began is there."""

from __future__ import annotations

import sqlite3
import stat
import threading
import uuid
from pathlib import Path

import pytest
from tests.support.hub_server import RunningHub, start_hub_process, wait_until

from pushlog.cli import main
from pushlog.hub.store._engine import head_revision


def _all_ids(hub: RunningHub, key: str) -> set[str]:
    ids: set[str] = set()
    cursor: str | None = None
    with hub.client(key) as client:
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            response = client.get("/v1/events", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            ids.update(event["id"] for event in page["events"])
            cursor = page["next_cursor"]
            if not cursor:
                return ids


def test_backup_under_load_then_restore_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    backup_file = tmp_path / "backup.db"
    acked: list[str] = []
    stop = threading.Event()
    failures: list[str] = []

    with start_hub_process(tmp_path / "live") as hub:

        def publish_until_stopped() -> None:
            with hub.client(hub.publish_key) as client:
                while not stop.is_set():
                    batch = [
                        {"id": str(uuid.uuid4()), "title": f"load {len(acked) + i}", "level": "info"}
                        for i in range(20)
                    ]
                    response = client.post("/v1/events", json={"events": batch})
                    if response.status_code != 202:
                        failures.append(response.text)
                        return
                    acked.extend(event["id"] for event in batch)

        writer = threading.Thread(target=publish_until_stopped, daemon=True)
        writer.start()
        try:
            wait_until(lambda: len(acked) >= 300, timeout=60, what="300 events ingested")
            before_backup = set(acked)
            assert main(["backup", str(backup_file), "--data-dir", str(hub.data_dir)]) == 0
            during = len(acked)
            wait_until(
                lambda: len(acked) >= during + 100, timeout=60, what="ingest going on after the backup"
            )
        finally:
            stop.set()
            writer.join(30)
        assert not failures, failures

        assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
        # Restoring over the data directory of a running hub is refused.
        assert main(["restore", str(backup_file), "--data-dir", str(hub.data_dir)]) == 1
        old_read_key = hub.read_key

    restored_dir = tmp_path / "restored"
    assert main(["restore", str(backup_file), "--data-dir", str(restored_dir)]) == 0
    with start_hub_process(restored_dir) as restored:
        # Keys live in the database: the old hub's read key works on the restored one.
        stored = _all_ids(restored, old_read_key)
    assert before_backup <= stored
    assert stored <= set(acked)  # nothing invented
    assert len(stored) < len(acked)  # the copy is the state as of the backup, not of later writes


def test_restore_checks_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello\n" * 200)
    assert main(["restore", str(not_sqlite), "--data-dir", str(tmp_path / "a")]) == 1
    assert "not a SQLite database" in capsys.readouterr().err

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert main(["restore", str(other), "--data-dir", str(tmp_path / "b")]) == 1
    assert "not a pushlog database" in capsys.readouterr().err

    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    assert main(["restore", str(newer), "--data-dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "9999" in err and head_revision() in err
    assert not (tmp_path / "c" / "pushlog.db").exists()


def test_backup_refuses_postgresql_with_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://pushlog@127.0.0.1:5432/pushlog"
    assert main(["backup", str(tmp_path / "x.db"), "--db", url]) == 1
    assert "pg_dump" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "x.db"), "--data-dir", str(tmp_path / "none")]) == 1
    assert "no hub database" in capsys.readouterr().err
