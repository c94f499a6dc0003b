"""The bounded hand-off queue and the background thread that sends batches.

Calling threads only :meth:`EventQueue.put` (a lock, an append, maybe an ``Event.set``). The worker
(a daemon thread, started lazily by the client) moves events from the queue into a *backlog* (memory,
or the SQLite spool), redacts them, and POSTs the backlog in batches over one reused ``httpx.Client``.

* Pushed events wake the worker at once; feed-only events may linger up to ``linger`` seconds so they
  travel together (or until a batch is full, or a flush asks).
* The queue is bounded. When full, a pushed event evicts the oldest feed-only event; a feed-only event
  is dropped. Drops are counted and reported in the next batch's envelope (``"client": {"dropped": n}``).
* Failures: 5xx, 429/503 and transport errors are retried with jittered backoff (honouring
  ``Retry-After``); the memory backlog gives a batch up after ``max_retries`` retries (counted as
  dropped), the spool keeps it. Other 4xx drop the batch with one rate-limited note on stderr.
* Memory stays bounded with the hub down: the memory backlog holds one batch, the queue ``queue_size``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import httpx

from ._dsn import DSN
from ._event import Event
from ._otel import suppressed
from ._redact import Redactor
from ._transport import (
    Outcome,
    StderrNote,
    backoff_delay,
    build_payload,
    make_http_client,
    post_batch,
)

#: A batch body is split so one POST stays under this many bytes.
MAX_BATCH_BYTES = 512 * 1024


class EventQueue:
    """Bounded queue with two lanes (pushed, feed-only) and drop accounting. Thread-safe."""

    def __init__(self, maxsize: int, *, batch_size: int) -> None:
        if maxsize < 1:
            raise ValueError("queue_size must be at least 1")
        self.maxsize = maxsize
        self.batch_size = batch_size
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._pushed: deque[Event] = deque()
        self._feed: deque[Event] = deque()
        self._feed_since = 0.0
        self.dropped = 0  # not yet reported to the hub
        self.accepted = 0  # ever accepted into the queue
        self.left = 0  # ever taken out or evicted

    def __len__(self) -> int:
        return len(self._pushed) + len(self._feed)

    def put(self, event: Event) -> bool:
        """Add ``event`` without blocking; ``False`` if it was dropped because the queue is full."""
        wake = False
        pushed = event.push if event.push is not None else event.level >= 30
        with self._lock:
            full = len(self._pushed) + len(self._feed) >= self.maxsize
            if pushed:
                if full:
                    if not self._feed:
                        self.dropped += 1
                        return False
                    self._feed.popleft()
                    self.dropped += 1
                    self.left += 1
                self._pushed.append(event)
                wake = True
            else:
                if full:
                    self.dropped += 1
                    return False
                self._feed.append(event)
                n = len(self._feed)
                if n == 1:
                    self._feed_since = time.monotonic()
                    wake = True
                elif n >= self.batch_size:
                    wake = True
            self.accepted += 1
        if wake and not self.wake.is_set():
            self.wake.set()
        return True

    def due_in(self, linger: float, *, now: float) -> float | None:
        """Seconds until the queue should be sent (0: now), ``None`` when empty."""
        with self._lock:
            if self._pushed or len(self._feed) >= self.batch_size:
                return 0.0
            if self._feed:
                return max(0.0, self._feed_since + linger - now)
            return None

    def take(self, limit: int) -> list[Event]:
        """Up to ``limit`` events, pushed ones first, in arrival order within each lane."""
        with self._lock:
            out: list[Event] = []
            while self._pushed and len(out) < limit:
                out.append(self._pushed.popleft())
            while self._feed and len(out) < limit:
                out.append(self._feed.popleft())
            if self._feed:
                self._feed_since = time.monotonic()
            self.left += len(out)
            return out

    def take_dropped(self) -> int:
        with self._lock:
            dropped, self.dropped = self.dropped, 0
            return dropped

    def give_back_dropped(self, n: int) -> None:
        if n:
            with self._lock:
                self.dropped += n


class Backlog(Protocol):
    """Events taken from the queue and not yet delivered (memory, or :class:`pushlog._spool.Spool`)."""

    def room(self) -> int: ...
    def add(self, events: list[Event]) -> int: ...
    def peek(self, limit: int) -> list[Event]: ...
    def remove(self, ids: list[str]) -> None: ...
    def failed(self, ids: list[str]) -> int: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...


class MemoryBacklog:
    """At most one batch in memory; a batch that failed ``max_retries + 1`` times is given up."""

    def __init__(self, *, batch_size: int, max_retries: int) -> None:
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._events: list[Event] = []
        self._attempts = 0

    def room(self) -> int:
        return 0 if self._events else self._batch_size

    def add(self, events: list[Event]) -> int:
        self._events.extend(events)
        return 0

    def peek(self, limit: int) -> list[Event]:
        return self._events[:limit]

    def remove(self, ids: list[str]) -> None:
        gone = set(ids)
        self._events = [e for e in self._events if e.id not in gone]
        self._attempts = 0

    def failed(self, ids: list[str]) -> int:
        """Count a failed attempt; returns how many events were given up."""
        self._attempts += 1
        if self._attempts > self._max_retries:
            lost = len(self._events)
            self._events = []
            self._attempts = 0
            return lost
        return 0

    def __len__(self) -> int:
        return len(self._events)

    def close(self) -> None:
        self._events = []


class Worker(threading.Thread):
    """The daemon thread behind a client. Progress is published through :attr:`progress`."""

    def __init__(
        self,
        *,
        dsn: DSN,
        queue: EventQueue,
        make_backlog: Callable[[], Backlog],
        redactor: Redactor,
        housekeeping: Callable[[], None],
        note: StderrNote,
        batch_size: int,
        linger: float,
        timeout: float,
        tick: float = 1.0,
    ) -> None:
        super().__init__(name="pushlog-worker", daemon=True)
        self._dsn = dsn
        self.queue = queue
        self._make_backlog = make_backlog
        self._redactor = redactor
        self._housekeeping = housekeeping
        self._note = note
        self._batch_size = batch_size
        self._linger = linger
        self._timeout = timeout
        self._tick = tick
        self.stopping = threading.Event()
        self.progress = threading.Condition(threading.Lock())
        self.flush_target = 0  # while queue.left < flush_target, feed-only events do not linger
        self.backlog_size = 0
        self.moved = 0  # queue.left as of the last published progress
        self.lost = 0  # events rejected or given up, ever
        self.sent = 0
        self._retry_at = 0.0
        self._attempt = 0
        self._http: httpx.Client | None = None
        self.ready = threading.Event()

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        backlog: Backlog | None = None
        try:
            backlog = self._make_backlog()
            self.backlog_size = len(backlog)
        except Exception as exc:
            self._note(f"cannot open the spool ({exc}); keeping events in memory")
            backlog = MemoryBacklog(batch_size=self._batch_size, max_retries=5)
        self.ready.set()
        last_housekeeping = 0.0
        try:
            while True:
                self._wait(backlog)
                self.queue.wake.clear()
                now = time.monotonic()
                if now - last_housekeeping >= self._tick:
                    last_housekeeping = now
                    try:
                        self._housekeeping()
                    except Exception as exc:  # pragma: no cover - defensive
                        self._note(f"internal error in housekeeping: {exc!r}")
                self._cycle(backlog)
                self._publish(backlog)
                if self.stopping.is_set():
                    idle = not len(self.queue) and not len(backlog)
                    if idle or self._retry_at > time.monotonic():
                        return
        finally:
            self._publish(backlog)
            backlog.close()
            if self._http is not None:
                self._http.close()

    def _wait(self, backlog: Backlog) -> None:
        if self.stopping.is_set():
            return
        now = time.monotonic()
        if not backlog.room():
            # A batch waits for its retry: new events cannot move, so do not wake for them either.
            timeout = min(self._tick, max(0.0, self._retry_at - now))
            if timeout > 0:
                self.stopping.wait(timeout)
            return
        flushing = self.queue.left < self.flush_target
        due = self.queue.due_in(0.0 if flushing else self._linger, now=now)
        timeout = self._tick if due is None else min(self._tick, due)
        if len(backlog):
            timeout = min(timeout, max(0.0, self._retry_at - now))
        if timeout > 0:
            self.queue.wake.wait(timeout)

    def _cycle(self, backlog: Backlog) -> None:
        now = time.monotonic()
        flushing = self.queue.left < self.flush_target or self.stopping.is_set()
        due = self.queue.due_in(0.0 if flushing else self._linger, now=now)
        room = backlog.room()
        if due is not None and due <= 0 and room > 0:
            events = self.queue.take(min(room, self._batch_size * 10))
            for event in events:
                try:
                    self._redactor.event(event)
                except Exception as exc:  # pragma: no cover - defensive: never send unredacted
                    event.title, event.body, event.metadata = "[redaction failed]", None, {}
                    self._note(f"redaction failed: {exc!r}")
            overflow = backlog.add(events)
            if overflow:
                self.queue.give_back_dropped(overflow)
        if len(backlog) and time.monotonic() >= self._retry_at:
            self._send(backlog)

    def _send(self, backlog: Backlog) -> None:
        http = self._http
        if http is None:
            http = self._http = make_http_client(self._dsn, timeout=self._timeout)
        while len(backlog):
            events = backlog.peek(self._batch_size)
            dropped = self.queue.take_dropped()
            body = build_payload(events, dropped=dropped)
            while len(body) > MAX_BATCH_BYTES and len(events) > 1:
                events = events[: len(events) // 2]
                body = build_payload(events, dropped=dropped)
            ids = [event.id for event in events]
            with suppressed():  # an instrumented httpx must not trace (or log) our own requests
                result = post_batch(http, self._dsn, body)
            if result.outcome is Outcome.SENT:
                backlog.remove(ids)
                self.sent += len(ids)
                self._attempt = 0
                self._retry_at = 0.0
            elif result.outcome is Outcome.REJECTED:
                backlog.remove(ids)
                self.lost += len(ids)
                self._attempt = 0
                self._note(f"hub refused {len(ids)} event(s) ({result.status} {result.detail}); dropped them")
            else:
                self.queue.give_back_dropped(dropped)
                lost = backlog.failed(ids)
                delay = result.retry_after
                if delay is None:
                    delay = backoff_delay(self._attempt)
                self._attempt += 1
                self._retry_at = time.monotonic() + delay
                if lost:
                    self.lost += lost
                    self.queue.give_back_dropped(lost)
                    self._attempt = 0
                    self._note(f"hub unreachable ({result.status or result.detail}); gave up {lost} event(s)")
                return
            self._publish(backlog)

    def _publish(self, backlog: Backlog) -> None:
        with self.progress:
            self.moved = self.queue.left
            self.backlog_size = len(backlog)
            self.progress.notify_all()

    # ---- for the client ---------------------------------------------------------------------------
    def drained(self, target: int) -> bool:
        """Whether every event accepted before ``target`` left the queue and the backlog is empty."""
        return self.moved >= target and self.backlog_size == 0
