"""Synchronous publishing for the CLI: post, retry briefly, fail with one line.

The commands are short-lived processes, so they send in the foreground and wait for the hub's answer:
``send`` must only exit 0 once the hub accepted. Events go through the client's ``send_now`` (one
retry policy for the whole package); :func:`post_json` does the same for other publish-scope endpoints
(heartbeat check-ins). Retries cover connection errors, 429 and 5xx (honouring ``Retry-After``) within
a total time budget; any other 4xx is final.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .._dsn import DSN
from .._event import Event
from .._transport import SendError, send_now
from ._common import EXIT_REFUSED, EXIT_UNREACHABLE, error_message, user_agent
from ._errors import CLIError

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class PublishResult:
    accepted: int
    duplicates: int


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def post_json(
    dsn: DSN,
    path: str,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Response:
    """POST ``payload`` to ``dsn.base_url + path`` with the DSN's key; bounded retries.

    Returns the successful response. Raises :class:`CLIError` with exit code 3 when the hub could not be
    reached (or kept answering 429/5xx) within ``timeout`` seconds, 4 when it refused the request.
    """
    deadline = monotonic() + timeout
    delay = 0.25
    last_problem = "no attempt made"
    headers = {"Authorization": f"Bearer {dsn.key}", "User-Agent": user_agent()}
    with httpx.Client(timeout=min(timeout, 10.0), transport=transport) as client:
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0:
                break
            wait: float | None = None
            try:
                response = client.post(
                    dsn.base_url + path,
                    json=payload,
                    headers=headers,
                    timeout=max(0.1, min(remaining, 10.0)),
                )
            except httpx.TransportError as exc:
                last_problem = f"cannot reach the hub at {dsn.base_url}: {_describe(exc)}"
            else:
                if response.is_success:
                    return response
                if response.status_code not in _RETRY_STATUS:
                    raise CLIError(error_message(response), exit_code=EXIT_REFUSED)
                last_problem = error_message(response)
                wait = _retry_after(response)
            pause = delay if wait is None else wait
            delay = min(delay * 2, 4.0)
            if monotonic() + pause >= deadline:
                break
            sleep(pause)
    raise CLIError(f"{last_problem} (gave up after {timeout:g}s)", exit_code=EXIT_UNREACHABLE)


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in text.lower() or not text else text.splitlines()[-1]
    return text.splitlines()[-1] if text else type(exc).__name__


def publish(dsn: DSN, events: Sequence[Event], *, timeout: float = 10.0) -> PublishResult:
    """Publish events through the client's synchronous sender (:func:`pushlog._transport.send_now`).

    Raises :class:`CLIError`: exit code 4 when the hub refused the events, 3 when it could not be
    reached (or kept answering 429/5xx) within ``timeout`` seconds.
    """
    try:
        result = send_now(events, dsn=dsn, timeout=timeout, retries=6)
    except SendError as exc:
        refused = exc.status is not None and not exc.retryable
        raise CLIError(str(exc), exit_code=EXIT_REFUSED if refused else EXIT_UNREACHABLE) from None
    return PublishResult(accepted=result.accepted, duplicates=result.duplicates)
