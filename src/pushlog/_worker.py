"""The bounded hand-off queue and the background thread that sends batches.

Calling threads only :meth:`EventQueue.put` (a lock, an append, maybe an ``Event.set``). The worker
(a daemon thread, started lazily by the client) moves events from the queue into a *backlog* (memory,
or the SQLite spool), redacts them, and POSTs the backlog in batches through the client's
:class:`~pushlog._transport.HubTransport`. Both read and wait on the client's clock, so a test moves
time by hand instead of waiting through a linger or a ``Retry-After``.

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

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

from ._clock import SYSTEM_CLOCK, Clock
from ._event import Event
from ._lean_typing import Protocol
from ._levels import Level
from ._otel import suppressed
from ._transport import (
    EVENTS_PATH,
    Attempt,
    HubTransport,
    Outcome,
    StderrNote,
    build_payload,
    retry_delay,
)

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Final

    from ._redact import Redactor

#: A batch body is split so one POST stays under this many bytes.
MAX_BATCH_BYTES = 512 * 1024

#: Statuses that may mean "one event of this batch is bad": the batch is split until the bad event is
#: alone, and only that one is dropped (401/403 concern the key, not an event: the batch is dropped).
_PER_EVENT_STATUSES: Final = frozenset({400, 413, 422})

#: Why an event was dropped when the queue had no room (a reason of :attr:`EventQueue.drop_reasons`).
QUEUE_FULL: Final = "queue full"

#: With a spool, an event is on disk at most this long (seconds) after it was queued.
SPOOL_WITHIN: Final = 0.1

#: Lone surrogates; compiled (and cached by ``re``) when :func:`screen` first repairs one, because
#: compiling it costs about half a millisecond of ``import pushlog``.
_SURROGATE: Final = "[\ud800-\udfff]"


def _unsurrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    # os.fsdecode/surrogateescape turn an undecodable byte 0xNN into U+DCNN: show the byte as \xNN
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return re.sub(_SURROGATE, _unsurrogate, value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def screen(events: Iterable[Event]) -> tuple[list[Event], list[Event]]:
    """Split ``events`` into those that encode as UTF-8 JSON and those that cannot be sent at all.

    Lone surrogates (what ``os.fsdecode`` makes of an undecodable file name) are repaired in place
    (``\\xNN`` for an escaped byte, U+FFFD otherwise), so the event still goes out; an event whose wire
    form cannot be built or encoded for any other reason is returned as bad. Run only after a whole
    batch failed to encode, so the usual path pays nothing for it.
    """
    import json  # loaded by the first client (redaction) already; not by import pushlog

    good: list[Event] = []
    bad: list[Event] = []
    for event in events:
        try:
            try:
                json.dumps(event.to_wire(), ensure_ascii=False, default=str).encode("utf-8")
            except UnicodeEncodeError:
                ascii_json = json.dumps(event.to_wire(), ensure_ascii=True, default=str)
                fixed = Event.from_wire(_scrub(json.loads(ascii_json)))  # type: ignore[arg-type]
                for name in Event.__slots__:
                    if name != "ts":
                        setattr(event, name, getattr(fixed, name))
                json.dumps(event.to_wire(), ensure_ascii=False, default=str).encode("utf-8")
            good.append(event)
        except Exception:  # anything that cannot be sent is dropped and counted
            bad.append(event)
    return good, bad


def occurrences(events: Iterable[Event]) -> Counter[Level]:
    """Log calls the events stand for, by level (a dedup follow-up stands for ``count`` repeats)."""
    counts: Counter[Level] = Counter()
    for event in events:
        counts[event.level] += max(1, event.count)
    return counts


def _reason(result: Attempt) -> str:
    """A short reason for the exit line: ``connection refused``, ``timed out``, ``hub answered 503``."""
    if result.status is not None:
        return f"hub answered {result.status}"
    return result.detail or "transport error"  # the transport says "connection refused", "timed out"...


class EventQueue:
    """Bounded queue with two lanes (pushed, feed-only) and drop accounting. Thread-safe."""

    def __init__(self, maxsize: int, *, batch_size: int, clock: Callable[[], float] = SYSTEM_CLOCK) -> None:
        if maxsize < 1:
            raise ValueError("queue_size must be at least 1")
        self.maxsize = maxsize
        self.batch_size = batch_size
        self._clock = clock
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._pushed: deque[Event] = deque()
        self._feed: deque[Event] = deque()
        self._feed_since = 0.0
        self.dropped = 0  # not yet reported to the hub
        #: Why the drops counted in ``dropped`` happened, each reason once, in order (for the exit line).
        self.drop_reasons: dict[str, None] = {}
        self.accepted = 0  # ever accepted into the queue
        self.left = 0  # ever taken out or evicted

    def __len__(self) -> int:
        return len(self._pushed) + len(self._feed)

    def put(self, event: Event) -> bool:
        """Add ``event`` without blocking; ``False`` if it was dropped because the queue is full."""
        wake = False
        pushed = event.pushed
        with self._lock:
            full = len(self._pushed) + len(self._feed) >= self.maxsize
            if pushed:
                if full:
                    self.dropped += 1
                    self.drop_reasons[QUEUE_FULL] = None
                    if not self._feed:
                        return False
                    self._feed.popleft()
                    self.left += 1
                self._pushed.append(event)
                wake = True
            else:
                if full:
                    self.dropped += 1
                    self.drop_reasons[QUEUE_FULL] = None
                    return False
                self._feed.append(event)
                n = len(self._feed)
                if n == 1:
                    self._feed_since = self._clock()
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
        """Up to ``limit`` events, pushed ones first, in arrival order within each lane, each complete
        (the logging thread queues :meth:`Event.pending` ones: they are built here, on the worker).
        An event that cannot be built is dropped and counted."""
        with self._lock:
            out: list[Event] = []
            while self._pushed and len(out) < limit:
                out.append(self._pushed.popleft())
            while self._feed and len(out) < limit:
                out.append(self._feed.popleft())
            if self._feed:
                self._feed_since = self._clock()
            self.left += len(out)
        whole = []
        for event in out:
            try:
                whole.append(event.complete())
            except Exception:
                self.give_back_dropped(1, "could not be built")
        return whole

    def levels(self) -> Counter[Level]:
        """How many occurrences the queued events stand for, by level (for the exit line)."""
        with self._lock:
            return occurrences(e for lane in (self._pushed, self._feed) for e in lane)

    def take_dropped(self) -> int:
        with self._lock:
            dropped, self.dropped = self.dropped, 0
            self.drop_reasons.clear()
            return dropped

    def confirm_dropped(self, n: int) -> None:
        """The hub recorded ``n`` of the drops (read, not taken, when the request was built): until
        then they stay counted here, so a close while the request is in flight still spools them."""
        if n:
            with self._lock:
                self.dropped = max(0, self.dropped - n)
                if not self.dropped:
                    self.drop_reasons.clear()

    def give_back_dropped(self, n: int, reason: str) -> None:
        """Count ``n`` events lost outside the queue (refused, given up, ...) because of ``reason``."""
        if n:
            with self._lock:
                self.dropped += n
                self.drop_reasons[reason] = None

    def dropped_report(self) -> tuple[int, str]:
        """The drops the hub has not heard of and why (``"queue full; hub answered 400"``)."""
        with self._lock:
            return self.dropped, "; ".join(self.drop_reasons)


class Backlog(Protocol):
    """Events taken from the queue and not yet delivered (memory, or :class:`pushlog._spool.Spool`)."""

    durable: bool

    def room(self) -> int: ...
    def add(self, events: list[Event]) -> int: ...
    def peek(self, limit: int) -> list[Event]: ...
    def remove(self, ids: list[str]) -> None: ...
    def failed(self, ids: list[str]) -> int: ...
    def recovered(self, ids: list[str]) -> int: ...
    def levels(self) -> Counter[Level]: ...
    def take_carried(self) -> int: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...


class MemoryBacklog:
    """At most one batch in memory; a batch that failed ``max_retries + 1`` times is given up."""

    durable = False

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

    def recovered(self, ids: list[str]) -> int:
        return 0  # memory never holds another process's events

    def levels(self) -> Counter[Level]:
        return occurrences(list(self._events))

    def take_carried(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self._events)

    def close(self) -> None:
        """Nothing to release; what is left stays readable for the exit line."""


class Worker(threading.Thread):
    """The daemon thread behind a client. Progress is published through :attr:`progress`.

    It does not die of a bad event (dropped and counted) nor of an unexpected error in a cycle (noted
    on stderr, the loop goes on). Should the thread end anyway, :attr:`died` tells the client, which
    starts a new one.
    """

    def __init__(
        self,
        *,
        transport: HubTransport,
        queue: EventQueue,
        make_backlog: Callable[[], Backlog],
        redactor: Redactor,
        housekeeping: Callable[[], None],
        note: StderrNote,
        batch_size: int,
        linger: float,
        clock: Clock = SYSTEM_CLOCK,
        tick: float = 1.0,
    ) -> None:
        super().__init__(name="pushlog-worker", daemon=True)
        self._transport = transport
        self._clock = clock
        self.queue = queue
        self._make_backlog = make_backlog
        self._redactor = redactor
        self._housekeeping = housekeeping
        self._note = note
        self._batch_size = batch_size
        self._limit = batch_size  # lowered while a rejected batch is split to find its bad event
        self._linger = linger
        self._tick = tick
        self.stopping = threading.Event()
        self.poke = threading.Event()  # a flush or close wants the worker to look now
        self.hurry = False  # a flush asked for one attempt now instead of after the backoff
        self.progress = threading.Condition(threading.Lock())
        #: Held while events are between the queue and the backlog; the exit path takes it before it
        #: moves what is left in the queue to the spool itself.
        self.moving = threading.Lock()
        self.flush_target = 0  # while queue.left < flush_target, feed-only events do not linger
        self.backlog: Backlog | None = None
        self.backlog_size = 0
        self.moved = 0  # queue.left as of the last published progress
        self.lost = 0  # events rejected or given up, ever
        self.sent = 0
        self.attempts = 0  # POSTs made, ever
        self.last_failure: str | None = None  # reason of the last failed POST, None after a success
        self.last_refused = False  # the last POST found nothing listening (connection refused)
        self.told_to_wait = False  # the last failure came with Retry-After (a flush does not hurry it)
        #: time.monotonic() of the last accepted POST: real time, like the process-wide marks of
        #: unresponsive hubs it is compared with (not the injected clock).
        self.last_sent_at = float("-inf")
        self.posting = False  # a POST is in flight
        self.retry_at = 0.0
        self.died = False
        self._spooler: threading.Thread | None = None
        self._attempt = 0
        self.ready = threading.Event()

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        finished = False
        try:
            self._run()
            finished = True
        finally:
            self.died = not finished
            with self.progress:
                self.progress.notify_all()

    def _run(self) -> None:
        backlog: Backlog
        try:
            backlog = self._make_backlog()
        except Exception as exc:
            self._note(f"cannot open the spool ({exc}); keeping events in memory")
            backlog = MemoryBacklog(batch_size=self._batch_size, max_retries=5)
        self.backlog = backlog
        self.backlog_size = len(backlog)
        try:
            # drops an earlier process kept
            self.queue.give_back_dropped(backlog.take_carried(), "in an earlier process")
        except Exception as exc:
            self._note(f"cannot read the spool's drop count: {exc!r}")
        if backlog.durable:
            # Queue -> disk runs on its own thread, so a POST that hangs never keeps events off the disk.
            self._spooler = threading.Thread(target=self._spool_loop, name="pushlog-spooler", daemon=True)
            self._spooler.start()
        self.ready.set()
        last_housekeeping = 0.0
        try:
            while True:
                try:
                    self._wait(backlog)
                    now = self._clock()
                    if now - last_housekeeping >= self._tick:
                        last_housekeeping = now
                        self._housekeeping()
                    self._cycle(backlog)
                except Exception as exc:  # the thread must outlive any one failure
                    self._note(f"internal error in the worker, carrying on: {exc!r}")
                    self._clock.wait(self.stopping, self._tick)
                self._publish(backlog)
                if self.stopping.is_set():
                    idle = not len(self.queue) and not len(backlog)
                    if idle or self.retry_at > self._clock():
                        return
        finally:
            self._publish(backlog)
            backlog.close()
            self._transport.close()

    def _spooling(self) -> bool:
        return self._spooler is not None and self._spooler.is_alive()

    def _wait(self, backlog: Backlog) -> None:
        if self.stopping.is_set():
            return
        now = self._clock()
        retry_in = 0.0 if self.hurry else max(0.0, self.retry_at - now)
        if self._spooling() or not backlog.room():
            # The spooler moves the queue, or a batch waits for its retry: new events in the queue are
            # not this loop's business, only the spooler's poke, a flush or the retry time.
            timeout = min(self._tick, retry_in) if len(backlog) else self._tick
            if timeout > 0:
                self._clock.wait(self.poke, timeout)
            self.poke.clear()
            return
        flushing = self.queue.left < self.flush_target
        due = self.queue.due_in(0.0 if flushing else self._linger, now=now)
        timeout = self._tick if due is None else min(self._tick, due)
        if len(backlog):
            timeout = min(timeout, retry_in)
        if timeout > 0:
            self._clock.wait(self.queue.wake, timeout)
        self.queue.wake.clear()
        self.poke.clear()

    def _spool_loop(self) -> None:
        """Move queued events to the spool within :data:`SPOOL_WITHIN` of their arrival."""
        try:
            spool = self._make_backlog()
        except Exception as exc:  # the sending loop moves events itself then
            self._note(f"cannot open the spool for writing ({exc}); the sending thread writes it")
            return
        try:
            while True:
                try:
                    stopping = self.stopping.is_set()
                    flushing = stopping or self.queue.left < self.flush_target
                    due = self.queue.due_in(0.0 if flushing else SPOOL_WITHIN, now=self._clock())
                    if due is not None and due <= 0 and spool.room() > 0:
                        with self.moving:
                            self.move(spool)
                        self.poke.set()
                        continue
                    if stopping:
                        return
                    self._clock.wait(self.queue.wake, SPOOL_WITHIN if due is None else max(0.005, due))
                    self.queue.wake.clear()
                except Exception as exc:
                    self._note(f"internal error while spooling, carrying on: {exc!r}")
                    self._clock.wait(self.stopping, self._tick)
        finally:
            spool.close()

    def _cycle(self, backlog: Backlog) -> None:
        now = self._clock()
        flushing = self.queue.left < self.flush_target or self.stopping.is_set()
        due = self.queue.due_in(0.0 if flushing else self._linger, now=now)
        if due is not None and due <= 0 and backlog.room() > 0 and not self._spooling():
            with self.moving:
                self.move(backlog)
        if len(backlog) and (self.hurry or self._clock() >= self.retry_at):
            self.hurry = False
            self._send(backlog)

    def move(self, backlog: Backlog) -> None:
        """Take what the backlog has room for from the queue, redact it and add it to the backlog.

        An event the backlog cannot store (its wire form cannot be encoded) is dropped and counted.
        Called with :attr:`moving` held."""
        events = self.queue.take(min(backlog.room(), self._batch_size * 10))
        if not events:
            return
        for event in events:
            try:
                self._redactor.event(event)
            except Exception as exc:  # never send unredacted
                event.title, event.body, event.metadata = "[redaction failed]", None, {}
                self._note(f"redaction failed: {exc!r}")
        try:
            overflow = backlog.add(events)
        except Exception:  # an event the spool cannot encode: store the others
            events = self._drop_bad(events)
            overflow = backlog.add(events)
        if overflow:
            self.queue.give_back_dropped(overflow, "spool full")

    def _drop_bad(self, events: list[Event]) -> list[Event]:
        good, bad = screen(events)
        if bad:
            self.lost += len(bad)
            self.queue.give_back_dropped(len(bad), "not encodable as JSON")
            self._note(f"dropped {len(bad)} event(s) that cannot be encoded as JSON")
        return good

    def _payload(
        self, backlog: Backlog, events: list[Event], dropped: int
    ) -> tuple[list[Event], bytes] | None:
        """The request body for ``events`` (fewer if it would be too large); ``None`` when bad events
        had to be removed from the backlog first."""
        try:
            body = b""
            while not body or (len(body) > MAX_BATCH_BYTES and len(events) > 1):
                if body:
                    events = events[: len(events) // 2]
                recovered = backlog.recovered([e.id for e in events])
                body = build_payload(events, dropped=dropped, recovered=recovered)
        except Exception:  # repair or drop what cannot be encoded, keep the rest
            good = {id(e) for e in self._drop_bad(events)}
            backlog.remove([e.id for e in events if id(e) not in good])
            return None
        return events, body

    def _send(self, backlog: Backlog) -> None:
        while len(backlog):
            dropped = self.queue.dropped  # taken only once the hub has recorded it
            prepared = self._payload(backlog, backlog.peek(self._limit), dropped)
            if prepared is None:
                continue
            events, body = prepared
            ids = [event.id for event in events]
            self.posting = True
            try:
                with suppressed():  # an instrumented httpx must not trace (or log) our own requests
                    result = self._transport.attempt(EVENTS_PATH, body)
            finally:
                self.posting = False
            self.attempts += 1
            if result.outcome is Outcome.SENT:
                self.queue.confirm_dropped(dropped)
                backlog.remove(ids)
                refused = _refused_events(result.data)
                if refused:  # the hub stored the others; these it named as invalid, each on its own
                    # counted before flush() can see them lost
                    self.queue.give_back_dropped(len(refused), "refused by the hub as invalid")
                    self.lost += len(refused)
                    self._note(f"hub refused {len(refused)} event(s) of a batch ({refused[0]}); dropped them")
                self.sent += len(ids) - len(refused)
                self._attempt = 0
                self.retry_at = 0.0
                self.last_failure = None
                self.last_refused = False
                self.last_sent_at = time.monotonic()
                if self._limit < self._batch_size and len(ids) >= self._limit:
                    self._limit = min(self._batch_size, self._limit * 2)
            elif result.outcome is Outcome.REJECTED:
                if result.status in _PER_EVENT_STATUSES and len(ids) > 1:
                    self._limit = max(1, len(ids) // 2)  # find the bad event: send halves
                    continue
                backlog.remove(ids)
                self.lost += len(ids)
                self.queue.give_back_dropped(len(ids), _reason(result))
                self._attempt = 0
                self._limit = self._batch_size
                self._note(f"hub refused {len(ids)} event(s) ({result.status} {result.detail}); dropped them")
            else:
                lost = backlog.failed(ids)
                delay = retry_delay(self._attempt, result)
                self._attempt += 1
                self.retry_at = self._clock() + delay
                self.last_failure = _reason(result)
                self.told_to_wait = result.retry_after is not None
                self.last_refused = self.last_failure == "connection refused"
                if lost:
                    self.lost += lost
                    self.queue.give_back_dropped(lost, f"{self.last_failure}, retries used up")
                    self._attempt = 0
                    self._note(f"hub unreachable ({result.status or result.detail}); gave up {lost} event(s)")
                return
            self._publish(backlog)

    def _publish(self, backlog: Backlog) -> None:
        with self.moving:  # never count an event as left the queue while it is not yet in the backlog
            moved, size = self.queue.left, len(backlog)
        with self.progress:
            self.moved = moved
            self.backlog_size = size
            self.progress.notify_all()

    # ---- for the client ---------------------------------------------------------------------------
    def drained(self, target: int) -> bool:
        """Whether every event accepted before ``target`` left the queue and the backlog is empty."""
        return self.moved >= target and self.backlog_size == 0


def _refused_events(data: object) -> list[str]:
    """The messages of the events a 202 answer lists under ``rejected`` (the rest were stored)."""
    rejected = data.get("rejected") if isinstance(data, dict) else None
    if not isinstance(rejected, list):
        return []
    messages = []
    for item in rejected:
        error = item.get("error") if isinstance(item, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        messages.append(str(message) if message else "invalid event")
    return messages
