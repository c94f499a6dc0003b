"""HTTP to the hub: one POST of a batch, the retry policy, and :func:`send_now` for synchronous callers.

* :func:`post_batch` makes one attempt and classifies it (never raises): 2xx ``SENT``; 429/503 and
  other 5xx and transport errors ``RETRY`` (with the server's ``Retry-After`` when given, seconds or an
  HTTP date); any other 4xx ``REJECTED`` (never retried).
* :func:`backoff_delay` is exponential with jitter: attempt *n* waits between half and all of
  ``min(cap, base * 2**n)``.
* Event ids are the hub's idempotency keys, so a retried batch never duplicates.
"""

from __future__ import annotations

import enum
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ._dsn import DSN, DSNError, dsn_from_env, parse_dsn
from ._event import Event
from ._retry_after import parse_retry_after

SDK: Final = "pushlog/0.1.0"
USER_AGENT: Final = f"{SDK} httpx/{httpx.__version__}"


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one POST."""

    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""
    accepted: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class SendResult:
    """What :func:`send_now` returns when the hub accepted the batch."""

    accepted: int
    duplicates: int
    status: int
    attempts: int


class SendError(Exception):
    """:func:`send_now` failed. ``status`` is the hub's HTTP status (``None``: unreachable);
    ``retryable`` says whether trying again later could help. The message is one line."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def build_payload(events: Iterable[Event], *, dropped: int = 0, recovered: int = 0) -> bytes:
    """The JSON body of ``POST /v1/events``: ``{"events": [...], "client": {"sdk", "dropped"?,
    "recovered"?}}`` (``recovered``: how many of these events an earlier process left in the spool)."""
    client: dict[str, Any] = {"sdk": SDK}
    if dropped:
        client["dropped"] = dropped
    if recovered:
        client["recovered"] = recovered
    body = {"events": [event.to_wire() for event in events], "client": client}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


#: Longest Retry-After the client honours (seconds); a hub asking for more is waited on for this long.
MAX_RETRY_AFTER: Final = 3600.0


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = random.random
) -> float:
    """Delay before retry number ``attempt`` (0-based): jittered in ``[d/2, d]``,
    ``d = min(cap, base * 2**attempt)``."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rng() * ceiling / 2


def make_http_client(dsn: DSN, *, timeout: float) -> httpx.Client:
    """The one reused client: explicit timeouts, the publish key, pushlog's user agent."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0), pool=min(timeout, 1.0)),
        headers={
            "Authorization": f"Bearer {dsn.key}",
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        },
        follow_redirects=False,
    )


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
        error = data.get("error", {}) if isinstance(data, dict) else {}
        code, message = error.get("code"), error.get("message")
        if code or message:
            return f"{code or 'error'}: {message or ''}".strip()
    except Exception:
        pass
    text = response.text.strip().splitlines()
    return text[0][:200] if text else response.reason_phrase


def post_batch(http: httpx.Client, dsn: DSN, body: bytes, *, timeout: float | None = None) -> Attempt:
    """One POST of a prepared body. Never raises."""
    try:
        if timeout is None:
            response = http.post(dsn.events_url, content=body)
        else:
            response = http.post(dsn.events_url, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        return Attempt(Outcome.RETRY, detail=f"{type(exc).__name__}: {exc}".strip().rstrip(":"))
    except Exception as exc:  # pragma: no cover - defensive: a broken transport must not kill the worker
        return Attempt(Outcome.RETRY, detail=f"{type(exc).__name__}: {exc}")
    status = response.status_code
    if 200 <= status < 300:
        accepted = duplicates = 0
        try:
            data = response.json()
            accepted, duplicates = int(data.get("accepted", 0)), int(data.get("duplicates", 0))
        except Exception:
            pass
        return Attempt(Outcome.SENT, status=status, accepted=accepted, duplicates=duplicates)
    detail = _error_detail(response)
    if status in (429, 503) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), cap=MAX_RETRY_AFTER)
        return Attempt(Outcome.RETRY, status=status, retry_after=retry_after, detail=detail)
    return Attempt(Outcome.REJECTED, status=status, detail=detail)


def send_now(
    events: Sequence[Event],
    *,
    dsn: str | DSN | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Send ``events`` synchronously in one batch, retrying transient failures at most ``retries`` times.

    ``dsn`` defaults to ``PUSHLOG_DSN``. ``timeout`` bounds the whole call (requests and waits); a
    ``Retry-After`` longer than the time left ends the retries. Returns a :class:`SendResult` once the
    hub answered 2xx; raises :class:`SendError` (one-line message, ``status``, ``retryable``) otherwise,
    including for a missing or malformed DSN. No redaction, dedup or rate limiting: the caller's events
    go out as given.
    """
    try:
        parsed = parse_dsn(dsn) if isinstance(dsn, str) else (dsn or dsn_from_env())
    except DSNError as exc:
        raise SendError(str(exc)) from None
    if parsed is None:
        raise SendError("no hub configured: set PUSHLOG_DSN=http(s)://<publish-key>@<host>[:port]")
    body = build_payload(events)
    deadline = time.monotonic() + timeout
    last: Attempt | None = None
    with make_http_client(parsed, timeout=timeout) as http:
        for attempt in range(retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            last = post_batch(http, parsed, body, timeout=remaining)
            if last.outcome is Outcome.SENT:
                return SendResult(last.accepted, last.duplicates, last.status or 202, attempt + 1)
            if last.outcome is Outcome.REJECTED or attempt == retries:
                break
            delay = last.retry_after if last.retry_after is not None else backoff_delay(attempt)
            if delay >= deadline - time.monotonic():
                break
            sleep(delay)
    if last is None:
        raise SendError(f"timed out after {timeout:g}s before reaching {parsed.base_url}", retryable=True)
    if last.outcome is Outcome.REJECTED:
        raise SendError(f"hub refused the events ({last.status} {last.detail})", status=last.status)
    where = f"hub answered {last.status}" if last.status else "hub unreachable"
    raise SendError(f"{where} at {parsed.base_url}: {last.detail}", status=last.status, retryable=True)


class StderrNote:
    """One-line notes on stderr, at most one per ``interval`` seconds (the rest are counted)."""

    def __init__(self, *, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> bool:
        """Write ``pushlog: <message>`` unless a note went out within the interval. Never raises."""
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self._interval:
                self._suppressed += 1
                return False
            self._last = now
            suppressed, self._suppressed = self._suppressed, 0
        more = f" ({suppressed} similar notes suppressed)" if suppressed else ""
        try:
            stream = sys.stderr
            if stream is not None:
                stream.write(f"pushlog: {message}{more}\n")
                stream.flush()
        except Exception:
            pass
        return True
