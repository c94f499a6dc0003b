"""``pushlog keys create|list|revoke`` on the local data directory, beside a running hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.hub_server import ThreadHub, start_hub_thread, wait_until

from pushlog.cli import main
from pushlog.hub._keycache import KEY_CACHE_SECONDS


@pytest.fixture
def running(tmp_path: Path) -> Any:
    hub = start_hub_thread(tmp_path / "data")
    yield hub
    hub.stop()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_and_revoke_take_effect_on_the_running_hub(
    running: ThreadHub, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(running.data_dir)
    code, out, _ = cli(
        capsys, "keys", "create", "--name", "billing", "--scope", "publish", "--data-dir", data
    )
    assert code == 0
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("pl_publish_")
    key_id = out.split("key ", 1)[1].split(" ", 1)[0]

    with running.client(secret) as client:
        assert client.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 202

    code, out, _ = cli(capsys, "keys", "list", "--data-dir", data)
    assert code == 0
    assert key_id in out and "billing" in out and secret not in out

    code, out, _ = cli(capsys, "keys", "revoke", key_id, "--data-dir", data)
    assert code == 0 and "revoked" in out
    # Revoked outside the running hub (straight in the database): it keeps a found key for at most
    # KEY_CACHE_SECONDS (docs/hub.md), then refuses it.
    with running.client(secret) as client:
        wait_until(
            lambda: client.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 401,
            timeout=KEY_CACHE_SECONDS + 10,
            what="the revoked key refused",
        )

    code, out, _ = cli(capsys, "keys", "list", "--data-dir", data)
    assert key_id not in out
    code, out, _ = cli(capsys, "keys", "list", "--all", "--data-dir", data)
    assert "billing (revoked)" in out


def test_revoke_by_prefix(running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(running.data_dir)
    code, out, _ = cli(capsys, "keys", "create", "--name", "ci", "--data-dir", data)
    prefix = out.strip().splitlines()[-1][len("pl_publish_") :][:8]
    code, out, _ = cli(capsys, "keys", "revoke", prefix, "--data-dir", data)
    assert code == 0 and "ci" in out


def test_errors_are_one_line(tmp_path: Path, running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "keys", "list", "--data-dir", str(tmp_path / "empty"))
    assert code == 1
    assert err.startswith("pushlog: no hub database in") and err.count("\n") == 1
    code, _, err = cli(capsys, "keys", "revoke", "key_nope", "--data-dir", str(running.data_dir))
    assert code == 1
    assert err.startswith("pushlog: no key matches 'key_nope'") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "create", "--name", "x", "--scope", "root", "--data-dir", str(running.data_dir)])
    assert exit_info.value.code == 2


def _give_prefix(data_dir: Path, key_id: str, prefix: str) -> None:
    """Make a stored key look like one made before prefixes avoided a leading '-'."""
    import sqlalchemy as sa

    from pushlog.hub.store import create_engine
    from pushlog.hub.store._tables import keys

    engine = create_engine(f"sqlite:///{data_dir / 'pushlog.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(keys).where(keys.c.id == key_id).values(prefix=prefix))
    finally:
        engine.dispose()


@pytest.mark.parametrize("dash_first", [False, True], ids=["prefix-alone", "after-double-dash"])
def test_revoke_a_prefix_that_starts_with_a_dash(
    running: ThreadHub, capsys: pytest.CaptureFixture[str], dash_first: bool
) -> None:
    data = str(running.data_dir)
    _, out, _ = cli(capsys, "keys", "create", "--name", "old", "--data-dir", data)
    key_id = out.split("key ", 1)[1].split(" ", 1)[0]
    _give_prefix(running.data_dir, key_id, "-hC3dE9x")  # '-h' would also look like --help
    args = ["--data-dir", data, "--", "-hC3dE9x"] if dash_first else ["-hC3dE9x", "--data-dir", data]
    code, out, err = cli(capsys, "keys", "revoke", *args)
    assert (code, err) == (0, "")
    assert f"revoked publish key {key_id} (old)" in out


def test_new_key_prefixes_never_start_with_a_dash(
    running: ThreadHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushlog.hub.store import keys as key_store

    drawn = iter(["-" + "a" * 31, "-" + "b" * 31, "Zc" + "d" * 30])
    monkeypatch.setattr(key_store.secrets, "token_urlsafe", lambda n: next(drawn))
    code, out, _ = cli(capsys, "keys", "create", "--name", "fresh", "--data-dir", str(running.data_dir))
    assert code == 0
    assert out.strip().splitlines()[-1] == "pl_publish_Zc" + "d" * 30
    code, out, _ = cli(capsys, "keys", "list", "--data-dir", str(running.data_dir))
    assert "Zcdddddd" in out


def test_the_last_admin_key_is_not_revoked(running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "keys", "revoke", running.admin_key, "--data-dir", str(running.data_dir))
    assert code == 1
    assert "is the last admin key: create another admin key first" in err and err.count("\n") == 1
    with running.client(running.admin_key) as admin:
        assert admin.get("/v1/keys").status_code == 200
