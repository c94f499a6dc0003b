"""``pushlog devices list|remove`` on the local data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.hub_server import start_hub_thread

from pushlog.cli import main

P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"


def test_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running = start_hub_thread(tmp_path / "data", allow_private_endpoints=True)
    try:
        with running.client(running.read_key) as client:
            device = client.post(
                "/v1/devices",
                json={
                    "name": "my phone",
                    "preferences": {"min_level": "error", "channels": ["ops", "db"]},
                    "subscription": {
                        "endpoint": "http://127.0.0.1:9/push/1",
                        "keys": {"p256dh": P256DH, "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
                    },
                },
            ).json()
        data = str(running.data_dir)
        assert main(["devices", "list", "--data-dir", data]) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if line.startswith(device["id"]))
        assert (
            "webpush" in row
            and "error" in row
            and "ops,db" in row
            and "127.0.0.1" in row
            and "my phone" in row
        )

        assert main(["devices", "remove", device["id"], "--data-dir", data]) == 0
        assert "removed" in capsys.readouterr().out
        with running.client(running.read_key) as client:
            assert client.get("/v1/devices").json()["devices"] == []

        assert main(["devices", "remove", device["id"], "--data-dir", data]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"pushlog: no device with id '{device['id']}'") and err.count("\n") == 1
    finally:
        running.stop()
