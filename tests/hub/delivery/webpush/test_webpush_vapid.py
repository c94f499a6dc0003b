"""VAPID headers checked by an independent verifier; tokens cached per origin and renewed in time."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.support.clock import FakeClock
from tests.support.push_service import VapidError, verify_vapid

from pushlog.hub.delivery.webpush import VapidSigner, generate_vapid_keys, origin_of, public_key_b64
from pushlog.hub.delivery.webpush._vapid import b64url

NOW = 1_800_000_000.0


def test_generated_key_is_p256_and_public_key_is_the_uncompressed_point() -> None:
    pem = generate_vapid_keys()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert public_key_b64(pem) == b64url(raw)
    assert len(raw) == 65


def test_header_verifies_independently_with_aud_exp_sub() -> None:
    pem = generate_vapid_keys()
    signer = VapidSigner(pem, "mailto:ops@example.com", clock=FakeClock(NOW))
    header = signer.authorization("https://updates.push.services.mozilla.com/wpush/v2/abc")
    checked = verify_vapid(header, audience="https://updates.push.services.mozilla.com", now=NOW)
    assert checked["public_key"] == public_key_b64(pem)
    assert checked["header"] == {"typ": "JWT", "alg": "ES256"}
    claims = checked["claims"]
    assert claims["sub"] == "mailto:ops@example.com"
    assert NOW < claims["exp"] <= NOW + 12 * 3600


def test_a_different_key_does_not_verify() -> None:
    signer = VapidSigner(generate_vapid_keys(), "mailto:ops@example.com", clock=FakeClock(NOW))
    header = signer.authorization("https://push.example.net/x")
    other = public_key_b64(generate_vapid_keys())
    forged = header.rsplit("k=", 1)[0] + "k=" + other
    with pytest.raises(VapidError, match="does not verify"):
        verify_vapid(forged, audience="https://push.example.net", now=NOW)


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://web.push.apple.com:443/QGx", "https://web.push.apple.com"),
        ("http://127.0.0.1:8123/push/1?x=y", "http://127.0.0.1:8123"),
        ("https://Push.Example.net:8443/a", "https://push.example.net:8443"),
    ],
)
def test_aud_is_the_endpoint_origin(endpoint: str, origin: str) -> None:
    assert origin_of(endpoint) == origin
    signer = VapidSigner(generate_vapid_keys(), "https://example.com/contact", clock=FakeClock(NOW))
    claims = verify_vapid(signer.authorization(endpoint), audience=origin, now=NOW)["claims"]
    assert claims["aud"] == origin


def test_tokens_are_cached_per_origin_and_renewed_before_expiry() -> None:
    clock = FakeClock(NOW)
    signer = VapidSigner(generate_vapid_keys(), "mailto:ops@example.com", lifetime=3600, clock=clock)
    a1 = signer.authorization("https://a.example/1")
    assert signer.authorization("https://a.example/2") == a1  # same origin: cached
    b1 = signer.authorization("https://b.example/1")
    assert b1 != a1
    assert signer.tokens_signed == 2
    clock.advance(2000)  # 1600 s left of 3600: still more than a quarter
    assert signer.authorization("https://a.example/3") == a1
    clock.advance(800)  # 800 s left: less than a quarter, renew
    a2 = signer.authorization("https://a.example/3")
    assert a2 != a1
    assert signer.tokens_signed == 3
    claims = verify_vapid(a2, audience="https://a.example", now=clock())["claims"]
    assert claims["exp"] == int(clock()) + 3600


@pytest.mark.parametrize(
    "subject", ["ops@example.com", "mailto:", "mailto:ops @example.com", "http://x.example"]
)
def test_invalid_subject_is_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        VapidSigner(generate_vapid_keys(), subject)


def test_lifetime_over_12_hours_is_refused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        VapidSigner(generate_vapid_keys(), "mailto:a@b.c", lifetime=13 * 3600)


def test_non_p256_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError, match="P-256"):
        public_key_b64(pem)
