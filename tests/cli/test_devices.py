"""``pushlog devices list|remove|rekey`` (and ``keys create --scope users``) on the local data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, start_hub_thread

from pushlog.cli import main
from pushlog.hub.store.device_tokens import KEY_ENV, KEY_FILE, new_key

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


def _register(running: ThreadHub, key: str, endpoint: str, **fields: Any) -> dict[str, Any]:
    with running.client(key) as client:
        answer = client.post("/v1/devices", json={"subscription": subscription(endpoint), **fields})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_list_by_kind_and_user_and_a_users_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running = start_hub_thread(tmp_path / "data", allow_private_endpoints=True)
    try:
        data = str(running.data_dir)
        assert main(["keys", "create", "--name", "app", "--scope", "users", "--data-dir", data]) == 0
        users_key = next(w for w in capsys.readouterr().out.split() if w.startswith("pl_users_"))
        team = _register(running, running.read_key, "http://127.0.0.1:9/team")
        alice = _register(running, users_key, "http://127.0.0.1:9/a", user_id="alice", platform="web")
        bob = _register(running, users_key, "http://127.0.0.1:9/b", user_id="bob")

        def listed(*args: str) -> set[str]:
            assert main(["devices", "list", *args, "--data-dir", data]) == 0
            return {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}

        assert listed() == {team["id"], alice["id"], bob["id"]}
        assert listed("--kind", "team") == {team["id"]}
        assert listed("--kind", "users") == {alice["id"], bob["id"]}
        assert listed("--user", "alice") == {alice["id"]}
        assert listed("--kind", "fcm") == set()
    finally:
        running.stop()


def test_rekey_rotates_the_device_key_and_retires_the_old_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    running = start_hub_thread(data_dir, allow_private_endpoints=True)
    device = _register(running, running.read_key, "http://127.0.0.1:9/push/1")
    assert main(["devices", "rekey", "--new-key", "--data-dir", str(data_dir)]) == 1
    assert "a hub is running" in capsys.readouterr().err
    running.stop()
    old_key = (data_dir / KEY_FILE).read_text()

    assert main(["devices", "rekey", "--new-key", "--retire", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "re-encrypted 1 devices" in out and "dropped 1 older keys" in out
    keys = (data_dir / KEY_FILE).read_text().split()
    assert len(keys) == 1 and keys[0] not in old_key
    assert (data_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600

    running = start_hub_thread(data_dir, allow_private_endpoints=True)  # only the new key now
    try:
        with running.client(running.read_key) as client:
            (listed,) = client.get("/v1/devices").json()["devices"]
        assert (listed["id"], listed["endpoint"]) == (device["id"], "http://127.0.0.1:9/push/1")
        refreshed = _register_again(running, "http://127.0.0.1:9/push/1")
        assert refreshed == device["id"]  # found by its re-hashed lookup
    finally:
        running.stop()


def _register_again(running: ThreadHub, endpoint: str) -> str:
    with running.client(running.read_key) as client:
        answer = client.post("/v1/devices", json={"subscription": subscription(endpoint)})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_rekey_refuses_to_rotate_a_key_given_by_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_hub_thread(tmp_path / "data", allow_private_endpoints=True)
    running.stop()
    monkeypatch.setenv(KEY_ENV, new_key())
    assert main(["devices", "rekey", "--new-key", "--data-dir", str(tmp_path / "data")]) == 1
    assert KEY_ENV in capsys.readouterr().err
