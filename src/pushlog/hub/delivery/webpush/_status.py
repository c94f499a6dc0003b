"""What a push service's answer means for the delivery (RFC 8030 §5, RFC 8292 §4).

2xx (201 Created) accepted; 404/410 the subscription is gone (remove the device); 413 the body is too
large (never retried: it will not shrink); 429 and 5xx are transient (retry, honouring ``Retry-After``,
which is either delay-seconds or an HTTP date); 400 is a malformed request, 401/403 a rejected VAPID
token: both permanent for this message, with a detail that says what to check.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping

from ...._retry_after import parse_retry_after
from .._base import Outcome, SendResult

_DETAIL_CHARS = 200


def _snippet(body: str) -> str:
    text = " ".join(body.split())
    return text[:_DETAIL_CHARS]


@functools.lru_cache(maxsize=16)
def _accepted(status: int) -> SendResult:
    """The result for an accepted push: frozen, so one per status serves every message of a fan-out."""
    return SendResult(outcome=Outcome.SENT, status=status)


def classify(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    now: Callable[[], float] = time.time,
) -> SendResult:
    """Turn a push service's HTTP answer into a :class:`SendResult`."""
    if 200 <= status < 300:  # the bulk of any fan-out: neither Retry-After nor the body matters
        return _accepted(status)
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    said = _snippet(body)
    suffix = f": {said}" if said else ""
    if status in (404, 410):
        return SendResult(outcome=Outcome.GONE, status=status, detail=f"subscription expired{suffix}")
    if status == 413:
        return SendResult(
            outcome=Outcome.FAILED, status=status, detail=f"payload too large for the push service{suffix}"
        )
    if status == 429:
        return SendResult(
            outcome=Outcome.RETRY, status=status, retry_after=retry_after, detail=f"rate limited{suffix}"
        )
    if status >= 500:
        return SendResult(
            outcome=Outcome.RETRY,
            status=status,
            retry_after=retry_after,
            detail=f"push service error {status}{suffix}",
        )
    if status in (401, 403):
        return SendResult(
            outcome=Outcome.FAILED,
            status=status,
            detail=f"VAPID authorization rejected ({status}); check the VAPID key and subject{suffix}",
        )
    if status == 400:
        detail = f"push service rejected the request{suffix}"
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    return SendResult(outcome=Outcome.FAILED, status=status, detail=f"unexpected status {status}{suffix}")
