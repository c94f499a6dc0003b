"""Every push-service status code maps to the right outcome; Retry-After in both forms."""

from __future__ import annotations

import email.utils

import pytest

from pushlog.hub.delivery._base import Outcome
from pushlog.hub.delivery.webpush import classify, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "outcome", "detail"),
    [
        (201, Outcome.SENT, ""),
        (200, Outcome.SENT, ""),
        (404, Outcome.GONE, "expired"),
        (410, Outcome.GONE, "expired"),
        (413, Outcome.FAILED, "too large"),
        (429, Outcome.RETRY, "rate limited"),
        (500, Outcome.RETRY, "500"),
        (502, Outcome.RETRY, "502"),
        (503, Outcome.RETRY, "503"),
        (400, Outcome.FAILED, "rejected the request"),
        (401, Outcome.FAILED, "VAPID"),
        (403, Outcome.FAILED, "VAPID"),
        (418, Outcome.FAILED, "unexpected status 418"),
    ],
)
def test_status_mapping(status: int, outcome: Outcome, detail: str) -> None:
    result = classify(status, {}, "", now=lambda: NOW)
    assert result.outcome is outcome
    assert result.status == status
    assert detail in result.detail


def test_detail_carries_what_the_service_said_on_one_line() -> None:
    result = classify(403, {}, '{"reason":\n "BadJwtToken"}', now=lambda: NOW)
    assert result.detail.endswith('{"reason": "BadJwtToken"}')


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds(status: int) -> None:
    result = classify(status, {"retry-after": "120"}, "", now=lambda: NOW)
    assert result.retry_after == 120.0


def test_retry_after_http_date() -> None:
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    result = classify(503, {"retry-after": date}, "", now=lambda: NOW)
    assert result.retry_after == pytest.approx(90.0)


@pytest.mark.parametrize("value", [None, "", "soon", "-5"])
def test_unusable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, now=lambda: NOW) is None


def test_retry_after_date_in_the_past_is_zero() -> None:
    assert parse_retry_after(email.utils.formatdate(NOW - 60, usegmt=True), now=lambda: NOW) == 0.0
