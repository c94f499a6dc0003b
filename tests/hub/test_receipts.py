"""Receipt tokens: HMAC-SHA256 over the delivery id, base64url, verified in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

from pushlog.hub.receipts import make_token, verify_token


def test_token_is_base64url_hmac_sha256_of_the_delivery_id() -> None:
    token = make_token("s3cret", "dl_1")
    digest = hmac.new(b"s3cret", b"pushlog-receipt:dl_1", hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(token + "=") == digest
    assert "=" not in token and "+" not in token and "/" not in token


def test_verify_accepts_only_the_matching_token() -> None:
    token = make_token("s3cret", "dl_1")
    assert verify_token("s3cret", "dl_1", token)
    assert verify_token(b"s3cret", "dl_1", token)
    assert not verify_token("s3cret", "dl_2", token)
    assert not verify_token("other", "dl_1", token)
    assert not verify_token("s3cret", "dl_1", None)
    assert not verify_token("s3cret", "dl_1", "")
    assert not verify_token("s3cret", "dl_1", token[:-1])
