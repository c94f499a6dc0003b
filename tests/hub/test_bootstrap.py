"""First-start bootstrap: secrets made once, bootstrap keys reused or replaced, files private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

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
        record = key_store.find_by_secret(conn, first.credentials.admin)
        assert record is not None
        key_store.revoke_key(conn, record.id, now=clock())
    first.engine.dispose()
    second = bootstrap(config)
    second.engine.dispose()
    assert second.credentials.admin != first.credentials.admin


def test_a_corrupt_credentials_file_is_replaced(tmp_path: Path) -> None:
    config = HubConfig(data_dir=tmp_path / "d")
    bootstrap(config).engine.dispose()
    config.credentials_path.write_text("{not json")
    again = bootstrap(config)
    again.engine.dispose()
    assert json.loads(config.credentials_path.read_text())["admin"] == again.credentials.admin
