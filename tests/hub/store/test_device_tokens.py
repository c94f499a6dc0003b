"""Device tokens at rest: AES-GCM sealed with the kind as associated data, keyed-HMAC lookups, key file,
key rotation (several keys, current first)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from pushlog.hub.store.device_tokens import (
    KEY_FILE,
    DeviceTokenKeyError,
    DeviceTokenVault,
    add_key,
    load_vault,
    new_key,
    open_vault,
    parse_keys,
    retire_old_keys,
)


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


def _legacy_seal(master: bytes, kind: str, token: str) -> str:
    """A token as the vault sealed it before key ids: ``v1.`` + nonce || ciphertext."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"pushlog device token encryption v1")
    nonce = secrets.token_bytes(12)
    raw = nonce + AESGCM(key.derive(master)).encrypt(nonce, token.encode(), kind.encode())
    return "v1." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_rotation_keeps_older_keys_for_opening_and_lookups() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    before = DeviceTokenVault(old)
    rotated = DeviceTokenVault(new, old)
    sealed_before, legacy = before.encrypt("fcm", "t"), _legacy_seal(old, "fcm", "t")
    assert rotated.decrypt("fcm", sealed_before) == rotated.decrypt("fcm", legacy) == "t"
    assert rotated.encrypt("fcm", "t").startswith(rotated.current_prefix)
    assert not sealed_before.startswith(rotated.current_prefix)
    assert rotated.lookup_hashes("fcm", "t") == [
        rotated.lookup_hash("fcm", "t"),
        before.lookup_hash("fcm", "t"),
    ]
    with pytest.raises(DeviceTokenKeyError, match="sealed with key"):
        DeviceTokenVault(new).decrypt("fcm", sealed_before)  # the old key retired


def test_keys_parse_from_the_env_form_and_the_file_form() -> None:
    a, b = new_key(), new_key()
    assert parse_keys(f"{a},{b}") == parse_keys(f"{a}\n{b}\n") == [_b64(a), _b64(b)]
    with pytest.raises(DeviceTokenKeyError):
        parse_keys(" \n")
    with pytest.raises(DeviceTokenKeyError):
        DeviceTokenVault(*parse_keys("c2hvcnQ"))  # not 32 bytes


def test_add_and_retire_keys_in_the_key_file(tmp_path: Path) -> None:
    first = load_vault(tmp_path)
    new_id = add_key(tmp_path)
    both = load_vault(tmp_path)
    assert both.key_id == new_id != first.key_id
    assert both.decrypt("apns", first.encrypt("apns", "x")) == "x"
    assert retire_old_keys(tmp_path) == 1
    assert load_vault(tmp_path, create=False).key_id == new_id
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(DeviceTokenKeyError, match="no device token key"):
        load_vault(tmp_path / "elsewhere", create=False)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
