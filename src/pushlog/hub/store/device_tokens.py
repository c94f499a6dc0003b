"""Native device tokens at rest: AES-GCM encrypted, looked up by a keyed HMAC, never stored in plaintext.

An FCM registration token or APNs device token lets anyone holding it (and the app's credentials)
push to that phone, so the ``devices`` table keeps only:

* ``token``: ``v1.<base64url(nonce || AES-256-GCM ciphertext+tag)>``, the token encrypted with a
  random 96-bit nonce and the device kind as associated data (a ciphertext moved to another kind does
  not decrypt);
* ``token_hash``: HMAC-SHA256 of ``kind:token`` (hex), unique: registering the same token again finds
  its row without decrypting every row, and a database copy without the key reveals nothing.

Both keys are derived (HKDF-SHA256, distinct ``info``) from one 32-byte master key: the
``PUSHLOG_DEVICE_TOKEN_KEY`` environment variable (base64url, given to the hub as
``HubConfig.device_token_key``) or else the file :data:`KEY_FILE` in the data dir, created on first use
with mode 0600. Losing the key makes stored tokens unreadable (devices must register again).
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
_PREFIX: Final = "v1."


class DeviceTokenKeyError(ValueError):
    """The master key is missing, malformed, or does not decrypt a stored token."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class DeviceTokenVault:
    """Encrypts, decrypts and hashes device tokens with keys derived from one master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise DeviceTokenKeyError("the device token key must be 32 bytes (base64url)")
        self._aead = AESGCM(_derive(master, b"pushlog device token encryption v1"))
        self._mac = _derive(master, b"pushlog device token lookup v1")

    def lookup_hash(self, kind: str, token: str) -> str:
        return hmac.new(self._mac, f"{kind}:{token}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, kind: str, token: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, token.encode("utf-8"), kind.encode())
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, kind: str, stored: str) -> str:
        if not stored.startswith(_PREFIX):
            raise DeviceTokenKeyError("not an encrypted device token")
        try:
            raw = _b64d(stored[len(_PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], kind.encode()).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            raise DeviceTokenKeyError("the device token does not decrypt with this hub's key") from None


def _read_or_create(path: Path) -> bytes:
    try:
        return _b64d(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    master = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _b64d(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(base64.urlsafe_b64encode(master).rstrip(b"=").decode("ascii") + "\n")
    return master


@functools.cache
def _vault(data_dir: Path, key: str | None) -> DeviceTokenVault:
    try:
        master = _b64d(key) if key else _read_or_create(data_dir / KEY_FILE)
    except (ValueError, binascii.Error) as exc:
        raise DeviceTokenKeyError(f"the device token key is not base64url: {exc}") from None
    return DeviceTokenVault(master)


def open_vault(data_dir: Path, key: str | None = None) -> DeviceTokenVault:
    """The vault for a hub: ``key`` (base64url) when given, else the data dir's key file (created 0600).

    One instance per (data dir, key) in the process, shared by the API and the dispatcher.
    """
    return _vault(Path(data_dir).resolve(), key)
