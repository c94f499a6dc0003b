"""The one path from the client to the hub: :class:`HubTransport`, its retry policy, and :func:`send_now`.

Every POST the package makes with a publish key goes through a :class:`HubTransport`: the worker's
batches, :func:`send_now`, ``pushlog.job``'s check-ins and the CLI's ``send``/``run`` reports.

* :meth:`HubTransport.attempt` makes one POST and classifies it (never raises): 2xx ``SENT``; 408, 425,
  429, 5xx and transport errors ``RETRY`` (with the server's ``Retry-After`` when given, seconds or an
  HTTP date, capped at :data:`MAX_RETRY_AFTER`); any other 4xx ``REJECTED`` (never retried).
* :func:`retry_delay` is the one retry policy: the server's ``Retry-After``, else exponential backoff
  with jitter (attempt *n* waits between half and all of ``min(cap, base * 2**n)``).
* :meth:`HubTransport.post` is the one synchronous retry loop, bounded by a total time budget. The
  worker does not block in a loop: it makes one attempt per cycle and schedules the next with
  :func:`retry_delay`.
* Event ids are the hub's idempotency keys, so a retried batch never duplicates.

httpx (and with it ssl) is imported when a client with a hub to send to is made (:func:`load_http`), or
on the first request of a :class:`HubTransport` used alone, never by ``import pushlog``: an inert
client does not pay for it. ``transport=`` takes any ``httpx.BaseTransport``
(``httpx.MockTransport`` in tests), as ``httpx.Client`` does.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from ._clock import SYSTEM_CLOCK, Clock
from ._dsn import DSN, DSNError, dsn_from_env, parse_dsn
from ._event import Event
from ._lean_typing import NamedTuple
from ._retry_after import parse_retry_after

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    import ssl
    from typing import Any, Final

    import httpx

SDK: Final = "pushlog/0.1.0"
EVENTS_PATH: Final = "/v1/events"

#: Longest Retry-After the client honours (seconds); a hub asking for more is waited on for this long.
MAX_RETRY_AFTER: Final = 3600.0
#: Statuses worth trying again besides 5xx: request timeout, too early, too many requests.
RETRY_STATUSES: Final = frozenset({408, 425, 429})


def load_http() -> None:
    """Import httpx (and ssl) now. A client that has a hub to send to calls it when it is made, so its
    first send is not slowed by the import; ``import pushlog`` and inert clients never pay for it."""
    import httpx  # noqa: F401


def tls_verify(base_url: str) -> ssl.SSLContext | bool:
    """httpx's ``verify=`` for a hub at ``base_url``.

    ``https://``: ``True``, httpx's full verification against certifi's CA bundle. ``http://``: a
    client context that trusts no certificate at all. Requests go only to ``base_url`` and never follow
    redirects, so an http:// hub never makes a TLS handshake: httpx would still build its default
    context and load the whole CA bundle (about 1.5 MB resident) for nothing. If a handshake ever
    happened it would fail (certificates and host names are still required, no CA is trusted), never
    go unverified. Proxies from the environment are verified by httpcore's own default context.
    """
    if not base_url.startswith("http://"):
        return True
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default


def user_agent() -> str:
    """``pushlog/<version> httpx/<version>`` (imports httpx: call it only when about to send)."""
    import httpx

    return f"{SDK} httpx/{httpx.__version__}"


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


class Attempt(NamedTuple):
    """The result of one POST. ``data`` is the hub's JSON answer on success (``None`` otherwise)."""

    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""
    data: Any = None
    attempts: int = 1

    @property
    def accepted(self) -> int:
        return _count(self.data, "accepted")

    @property
    def duplicates(self) -> int:
        return _count(self.data, "duplicates")


def _count(data: Any, key: str) -> int:
    try:
        return int(data.get(key, 0)) if isinstance(data, dict) else 0
    except (TypeError, ValueError):
        return 0


class SendResult(NamedTuple):
    """What :func:`send_now` returns when the hub accepted the batch (an immutable named tuple)."""

    accepted: int
    duplicates: int
    status: int
    attempts: int


class SendError(Exception):
    """A synchronous send (:func:`send_now`, :meth:`HubTransport.post`) failed. ``status`` is the hub's
    HTTP status (``None``: unreachable); ``retryable`` says whether trying again later could help.
    The message is one line."""

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
    return encode_json(body)


