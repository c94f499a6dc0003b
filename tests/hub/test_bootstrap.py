"""First-start bootstrap: secrets made once, bootstrap keys reused or replaced, files private."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from tests.support.clock import utc_clock

from pushlog.hub._bootstrap import bootstrap, vapid_public_key
from pushlog.hub.config import HubConfig
from pushlog.hub.store import keys as key_store


def test_bootstrap_is_idempotent(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    first = bootstrap(config)
    first.engine.dispose()
    second = bootstrap(config)
    second.engine.dispose()
    assert second.credentials == first.credentials
    assert second.secrets == first.secrets
    assert second.secrets.vapid_public_key == vapid_public_key(first.secrets.vapid_private_pem)
    assert stat.S_IMODE(config.credentials_path.stat().st_mode) == 0o600


def test_a_lost_credentials_file_gives_new_keys_and_keeps_the_old_ones_valid(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    first = bootstrap(config)
    first.engine.dispose()
    config.credentials_path.unlink()
    second = bootstrap(config, clock=utc_clock())
    try:
        assert second.credentials.publish != first.credentials.publish
        assert json.loads(config.credentials_path.read_text())["publish"] == second.credentials.publish
        with second.engine.connect() as conn:
            old = key_store.find_by_secret(conn, first.credentials.publish)
            assert old is not None and old.revoked_at is None
    finally:
        second.engine.dispose()


def test_a_revoked_bootstrap_key_is_replaced_on_the_next_start(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    first = bootstrap(config)
    clock = utc_clock()
    with first.engine.begin() as conn:
        record = key_store.find_by_secret(conn, first.credentials.publish)  # (the admin key is the last one)
        assert record is not None
        key_store.revoke_key(conn, record.id, now=clock())
    first.engine.dispose()
    second = bootstrap(config)
    second.engine.dispose()
    assert second.credentials.publish != first.credentials.publish


def test_a_corrupt_credentials_file_is_replaced(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    bootstrap(config).engine.dispose()
    config.credentials_path.write_text("{not json")
    again = bootstrap(config)
    again.engine.dispose()
    assert json.loads(config.credentials_path.read_text())["admin"] == again.credentials.admin


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_shm_and_credentials_are_0600_even_with_the_db_outside_the_data_dir(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "shared-volume"
    elsewhere.mkdir(mode=0o755)
    db = elsewhere / "new" / "hub.db"  # a directory that does not exist yet
    config = HubConfig(data_dir=tmp_path / "d", db_url=f"sqlite:///{db}")
    ready = bootstrap(config)
    try:
        with ready.engine.connect() as conn:  # the WAL and SHM exist while a connection is open
            conn.exec_driver_sql("SELECT count(*) FROM keys").scalar()
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), config.credentials_path]
            assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        ready.engine.dispose()
    assert _mode(config.data_dir) == 0o700
    assert _mode(db.parent) == 0o700
    assert _mode(elsewhere) == 0o755  # existing directories are left as they are


def test_an_existing_open_data_dir_is_left_as_it_is_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    data.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="pushlog.hub"):
        bootstrap(HubConfig(data_dir=data)).engine.dispose()
    assert _mode(data) == 0o755
    assert any(
        "accessible to other users (mode 0755)" in r.getMessage() and str(data) in r.getMessage()
        for r in caplog.records
    )


def test_a_private_existing_data_dir_gives_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    with caplog.at_level(logging.WARNING, logger="pushlog.hub"):
        bootstrap(HubConfig(data_dir=data)).engine.dispose()
        bootstrap(HubConfig(data_dir=data)).engine.dispose()  # the database exists now: still quiet
    assert [r.getMessage() for r in caplog.records if r.name == "pushlog.hub"] == []


def test_a_stale_open_temp_file_does_not_leak_its_mode_to_the_credentials(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    config.data_dir.mkdir(mode=0o700)
    stale = config.credentials_path.with_suffix(".tmp")
    stale.write_text("old")
    stale.chmod(0o644)
    bootstrap(config).engine.dispose()
    assert _mode(config.credentials_path) == 0o600


def test_an_open_credentials_file_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    bootstrap(config).engine.dispose()
    config.credentials_path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="pushlog.hub"):
        bootstrap(config).engine.dispose()
    assert any("credentials file" in r.getMessage() and "mode 0644" in r.getMessage() for r in caplog.records)
