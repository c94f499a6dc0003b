"""Encryption reproduces RFC 8291 and the largest plaintext fits the 4096-byte limit
(cutting a push to that plaintext: tests/hub/delivery/test_fit.py)."""

from __future__ import annotations

import os

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher
from tests.support.push_service import Subscriber

from pushlog.hub.delivery.webpush import MAX_PLAINTEXT, SubscriptionKeyError, encrypt
from pushlog.hub.delivery.webpush._vapid import b64url, b64url_decode

# RFC 8291 Appendix A / Section 5 (https://www.rfc-editor.org/rfc/rfc8291).
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz"
    "AC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


def _private(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(b64), "big"), ec.SECP256R1())


def test_reproduces_rfc8291_appendix_a_byte_for_byte() -> None:
    body = encrypt(
        RFC_PLAINTEXT,
        p256dh=RFC_UA_PUBLIC,
        auth=RFC_AUTH,
        salt=b64url_decode(RFC_SALT),
        sender_key=_private(RFC_AS_PRIVATE),
    )
    assert b64url(body) == RFC_BODY


def test_the_rfc_user_agent_decrypts_our_body() -> None:
    ua = Subscriber(
        endpoint="https://push.example.net/x",
        private_key=_private(RFC_UA_PRIVATE),
        auth_secret=b64url_decode(RFC_AUTH),
    )
    assert ua.p256dh == RFC_UA_PUBLIC
    body = encrypt(b'{"title":"hi"}', p256dh=ua.p256dh, auth=ua.auth)
    assert ua.decrypt(body) == b'{"title":"hi"}'


def test_same_bytes_as_http_ece_for_the_same_salt_and_key() -> None:
    """The hub computes RFC 8291 itself; http_ece (what pywebpush uses) is the reference."""
    ua = Subscriber(endpoint="https://push.example.net/x")
    for size in (1, 100, MAX_PLAINTEXT):
        plaintext, salt, key = os.urandom(size), os.urandom(16), ec.generate_private_key(ec.SECP256R1())
        reference = http_ece.encrypt(
            plaintext,
            salt=salt,
            private_key=key,
            dh=b64url_decode(ua.p256dh),
            auth_secret=b64url_decode(ua.auth),
            version="aes128gcm",
        )
        assert encrypt(plaintext, p256dh=ua.p256dh, auth=ua.auth, salt=salt, sender_key=key) == reference


def test_every_message_uses_a_fresh_salt_and_ephemeral_key() -> None:
    ua = Subscriber(endpoint="https://push.example.net/x")
    first = encrypt(b"same", p256dh=ua.p256dh, auth=ua.auth)
    second = encrypt(b"same", p256dh=ua.p256dh, auth=ua.auth)
    assert first[:16] != second[:16]  # salt
    assert first[21:86] != second[21:86]  # ephemeral public key (the key id)
    assert ua.decrypt(first) == ua.decrypt(second) == b"same"


def test_same_wire_format_as_pywebpush_encode() -> None:
    """Our body and pywebpush's WebPusher.encode body have the same layout and both decrypt."""
    ua = Subscriber(endpoint="https://push.example.net/x")
    theirs = WebPusher(ua.subscription()).encode(b"payload", "aes128gcm")["body"]
    ours = encrypt(b"payload", p256dh=ua.p256dh, auth=ua.auth)
    assert len(ours) == len(theirs)
    assert ours[16:21] == theirs[16:21]  # record size 4096 and key id length 65
    assert ua.decrypt(ours) == ua.decrypt(theirs) == b"payload"


def test_largest_plaintext_is_exactly_4096_bytes_encrypted() -> None:
    ua = Subscriber(endpoint="https://push.example.net/x")
    assert MAX_PLAINTEXT == 3993
    assert len(encrypt(b"x" * MAX_PLAINTEXT, p256dh=ua.p256dh, auth=ua.auth)) == 4096
    with pytest.raises(ValueError, match="3993"):
        encrypt(b"x" * (MAX_PLAINTEXT + 1), p256dh=ua.p256dh, auth=ua.auth)


@pytest.mark.parametrize(
    ("p256dh", "auth", "message"),
    [
        ("BAAA", RFC_AUTH, "uncompressed P-256"),
        (RFC_UA_PUBLIC, "c2hvcnQ", "16 bytes"),
        ("not base64!*", RFC_AUTH, "base64url|uncompressed"),
        (b64url(b"\x04" + b"\x01" * 64), RFC_AUTH, "not a point on P-256"),
    ],
)
def test_bad_subscription_keys_are_refused_clearly(p256dh: str, auth: str, message: str) -> None:
    with pytest.raises(SubscriptionKeyError, match=message):
        encrypt(b"x", p256dh=p256dh, auth=auth)
