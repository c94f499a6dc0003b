"""Device secrets at rest: AES-GCM encrypted, looked up by a keyed HMAC, never stored in plaintext.

An FCM registration token or APNs device token lets anyone holding it (and the app's credentials)
push to that phone; a Web Push subscription's endpoint URL is likewise a capability, and its
``p256dh``/``auth`` keys are what its pushes are encrypted to. The ``devices`` table keeps only:

* ``token`` (FCM/APNs), ``endpoint``, ``p256dh``, ``auth`` (Web Push): ``v2.<key id>.<base64url(nonce ||
  AES-256-GCM ciphertext+tag)>``, encrypted with a random 96-bit nonce and associated data naming what
  the value is (the device kind for tokens, ``webpush:endpoint`` etc.), so a ciphertext moved to
  another column or kind does not decrypt. ``<key id>`` names the master key that sealed it
  (``v1.<...>``, written before key rotation existed, carries none: every key is tried);
* ``token_hash``: HMAC-SHA256 of ``kind:token`` (for Web Push ``webpush:<endpoint>``), hex, unique:
  registering the same token again finds its row without decrypting every row, and a database copy
  without the key reveals nothing.

Both keys are derived (HKDF-SHA256, distinct ``info``) from a 32-byte master key: the
``PUSHLOG_DEVICE_TOKEN_KEY`` environment variable (base64url, given to the hub as
``HubConfig.device_token_key``) or else the file :data:`KEY_FILE` in the data dir, created on first use
with mode 0600. Losing the key makes stored tokens unreadable (devices must register again).

Rotation: the env var (comma-separated) or the key file (one key per line) may hold several keys, the
current one first. Values sealed by any of them decrypt; new values are sealed with the current key;
lookups try each key's hash (:meth:`DeviceTokenVault.lookup_hashes`); and ``store/devices.reseal``
re-encrypts and re-hashes every row not yet under the current key (the hub runs it at start,
``pushlog devices rekey`` on demand), after which the old keys can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE: Final = "device-token.key"
KEY_ENV: Final = "PUSHLOG_DEVICE_TOKEN_KEY"
_LEGACY: Final = "v1."
_SEALED: Final = "v2."


class DeviceTokenKeyError(ValueError):
    """The master key is missing, malformed, or does not decrypt a stored token."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def is_sealed(stored: str | None) -> bool:
    """Whether a stored value is a ciphertext of this module (else plaintext from before encryption)."""
    return stored is not None and stored.startswith((_LEGACY, _SEALED))


class _Key:
    """One master key's derived AEAD, lookup MAC and public id."""

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise DeviceTokenKeyError("the device token key must be 32 bytes (base64url)")
        self.aead = AESGCM(_derive(master, b"pushlog device token encryption v1"))
        self.mac = _derive(master, b"pushlog device token lookup v1")
        self.id = _derive(master, b"pushlog device token key id v1").hex()[:8]


