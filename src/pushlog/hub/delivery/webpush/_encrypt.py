"""Web Push message encryption (RFC 8291, aes128gcm from RFC 8188) and fitting the 4096-byte limit.

:func:`encrypt` is the one encryption path: it calls ``http_ece.encrypt`` exactly as pywebpush's
``WebPusher.encode`` does for ``aes128gcm`` (a fresh ephemeral P-256 key per message, a random 16-byte
salt, one record of 4096 bytes), and additionally lets tests pin the salt and the ephemeral key so the
RFC 8291 Appendix A vector can be reproduced byte for byte.

A push service refuses bodies over 4096 bytes (413). With one aes128gcm record the header takes
86 bytes (salt 16, record size 4, key id length 1, key id 65) and the record adds a delimiter byte and
a 16-byte tag, so at most :data:`MAX_PLAINTEXT` = 3993 bytes of plaintext fit (``_payload.render``
fits the push to it).
"""

from __future__ import annotations

import os
from typing import Final

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from ._vapid import b64url_decode

MAX_BODY_BYTES: Final = 4096
HEADER_BYTES: Final = 16 + 4 + 1 + 65
RECORD_OVERHEAD: Final = 1 + 16
MAX_PLAINTEXT: Final = MAX_BODY_BYTES - HEADER_BYTES - RECORD_OVERHEAD  # 3993


__all__ = ["MAX_PLAINTEXT", "SubscriptionKeyError", "encrypt", "parse_keys"]


class SubscriptionKeyError(ValueError):
    """The subscription's p256dh or auth value is not a valid Web Push key."""


def parse_keys(p256dh: str, auth: str) -> tuple[bytes, bytes]:
    """Decode and check a subscription's keys: a 65-byte uncompressed P-256 point and a 16-byte secret."""
    try:
        receiver = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except (ValueError, TypeError) as exc:
        raise SubscriptionKeyError(f"subscription keys are not base64url: {exc}") from None
    if len(receiver) != 65 or receiver[0] != 4:
        raise SubscriptionKeyError("p256dh must be an uncompressed P-256 point (65 bytes, 0x04 first)")
    if len(secret) != 16:
        raise SubscriptionKeyError(f"auth must be 16 bytes, got {len(secret)}")
    return receiver, secret


def encrypt(
    plaintext: bytes,
    *,
    p256dh: str,
    auth: str,
    salt: bytes | None = None,
    sender_key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """Encrypt ``plaintext`` for a subscription: the complete aes128gcm request body.

    ``salt`` and ``sender_key`` are for test vectors only; production leaves them out so each
    message gets a fresh random salt and a fresh ephemeral key.
    """
    if not plaintext:
        raise ValueError("nothing to encrypt: Web Push payloads carry at least one byte")
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"plaintext is {len(plaintext)} bytes; at most {MAX_PLAINTEXT} fit one push")
    receiver, secret = parse_keys(p256dh, auth)
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=salt if salt is not None else os.urandom(16),
        private_key=sender_key if sender_key is not None else ec.generate_private_key(ec.SECP256R1()),
        dh=receiver,
        auth_secret=secret,
        version="aes128gcm",
    )
    return body