def _stdlib_json(value: Any) -> bytes:
    import json  # with the first request body (or the first client's redaction rules), not import pushlog

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


_encoder: Callable[[Any], bytes] | None = None


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON of a request body: msgspec's encoder when it is installed (``pushlog[fast]``,
    or with the hub; several times faster than ``json.dumps``), the stdlib otherwise and for what
    msgspec refuses. Both write other types as ``str()`` and raise ``UnicodeEncodeError`` for a lone
    surrogate (what :func:`pushlog._worker.screen` repairs)."""
    global _encoder
    encoder = _encoder
    if encoder is None:
        try:
            import msgspec  # optional: loaded on the first request body, never by import pushlog
        except ImportError:
            encoder = _stdlib_json
        else:
            encoder = msgspec.json.Encoder(enc_hook=str).encode
        _encoder = encoder
    try:
        return encoder(value)
    except UnicodeEncodeError:
        raise
    except Exception:  # an integer beyond 64 bits, a key msgspec does not take: the stdlib decides
        return _stdlib_json(value)


def jitter() -> float:
    """A uniform random float in ``[0, 1)`` from the OS (``random`` is not loaded for backoff jitter)."""
    return (int.from_bytes(os.urandom(7)) >> 3) / 2**53


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = jitter
) -> float:
    """Delay before retry number ``attempt`` (0-based): jittered in ``[d/2, d]``,
    ``d = min(cap, base * 2**attempt)``."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rng() * ceiling / 2


def retry_delay(attempt: int, result: Attempt, *, rng: Callable[[], float] = jitter) -> float:
    """How long to wait before retry number ``attempt`` (0-based) after ``result`` asked for a retry:
    the hub's ``Retry-After`` when it gave one, else :func:`backoff_delay`."""
    return result.retry_after if result.retry_after is not None else backoff_delay(attempt, rng=rng)


def _error_detail(response: httpx.Response) -> str:
    """One line: the hub's ``{"error": {"code", "message"}}`` envelope, or the first line of the body."""
    try:
        data = response.json()
        error = data.get("error", {}) if isinstance(data, dict) else {}
        code, message = error.get("code"), error.get("message")
        if code or message:
            return " ".join(f"{code or 'error'}: {message or ''}".split())
    except Exception:
        pass
    text = response.text.strip().splitlines()
    return text[0][:200] if text else response.reason_phrase


def _describe(exc: Exception) -> str:
    """A transport error in a few words (``connection refused``, ``timed out``)."""
    import httpx

    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError) and ("refused" in text.lower() or not text):
        return "connection refused"
    return text.splitlines()[-1] if text else type(exc).__name__


