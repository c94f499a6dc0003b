"""What an APNs answer means for the delivery.

APNs answers errors as ``{"reason": "...", "timestamp": <ms>}`` (the timestamp only with 410). The
table:

* 200 -> ``SENT``;
* 410 Unregistered / ExpiredToken -> ``GONE``, unless the device registered its token again after
  the returned timestamp (then ``FAILED`` for this message and the device stays);
* 400 BadDeviceToken -> ``FAILED`` with a detail that names the likely cause: a sandbox token sent to
  production or the reverse (``--apns-environment``); the device stays, a wrong environment is not a
  dead token;
* 413 PayloadTooLarge -> ``FAILED``, never retried (it will not shrink);
* 429 TooManyRequests and TooManyProviderTokenUpdates, 500, 503 -> ``RETRY`` honouring Retry-After;
* 403 ExpiredProviderToken is renewed once by the sender before it gets here; other 403s
  (InvalidProviderToken, MissingProviderToken) and configuration 400s (BadTopic, TopicDisallowed,
  DeviceTokenNotForTopic, ...) -> ``FAILED``, and the sender reports them once (:data:`CONFIG_REASONS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from ...._retry_after import parse_retry_after
from .._base import Outcome, SendResult

#: Reasons that mean the hub's APNs settings are wrong: every message they hit fails the same way.
CONFIG_REASONS: Final = frozenset(
    {
        "InvalidProviderToken",
        "MissingProviderToken",
        "BadTopic",
        "MissingTopic",
        "TopicDisallowed",
        "DeviceTokenNotForTopic",
        "BadCertificate",
        "BadCertificateEnvironment",
        "Forbidden",
    }
)


def reason_of(body: Any) -> tuple[str, float | None]:
    """``(reason, timestamp in epoch seconds or None)`` from an APNs error body."""
    if not isinstance(body, dict):
        return "", None
    stamp = body.get("timestamp")
    seconds = float(stamp) / 1000.0 if isinstance(stamp, int | float) else None
    return str(body.get("reason") or ""), seconds


def classify(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    registered_at: float | None = None,
    now: Callable[[], float] = time.time,
) -> SendResult:
    """Turn APNs' answer (``body`` already parsed JSON, or None) into a :class:`SendResult`."""
    if status == 200:
        return SendResult(outcome=Outcome.SENT, status=status)
    reason, stamp = reason_of(body)
    said = reason or f"HTTP {status}"
    if status == 410:
        if registered_at is not None and stamp is not None and registered_at > stamp:
            detail = f"{said}, but the device registered its token again after APNs' timestamp: kept"
            return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
        return SendResult(outcome=Outcome.GONE, status=status, detail=f"token unregistered ({said})")
    if reason == "BadDeviceToken":
        detail = (
            "BadDeviceToken: likely a sandbox/production mix-up (a development build's token sent to "
            "production or the reverse); check --apns-environment"
        )
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    if status == 413:
        detail = f"payload too large for APNs ({said}); not retried"
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"), now=now)
        return SendResult(
            outcome=Outcome.RETRY, status=status, retry_after=retry_after, detail=f"APNs busy ({said})"
        )
    if reason in CONFIG_REASONS:
        detail = f"APNs configuration error: {said}; check the key, key id, team id and topic"
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    return SendResult(
        outcome=Outcome.FAILED, status=status, detail=f"APNs rejected the notification ({said})"
    )
