"""Signed preference links: an app shows its user a URL that opens that user's preferences with no key.

A token is ``<payload>.<signature>``: the payload is base64url JSON ``{"u": user_id, "e": expiry
(Unix seconds)}``, the signature HMAC-SHA256 over the payload text with a key derived from the hub's
secret (the one receipt tokens use, under its own label, so a receipt token never passes as a link
and the reverse). Anyone holding the link may read and change that user's preferences until it
expires; nothing else.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import json
from typing import Final

_LABEL: Final = b"pushlog preference link v1"


class LinkError(ValueError):
    """The token is malformed, tampered with (``code`` invalid_link) or expired (``link_expired``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    key = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def make_link_token(secret: str, user_id: str, *, expires_at: _dt.datetime) -> str:
    """A token for ``user_id`` valid until ``expires_at``."""
    payload = _b64(
        json.dumps({"u": user_id, "e": int(expires_at.timestamp())}, separators=(",", ":")).encode()
    )
    return f"{payload}.{_signature(secret, payload)}"


def verify_link_token(secret: str, token: str, *, now: _dt.datetime) -> str:
    """The user id the token was made for; :class:`LinkError` if it is not one of ours or expired."""
    payload, dot, signature = token.partition(".")
    if not dot or not token.isascii() or not hmac.compare_digest(_signature(secret, payload), signature):
        raise LinkError("invalid_link", "this preference link is not valid")
    try:
        claims = json.loads(_unb64(payload))
        user_id, expiry = claims["u"], claims["e"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise LinkError("invalid_link", "this preference link is not valid") from None
    if not isinstance(user_id, str) or not isinstance(expiry, int):
        raise LinkError("invalid_link", "this preference link is not valid")
    if now.timestamp() >= expiry:
        raise LinkError("link_expired", "this preference link has expired; ask the app for a new one")
    return user_id
