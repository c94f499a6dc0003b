"""Receipt tokens: proof that a request about a delivery comes from the device that got the push.

The delivery side puts ``make_token(secret, delivery_id)`` in each push payload; the service worker
sends it back with "delivered"/"opened" receipts and with "acknowledge" from a notification action.
A token is HMAC-SHA256 over the delivery id, base64url without padding. The secret lives in the
``settings`` table (:data:`pushlog.hub.store.settings.RECEIPT_SECRET`).
"""

from __future__ import annotations

import base64
import hmac


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def make_token(secret: str | bytes, delivery_id: str) -> str:
    """The receipt token for ``delivery_id``."""
    # hmac.digest: the one-shot C path, a few times cheaper than an HMAC object per delivery.
    digest = hmac.digest(_key(secret), b"pushlog-receipt:" + delivery_id.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_token(secret: str | bytes, delivery_id: str, token: object) -> bool:
    """Whether ``token`` is the receipt token for ``delivery_id`` (constant-time compare)."""
    if not isinstance(token, str) or not token or not token.isascii():
        return False  # compare_digest raises TypeError on non-ASCII text; every token we make is ASCII
    return hmac.compare_digest(make_token(secret, delivery_id), token)
