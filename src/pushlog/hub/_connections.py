"""Slow and excess connections: header and body read timeouts and a connection cap, at the protocol.

uvicorn closes idle keep-alive connections, but a client that trickles its request headers (one byte
every few seconds) is never closed, and enough of them exhaust the process's file descriptors: then
``accept()`` fails, asyncio logs an error and stops accepting for a second at a time, and nobody is
served. ``limit_concurrency`` does not help (it answers 503 only once a request's headers are in),
nor do the h11 options (they bound sizes, not time). So the hub runs uvicorn's own h11 protocol
subclassed by :func:`guarded_protocol`, sharing one :class:`ConnectionGuard`:

- **Header timeout**: a connection has ``header_timeout`` seconds from opening (or from the end of
  its previous response) to deliver a complete request head; otherwise it is answered 408 (JSON
  ``request_timeout``) and closed.
- **Body timeout**: once the head is in, the body must be complete within ``body_timeout`` seconds;
  otherwise 408 (if no response started yet) and closed.
- **Connection cap**: at most :attr:`ConnectionGuard.limit` connections are open. The limit is
  ``max_connections`` lowered to fit the descriptor limit (``RLIMIT_NOFILE``, minus a reserve for the
  database, push connections and one accept batch, see :func:`connection_limits`). A connection
  arriving at the cap closes the connection that has waited longest without a complete request head
  (slow clients and idle keep-alives, never one whose request is being handled); if every connection
  is busy with a request, the newcomer is answered 503 (``over_capacity``, Retry-After: 1).

The accept batch (uvicorn's ``backlog``, which asyncio also uses as the number of ``accept()`` calls
per wake-up) is sized so that the cap plus one batch stays under the descriptor limit: accept never
fails with EMFILE. Closing a slow connection is not logged one by one (hundreds of them would flood
the log): at most one warning a minute says how many were closed, evicted or refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("pushlog.hub")

#: Descriptors kept free for everything that is not a client connection (database files and pool,
#: push-service connections, the listening socket, event loop, logs).
RESERVED_DESCRIPTORS: Final = 64
#: Most ``accept()`` calls per wake-up (uvicorn's default backlog), when the descriptor limit allows.
MAX_ACCEPT_BATCH: Final = 2048
#: Seconds between two summary warnings about closed connections.
REPORT_EVERY: Final = 60.0


def connection_limits(max_connections: int, *, nofile: int | None = None) -> tuple[int, int]:
    """``(cap, accept_batch)`` for ``max_connections`` under the descriptor limit ``nofile``
    (default: this process's soft ``RLIMIT_NOFILE``).

    In one loop iteration asyncio accepts up to one batch while the connections evicted by the
    previous batch are still being closed, so at most cap + 2 x batch client sockets exist at once:
    that plus :data:`RESERVED_DESCRIPTORS` stays within ``nofile``.
    """
    if nofile is None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        nofile = soft if soft != resource.RLIM_INFINITY else 1 << 20
    usable = max(32, nofile - RESERVED_DESCRIPTORS)
    batch = max(4, min(MAX_ACCEPT_BATCH, usable // 16))
    cap = max(1, min(max_connections, usable - 2 * batch))
    return cap, batch


def _raw_response(status: int, reason: str, code: str, message: str, *, retry_after: int | None) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *([f"retry-after: {retry_after}"] if retry_after is not None else []),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_HEADER_TIMEOUT: Final = _raw_response(
    408, "Request Timeout", "request_timeout", "request headers took too long to arrive", retry_after=None
)
_BODY_TIMEOUT: Final = _raw_response(
    408, "Request Timeout", "request_timeout", "the request body took too long to arrive", retry_after=None
)
_OVER_CAPACITY: Final = _raw_response(
    503, "Service Unavailable", "over_capacity", "the hub has too many open connections", retry_after=1
)


@dataclass(slots=True)
class ConnectionGuard:
    """What the connections of one server share: limits, who waits for a request head, counters."""

    limit: int
    header_timeout: float
    body_timeout: float
    clock: Callable[[], float] = time.monotonic
    open: set[Any] = field(default_factory=set)
    #: Connections without a complete request head, oldest first (a dict as an ordered set).
    waiting: dict[Any, None] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"header timeout": 0, "body timeout": 0, "evicted": 0, "refused": 0}
    )
    _last_report: float = 0.0

    def admit(self, connection: Any) -> bool:
        """Count ``connection`` in; at the cap, evict the longest-waiting one. False: refuse it."""
        if len(self.open) >= self.limit:
            oldest = next((c for c in self.waiting if c is not connection), None)
            if oldest is None:
                self.note("refused")
                return False
            self.note("evicted")
            oldest.close_waiting()
        self.open.add(connection)
        return True

    def forget(self, connection: Any) -> None:
        self.open.discard(connection)
        self.waiting.pop(connection, None)

    def note(self, what: str) -> None:
        """Count a closed connection; warn (at most once per :data:`REPORT_EVERY`) with the totals."""
        self.counts[what] += 1
        now = self.clock()
        if now - self._last_report < REPORT_EVERY:
            return
        self._last_report = now
        summary = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)
        logger.warning(
            "pushlog: closing slow or excess connections (so far: %s; %d open, cap %d; docs/hub.md Limits)",
            summary,
            len(self.open),
            self.limit,
        )


def guarded_protocol(guard: ConnectionGuard) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``guard``'s timeouts and cap (see the module docstring)."""

    class GuardedH11Protocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not guard.admit(self):
                self._answer_and_close(_OVER_CAPACITY)
                return
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timer()
            guard.forget(self)
            super().connection_lost(exc)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before and self.cycle is not None:
                self._head_received()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._await_head()  # a pipelined request found by super() cancels this again
            super().on_response_complete()

        # --- guard

        def close_waiting(self) -> None:
            """Evicted at the cap: close without an answer (it has not asked anything complete)."""
            self._cancel_timer()
            guard.forget(self)
            self.transport.close()

        def _await_head(self) -> None:
            self._cancel_timer()
            guard.waiting[self] = None
            self._timer = self.loop.call_later(guard.header_timeout, self._head_timed_out)

        def _head_received(self) -> None:
            self._cancel_timer()
            guard.waiting.pop(self, None)
            if self.cycle.more_body:
                self._timer = self.loop.call_later(guard.body_timeout, self._body_timed_out, self.cycle)

        def _head_timed_out(self) -> None:
            self._timer = None
            if self in guard.waiting and not self.transport.is_closing():
                guard.note("header timeout")
                self._answer_and_close(_HEADER_TIMEOUT)

        def _body_timed_out(self, cycle: Any) -> None:
            self._timer = None
            if self.cycle is not cycle or not cycle.more_body or self.transport.is_closing():
                return
            guard.note("body timeout")
            answer = b"" if cycle.response_started else _BODY_TIMEOUT
            cycle.disconnected = True  # the app's receive() now says http.disconnect, its send() is dropped
            cycle.message_event.set()
            self._answer_and_close(answer)

        def _answer_and_close(self, answer: bytes) -> None:
            guard.waiting.pop(self, None)
            if answer:
                self.transport.write(answer)
            self.transport.close()

        def _cancel_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    return GuardedH11Protocol