class DeviceTokenVault:
    """Encrypts, decrypts and hashes device secrets with keys derived from master keys (current first)."""

    def __init__(self, master: bytes, *older: bytes) -> None:
        self._keys = [_Key(m) for m in (master, *older)]
        self._by_id = {key.id: key for key in reversed(self._keys)}
        self.key_id = self._keys[0].id
        #: The prefix of every value sealed with the current key (what :func:`reseal` leaves alone).
        self.current_prefix = f"{_SEALED}{self.key_id}."

    def lookup_hash(self, kind: str, token: str) -> str:
        """The lookup hash under the current key (what is stored)."""
        return self._hash(self._keys[0], kind, token)

    def lookup_hashes(self, kind: str, token: str) -> list[str]:
        """The lookup hash under every key, current first: a row not yet re-hashed is still found."""
        return [self._hash(key, kind, token) for key in self._keys]

    @staticmethod
    def _hash(key: _Key, kind: str, token: str) -> str:
        return hmac.new(key.mac, f"{kind}:{token}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, kind: str, token: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._keys[0].aead.encrypt(nonce, token.encode("utf-8"), kind.encode())
        return self.current_prefix + _b64e(nonce + sealed)

    def decrypt(self, kind: str, stored: str) -> str:
        if stored.startswith(_SEALED):
            key_id, _, body = stored[len(_SEALED) :].partition(".")
            key = self._by_id.get(key_id)
            if key is None:
                raise DeviceTokenKeyError(
                    f"the device token was sealed with key {key_id}, which this hub lacks"
                )
            candidates = [key]
        elif stored.startswith(_LEGACY):
            body, candidates = stored[len(_LEGACY) :], self._keys
        else:
            raise DeviceTokenKeyError("not an encrypted device token")
        for key in candidates:
            try:
                raw = _b64d(body)
                return key.aead.decrypt(raw[:12], raw[12:], kind.encode()).decode("utf-8")
            except (InvalidTag, ValueError, binascii.Error):
                continue
        raise DeviceTokenKeyError("the device token does not decrypt with this hub's key")


def parse_keys(text: str) -> list[bytes]:
    """Master keys from the env var (comma-separated) or the key file (one per line), current first."""
    try:
        keys = [_b64d(part) for part in text.replace(",", "\n").split() if part]
    except (ValueError, binascii.Error) as exc:
        raise DeviceTokenKeyError(f"the device token key is not base64url: {exc}") from None
    if not keys:
        raise DeviceTokenKeyError("no device token key given")
    return keys


def new_key() -> str:
    """A fresh master key, base64url (what the key file and the env var hold)."""
    return _b64e(secrets.token_bytes(32))


def _read_or_create(path: Path) -> list[bytes]:
    try:
        return parse_keys(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    master = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return parse_keys(path.read_text(encoding="ascii"))
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(master + "\n")
    return parse_keys(master)


def load_vault(data_dir: Path, key: str | None = None, *, create: bool = True) -> DeviceTokenVault:
    """The vault from ``key`` (the env var's text) when given, else the data dir's key file (created 0600
    when ``create``; else a missing file is a :class:`DeviceTokenKeyError`). Not cached."""
    if key:
        keys = parse_keys(key)
    elif create:
        keys = _read_or_create(Path(data_dir) / KEY_FILE)
    else:
        try:
            keys = parse_keys((Path(data_dir) / KEY_FILE).read_text(encoding="ascii"))
        except FileNotFoundError:
            raise DeviceTokenKeyError(
                f"no device token key: neither {KEY_ENV} nor {Path(data_dir) / KEY_FILE}"
            ) from None
    return DeviceTokenVault(*keys)


@functools.cache
def _vault(data_dir: Path, key: str | None) -> DeviceTokenVault:
    return load_vault(data_dir, key)


def open_vault(data_dir: Path, key: str | None = None) -> DeviceTokenVault:
    """The vault for a hub: ``key`` (base64url, several comma-separated: current first) when given, else
    the data dir's key file (created 0600).

    One instance per (data dir, key) in the process, shared by the API and the dispatcher.
    """
    return _vault(Path(data_dir).resolve(), key)


def add_key(data_dir: Path) -> str:
    """Put a fresh key first in the data dir's key file (the older ones stay, for decryption); its id."""
    path = Path(data_dir) / KEY_FILE
    old = _read_or_create(path)
    fresh = new_key()
    _write_keys(path, [fresh, *(_b64e(k) for k in old)])
    _vault.cache_clear()
    return DeviceTokenVault(_b64d(fresh)).key_id


def retire_old_keys(data_dir: Path) -> int:
    """Keep only the current (first) key in the data dir's key file; how many were dropped."""
    path = Path(data_dir) / KEY_FILE
    keys = parse_keys(path.read_text(encoding="ascii"))
    _write_keys(path, [_b64e(keys[0])])
    _vault.cache_clear()
    return len(keys) - 1


def _write_keys(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically (mode 0600)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write("".join(k + "\n" for k in keys))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