class HubTransport:
    """POSTs to one hub with its publish key over one reused ``httpx.Client`` (made on first use).

    Thread-safe; :meth:`close` releases the connections and a later request opens new ones, so a
    transport survives its owner's worker stopping and restarting.
    """

    def __init__(
        self,
        dsn: DSN,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: Callable[[], float] = jitter,
    ) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.clock = clock
        self._transport = transport
        self._rng = rng
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            with self._lock:
                http = self._http
                if http is None:
                    http = self._http = self._open()
        return http

    def _open(self) -> httpx.Client:
        import httpx

        timeout = self.timeout
        return httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0), pool=min(timeout, 1.0)),
            headers={
                "Authorization": f"Bearer {self.dsn.key}",
                "User-Agent": user_agent(),
                "Content-Type": "application/json",
            },
            follow_redirects=False,
            transport=self._transport,
            verify=tls_verify(self.dsn.base_url),
        )

    def attempt(
        self, path: str, body: bytes, *, timeout: float | None = None, method: str = "POST"
    ) -> Attempt:
        """One POST (or ``method``: PUT declares a rule) of a prepared JSON body to ``path``
        (``/v1/...``). Never raises."""
        try:
            import httpx

            http = self._client()
            url = self.dsn.base_url + path
            try:
                if timeout is None:
                    response = http.request(method, url, content=body)
                else:
                    response = http.request(method, url, content=body, timeout=max(0.01, timeout))
            except httpx.HTTPError as exc:
                return Attempt(Outcome.RETRY, detail=_describe(exc))
        except Exception as exc:  # a broken transport must not kill the worker
            return Attempt(Outcome.RETRY, detail=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json()
            except Exception:
                data = None
            return Attempt(Outcome.SENT, status=status, data=data)
        detail = _error_detail(response)
        if status in RETRY_STATUSES or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"), cap=MAX_RETRY_AFTER)
            return Attempt(Outcome.RETRY, status=status, retry_after=retry_after, detail=detail)
        return Attempt(Outcome.REJECTED, status=status, detail=detail)

    def post(self, path: str, body: bytes, *, timeout: float, retries: int, method: str = "POST") -> Attempt:
        """POST until the hub accepts, retrying at most ``retries`` times within ``timeout`` seconds
        (requests and waits; a ``Retry-After`` longer than the time left ends the retries).

        Returns the successful :class:`Attempt`; raises :class:`SendError` (one line, ``status``,
        ``retryable``) when the hub refused or could not be reached in time.
        """
        clock = self.clock
        deadline = clock() + timeout
        last: Attempt | None = None
        for n in range(retries + 1):
            remaining = deadline - clock()
            if remaining <= 0:
                break
            last = self.attempt(path, body, timeout=remaining, method=method)
            if last.outcome is Outcome.SENT:
                return Attempt(Outcome.SENT, status=last.status, data=last.data, attempts=n + 1)
            if last.outcome is Outcome.REJECTED or n == retries:
                break
            delay = retry_delay(n, last, rng=self._rng)
            if delay >= deadline - clock():
                break
            clock.sleep(delay)
        where = self.dsn.base_url
        if last is None:
            raise SendError(f"timed out after {timeout:g}s before reaching {where}", retryable=True)
        if last.outcome is Outcome.REJECTED:
            raise SendError(f"hub refused the request ({last.status} {last.detail})", status=last.status)
        problem = f"hub answered {last.status}" if last.status else "hub unreachable"
        raise SendError(f"{problem} at {where}: {last.detail}", status=last.status, retryable=True)

    def post_json(
        self, path: str, payload: dict[str, Any], *, timeout: float, retries: int, method: str = "POST"
    ) -> Any:
        """:meth:`post` for a JSON payload; returns the hub's JSON answer (``None`` if it sent none)."""
        body = encode_json(payload)
        return self.post(path, body, timeout=timeout, retries=retries, method=method).data

    def close(self) -> None:
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            with contextlib.suppress(Exception):  # closing must not raise at exit
                http.close()

    def __repr__(self) -> str:
        return f"<pushlog.HubTransport {self.dsn!r}>"


def resolve_dsn(dsn: str | DSN | None) -> DSN:
    """``dsn``, or ``PUSHLOG_DSN``; raises :class:`SendError` for a missing or malformed one."""
    try:
        parsed = parse_dsn(dsn) if isinstance(dsn, str) else (dsn or dsn_from_env())
    except DSNError as exc:
        raise SendError(str(exc)) from None
    if parsed is None:
        raise SendError("no hub configured: set PUSHLOG_DSN=http(s)://<publish-key>@<host>[:port]")
    return parsed


def send_now(
    events: Sequence[Event],
    *,
    dsn: str | DSN | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> SendResult:
    """Send ``events`` synchronously in one batch, retrying transient failures at most ``retries`` times.

    ``dsn`` defaults to ``PUSHLOG_DSN``. ``timeout`` bounds the whole call (requests and waits); a
    ``Retry-After`` longer than the time left ends the retries. Returns a :class:`SendResult` once the
    hub answered 2xx; raises :class:`SendError` (one-line message, ``status``, ``retryable``) otherwise,
    including for a missing or malformed DSN. No redaction, dedup or rate limiting: the caller's events
    go out as given (use a :class:`~pushlog.Client` for those).
    """
    hub = HubTransport(resolve_dsn(dsn), timeout=timeout, transport=transport, clock=clock)
    try:
        result = hub.post(EVENTS_PATH, build_payload(events), timeout=timeout, retries=retries)
    finally:
        hub.close()
    return SendResult(result.accepted, result.duplicates, result.status or 202, result.attempts)


class StderrNote:
    """One-line notes on stderr, at most one per ``interval`` seconds (the rest are counted)."""

    def __init__(self, *, interval: float = 60.0, clock: Callable[[], float] = SYSTEM_CLOCK) -> None:
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
