"""Device tokens at rest: AES-GCM sealed with the kind as associated data, keyed-HMAC lookups, key file."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from pushlog.hub.store.device_tokens import KEY_FILE, DeviceTokenKeyError, DeviceTokenVault, open_vault


def test_seal_and_open_round_trip_with_a_fresh_nonce_each_time() -> None:
    vault = DeviceTokenVault(secrets.token_bytes(32))
    first, second = vault.encrypt("fcm", "token-1"), vault.encrypt("fcm", "token-1")
    assert first != second and "token-1" not in first
    assert vault.decrypt("fcm", first) == vault.decrypt("fcm", second) == "token-1"


def test_a_ciphertext_moved_to_another_kind_or_key_does_not_open() -> None:
    vault = DeviceTokenVault(secrets.token_bytes(32))
    sealed = vault.encrypt("fcm", "token-1")
    with pytest.raises(DeviceTokenKeyError):
        vault.decrypt("apns", sealed)
    with pytest.raises(DeviceTokenKeyError):
        DeviceTokenVault(secrets.token_bytes(32)).decrypt("fcm", sealed)


def test_lookup_hash_is_stable_per_key_and_kind() -> None:
    master = secrets.token_bytes(32)
    vault, again, other = (
        DeviceTokenVault(master),
        DeviceTokenVault(master),
        DeviceTokenVault(secrets.token_bytes(32)),
    )
    assert vault.lookup_hash("fcm", "t") == again.lookup_hash("fcm", "t")
    assert vault.lookup_hash("fcm", "t") not in (
        vault.lookup_hash("apns", "t"),
        other.lookup_hash("fcm", "t"),
    )


def test_key_file_is_created_0600_once_and_an_env_key_wins(tmp_path: Path) -> None:
    vault = open_vault(tmp_path)
    path = tmp_path / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    sealed = vault.encrypt("apns", "ab" * 32)
    assert open_vault(tmp_path).decrypt("apns", sealed) == "ab" * 32
    given = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    other_dir = tmp_path / "other"
    with pytest.raises(DeviceTokenKeyError):
        open_vault(other_dir, given).decrypt("apns", sealed)
    assert not (other_dir / KEY_FILE).exists()
    with pytest.raises(DeviceTokenKeyError):
        open_vault(other_dir, "c2hvcnQ")  # 5 bytes
