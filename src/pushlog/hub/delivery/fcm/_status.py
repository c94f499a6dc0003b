"""What an FCM HTTP v1 answer means for the delivery.

FCM answers errors as ``{"error": {"code", "message", "status", "details": [...]}}``; the FCM-specific
reason is the ``errorCode`` of the ``google.firebase.fcm.v1.FcmError`` detail (falling back to
``status``). The table:

* UNREGISTERED (404), and INVALID_ARGUMENT about the token (a ``message.token`` field violation or a
  message naming the registration token) -> ``GONE``: remove the device;
* other INVALID_ARGUMENT -> ``FAILED`` (our message is malformed: retrying sends the same bytes);
* QUOTA_EXCEEDED (429) -> ``RETRY`` after at least :data:`QUOTA_BACKOFF` seconds (longer if
  ``Retry-After`` says so);
* UNAVAILABLE (503), INTERNAL (500) and other 5xx -> ``RETRY`` honouring ``Retry-After``;
* SENDER_ID_MISMATCH (403) and THIRD_PARTY_AUTH_ERROR (401) -> ``FAILED`` with a detail that names
  the configuration to fix (the sender logs these once, not per message);
* UNAUTHENTICATED 401 is handled by the sender (one token refresh) before it gets here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from ...._retry_after import parse_retry_after
from .._base import Outcome, SendResult

QUOTA_BACKOFF: Final = 60.0
FCM_ERROR_TYPE: Final = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE: Final = "type.googleapis.com/google.rpc.BadRequest"
#: Reasons that are configuration errors: reported once, never retried.
CONFIG_ERRORS: Final = {
    "SENDER_ID_MISMATCH": "the token belongs to another Firebase project than the service account's",
    "THIRD_PARTY_AUTH_ERROR": "the APNs certificate/key or web push auth configured in Firebase was rejected",
}


def reason_of(body: Any) -> tuple[str, str, bool]:
    """``(reason, message, about_token)`` from an FCM error body (``("", "", False)`` if none)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", False
    reason = str(error.get("status") or "")
    message = str(error.get("message") or "")
    about_token = "registration token" in message.lower()
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and detail.get("errorCode"):
            reason = str(detail["errorCode"])
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    about_token = True
    return reason, message, about_token


def classify(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    now: Callable[[], float] = time.time,
) -> SendResult:
    """Turn FCM's HTTP answer (``body`` already parsed JSON, or None) into a :class:`SendResult`."""
    if 200 <= status < 300:
        return SendResult(outcome=Outcome.SENT, status=status)
    reason, message, about_token = reason_of(body)
    said = f"{reason}: {message}" if reason else f"HTTP {status}"
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    # Only FCM's own reasons remove devices: a bare 404 (a wrong base URL, a proxy) must not wipe them.
    if reason == "UNREGISTERED":
        return SendResult(outcome=Outcome.GONE, status=status, detail=f"token unregistered ({said})")
    if reason == "INVALID_ARGUMENT" and about_token:
        return SendResult(outcome=Outcome.GONE, status=status, detail=f"invalid registration token ({said})")
    if reason in CONFIG_ERRORS:
        detail = f"FCM configuration error: {CONFIG_ERRORS[reason]} ({said})"
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    if reason == "QUOTA_EXCEEDED" or status == 429:
        wait = max(QUOTA_BACKOFF, retry_after or 0.0)
        return SendResult(
            outcome=Outcome.RETRY, status=status, retry_after=wait, detail=f"quota exceeded ({said})"
        )
    if status >= 500:
        return SendResult(
            outcome=Outcome.RETRY, status=status, retry_after=retry_after, detail=f"FCM unavailable ({said})"
        )
    if status == 401:
        detail = f"FCM refused the access token after a refresh; check the service account ({said})"
        return SendResult(outcome=Outcome.FAILED, status=status, detail=detail)
    return SendResult(outcome=Outcome.FAILED, status=status, detail=f"FCM rejected the message ({said})")
