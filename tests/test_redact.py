"""Redaction: sensitive keys and secret-looking values are masked before anything leaves the process."""

from __future__ import annotations

import logging

import pytest
from tests.conftest import StandInHub

from pushlog import Client, PushHandler
from pushlog._event import Event
from pushlog._redact import MASK, Redactor, luhn_ok


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "Secret",
        "api_key",
        "API-Key",
        "token",
        "refresh_token",
        "Authorization",
        "cookie",
        "set-cookie",
        "aws_access_key",
        "private_key",
        "client_credentials",
    ],
)
def test_sensitive_keys(key: str) -> None:
    redactor = Redactor()
    assert redactor.value({key: "s3cr3t-value", "user": "ada"}) == {key: MASK, "user": "ada"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auth: Bearer abcDEF123456.xyz", f"auth: {MASK}"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU ok", f"jwt {MASK} ok"),
        ("card 4111 1111 1111 1111 declined", f"card {MASK} declined"),
        ("card 4111-1111-1111-1111", f"card {MASK}"),
        ("card 4111111111111111", f"card {MASK}"),
        ("order 4111111111111112 shipped", "order 4111111111111112 shipped"),  # fails Luhn: kept
        ("login password=hunter22 ok", f"login password={MASK} ok"),
        ("url ?api_key=abcdef&x=1", f"url ?api_key={MASK}&x=1"),
        ("nothing to see, user 12345", "nothing to see, user 12345"),
    ],
)
def test_secret_values(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("5500005555555559")
    assert not luhn_ok("4111111111111112")


def test_configurable_extra_keys_patterns_and_off() -> None:
    custom = Redactor(keys=["ssn"], patterns=[r"ORD-\d+"])
    assert custom.value({"user_ssn": "123"}) == {"user_ssn": MASK}
    assert custom.text("ref ORD-991 done") == f"ref {MASK} done"
    off = Redactor(enabled=False)
    event = off.event(Event(title="password=hunter22", metadata={"password": "x"}))
    assert event.title == "password=hunter22" and event.metadata == {"password": "x"}
    with pytest.raises(ValueError, match="bad redact pattern"):
        Redactor(patterns=["("])


def test_nested_metadata_and_lists() -> None:
    redactor = Redactor()
    value = {
        "request": {"headers": {"Authorization": "Bearer abcdefghijkl"}, "items": ["4111 1111 1111 1111"]}
    }
    assert redactor.value(value) == {"request": {"headers": {"Authorization": MASK}, "items": [MASK]}}


def test_nothing_secret_reaches_the_hub(hub: StandInHub) -> None:
    client = Client(hub.dsn, linger=0.0, redact_keys="ssn", redact_patterns=[r"ORD-\d+"])
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.redact")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error(
            "login failed for token=abc123def456\nAuthorization: Bearer sk_live_abcdefghijkl",
            extra={"password": "hunter22", "ssn": "078-05-1120", "note": "card 4111 1111 1111 1111, ORD-77"},
        )
        assert client.flush(5)
    finally:
        logger.removeHandler(handler)
        client.close()
    (request,) = hub.requests
    raw = str(request["json"])
    for secret in ("abc123def456", "sk_live", "hunter22", "078-05-1120", "4111", "ORD-77"):
        assert secret not in raw
    (event,) = request["json"]["events"]
    assert event["title"] == f"login failed for token={MASK}"
    assert event["metadata"] == {"password": MASK, "ssn": MASK, "note": f"card {MASK}, {MASK}"}
