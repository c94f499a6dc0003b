"""The engine behind :class:`~pushlog.PushHandler` and ``pushlog.log/notify/critical``.

``Client.capture(event)`` runs on the caller's thread and never raises or blocks:

    capture sink (pushlog.testing)?  -> redact, record, done
    inert (no DSN)?                  -> done
    dedup: a repeat within the window is only counted
    rate limit: over the push budget the event is sent feed-only (push: false), counted
    bounded queue (put_nowait)       -> lazily started daemon worker: redact, batch, POST /v1/events

Lifecycle: ``flush(timeout)`` is bounded and says whether everything went out (it gives up at once
when nothing listens, or when the hub asked to wait longer than the bound); ``close()`` is idempotent
and says on stderr, in one line, what it could not deliver; one ``atexit`` hook closes every client
within one shared ``flush_timeout`` (and not at all when a flush already found the hub unresponsive and
nothing got through since); after ``os.fork()`` the child starts over with an empty queue, no thread and
a new HTTP client, so the parent's backlog is never sent twice. A worker thread that ended anyway is
replaced at the next event or flush.

Seams for tests, as in httpx: ``transport=`` (any ``httpx.BaseTransport``) is what the client's one
:class:`~pushlog._transport.HubTransport` sends through, and ``clock=`` (a :class:`~pushlog._clock.Clock`)
is what the queue, the worker, the dedup window and the push budget read and wait on. ``flush`` and
``close`` timeouts stay in real time: they bound how long the caller waits.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import os
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from types import FrameType

from ._clock import SYSTEM_CLOCK, Clock
from ._dedup import Deduplicator, event_key, fingerprint_of
from ._dsn import DSN, DSNError, dsn_from_env, parse_dsn
from ._event import Event
from ._levels import Level
from ._ratelimit import PushLimiter
from ._snapshot import add_trace_ids, coerce_reserved, host_name, safe_metadata, safe_str, split_message
from ._transport import HubTransport, StderrNote, load_http
from ._worker import Backlog, EventQueue, MemoryBacklog, Worker

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Any, Final

    import httpx

    from ._redact import Redactor

#: Set by :func:`pushlog.testing.capture_events`: events captured in this context go to the list
#: instead of the hub (after redaction; no dedup, no rate limit, works without a DSN).
CAPTURE: Final[contextvars.ContextVar[list[Event] | None]] = contextvars.ContextVar(
    "pushlog_capture", default=None
)

_INERT_NOTED = threading.Event()
_INERT_MESSAGE: Final = (
    "PUSHLOG_DSN is not set; pushlog is inert and sends nothing "
    "(set PUSHLOG_DSN=http(s)://<publish-key>@<host>[:port] to enable it)"
)


def _as_bool(value: object, name: str) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return bool(value)


def _as_number(value: object, name: str, *, minimum: float = 0.0) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, not {number:g}")
    return number


def _as_strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    raise ValueError(f"{name} must be a list of strings or a comma-separated string")


class Client:
    """Sends events to a pushlog hub from any thread without blocking it.

    ``dsn`` defaults to ``PUSHLOG_DSN``; without one the client is *inert* (says so once on stderr,
    accepts everything, sends nothing). Every option is keyword-only and accepts plain strings and
    numbers, so it can come from ``dictConfig``; see docs/client.md for what each does.
    """

    def __init__(
        self,
        dsn: str | DSN | None = None,
        *,
        queue_size: int | str = 10_000,
        batch_size: int | str = 100,
        linger: float | str = 0.5,
        timeout: float | str = 5.0,
        max_retries: int | str = 5,
        flush_timeout: float | str = 2.0,
        dedup_window: float | str = 60.0,
        rate_limit: bool | str = True,
        push_burst: int | str = 10,
        push_per_minute: float | str = 6.0,
        critical_burst: int | str = 5,
        critical_per_minute: float | str = 2.0,
        redact: bool | str = True,
        redact_keys: Iterable[str] | str | None = None,
        redact_patterns: Iterable[str] | str | None = None,
        spool: str | os.PathLike[str] | None = None,
        spool_max_events: int | str = 100_000,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._dsn = self._resolve_dsn(dsn)
        self.queue_size = int(_as_number(queue_size, "queue_size", minimum=1))
        self.batch_size = int(_as_number(batch_size, "batch_size", minimum=1))
        self.linger = _as_number(linger, "linger")
        self.timeout = _as_number(timeout, "timeout", minimum=0.01)
        self.max_retries = int(_as_number(max_retries, "max_retries"))
        self.flush_timeout = _as_number(flush_timeout, "flush_timeout")
        self.dedup_window = _as_number(dedup_window, "dedup_window")
        self.rate_limit = _as_bool(rate_limit, "rate_limit")
        self._limits = {
            "push_burst": int(_as_number(push_burst, "push_burst", minimum=1)),
            "push_per_minute": _as_number(push_per_minute, "push_per_minute"),
            "critical_burst": int(_as_number(critical_burst, "critical_burst", minimum=1)),
            "critical_per_minute": _as_number(critical_per_minute, "critical_per_minute"),
        }
        from ._redact import Redactor  # its compiled rules load with the first client, not the package

        self.redactor: Redactor = Redactor(
            enabled=_as_bool(redact, "redact"),
            keys=_as_strings(redact_keys, "redact_keys"),
            patterns=_as_strings(redact_patterns, "redact_patterns"),
        )
        self.spool_path = os.fspath(spool) if spool else None
        self.spool_max_events = int(_as_number(spool_max_events, "spool_max_events", minimum=1))
        self._clock = clock
        self._http_transport = transport
        self._closed = False
        self._restart_noted = False
        self._fresh_state()
        os.register_at_fork(after_in_child=functools.partial(_reset_in_child, weakref.ref(self)))

    # ---- configuration ------------------------------------------------------------------------
    @staticmethod
    def _resolve_dsn(dsn: str | DSN | None) -> DSN | None:
        if isinstance(dsn, DSN):
            return dsn
        if dsn is not None and str(dsn).strip():
            return parse_dsn(str(dsn))  # an explicit bad DSN is a configuration error: raise
        try:
            found = dsn_from_env()
        except DSNError as exc:
            _note_once(f"{exc}; pushlog is inert and sends nothing")
            return None
        if found is None:
            _note_once(_INERT_MESSAGE)
        return found

    def _fresh_state(self) -> None:
        """(Re)create everything a process must not share with its parent."""
        self._lock = threading.Lock()
        self.queue = EventQueue(self.queue_size, batch_size=self.batch_size, clock=self._clock)
        self._hub: HubTransport | None = None
        if self._dsn is not None:
            self._hub = HubTransport(
                self._dsn, timeout=self.timeout, transport=self._http_transport, clock=self._clock
            )
            load_http()  # now, not in the worker's first send, whose time a flush at exit bounds
        self._worker: Worker | None = None
        #: Thread id of the worker (records logged on it are never turned into events); a plain
        #: attribute, read on every record.
        self.worker_ident: int | None = None
        self._dedup = Deduplicator(window=self.dedup_window, clock=self._clock)
        self._limiter = PushLimiter(clock=self._clock, **self._limits) if self.rate_limit else None  # type: ignore[arg-type]
        self._note = StderrNote(interval=60.0)
        self._pid = os.getpid()

    @property
    def dsn(self) -> DSN | None:
        return self._dsn

    @property
    def inert(self) -> bool:
        """True when there is no hub to send to (no DSN)."""
        return self._dsn is None

    @property
    def transport(self) -> HubTransport | None:
        """The client's one connection to its hub (``None`` when inert), for synchronous requests that
        are not events, such as ``pushlog.job``'s check-ins; shares the ``transport=`` and ``clock=``."""
        return self._hub

    @property
    def capturing(self) -> bool:
        """True inside :func:`pushlog.testing.capture_events` on this thread: nothing goes to the hub."""
        return CAPTURE.get() is not None

    # ---- the hot path -------------------------------------------------------------------------
    def check_repeat(self, key: Hashable) -> tuple[bool, str | None]:
        """Count one occurrence of ``key`` in the dedup window.

        ``(True, first_id)`` means it is a repeat and was only counted; ``(False, None)`` means the
        caller should build the event and pass it to :meth:`capture` with ``dedup_key=key``.
        """
        if self._dsn is None or CAPTURE.get() is not None:  # capture_events() sees every occurrence
            return False, None
        return self._dedup.seen(key)

    def capture(self, event: Event, *, dedup_key: Hashable | None = None) -> str | None:
        """Queue ``event`` for sending. Never raises, never blocks.

        Returns the id of the event that stands for it (the first occurrence's id for a counted repeat),
        or ``None`` when inert or closed. ``dedup_key`` means the caller already ran
        :meth:`check_repeat` for this key.
        """
        try:
            if not event.source:
                event.source = {"host": host_name(), "pid": os.getpid()}
            sink = CAPTURE.get()
            if sink is not None:
                sink.append(self.redactor.event(event))
                return event.id
            if self._dsn is None or self._closed:
                return None
            if dedup_key is None:
                dedup_key = event_key(event)
                repeat, first_id = self._dedup.seen(dedup_key)
                if repeat:
                    return first_id or event.id
            return self.queue_checked(event, dedup_key)
        except Exception as exc:  # never let the app see our failure; count it like any drop
            self.queue.give_back_dropped(1, "could not be queued")
            self._note(f"could not queue an event: {exc!r}")
            return None

    def queue_checked(self, event: Event, dedup_key: Hashable) -> str | None:
        """The rest of :meth:`capture`, for a caller that made its checks (PushHandler): ``event`` has
        a source, no capture sink is active and :meth:`check_repeat` found ``dedup_key`` new. Never
        raises or blocks; returns the event's id, ``None`` when closed or the event could not be queued."""
        try:
            if self._closed:
                return None
            if event.fingerprint is None:
                event.fingerprint = fingerprint_of(dedup_key)
            self._dedup.attach(dedup_key, event)
            limiter = self._limiter
            if limiter is not None and event.pushed:
                if limiter.held:  # budget back? the summary of what was held back goes first
                    held = limiter.take_summary()
                    if held:
                        self._enqueue(self._held_back_event(held))
                if not limiter.admit(event.level):
                    event.push = False
            self._enqueue(event)
            return event.id
        except Exception as exc:  # never let the app see our failure; count it like any drop
            self.queue.give_back_dropped(1, "could not be queued")
            self._note(f"could not queue an event: {exc!r}")
            return None

    def _enqueue(self, event: Event) -> None:
        worker = self._worker
        if worker is None or worker.died:  # a forked child gets None again from the at-fork hook
            self._start_worker()
        self.queue.put(event)

    def _held_back_event(self, held: int) -> Event:
        return Event(
            title=f"{held} push{'es' if held != 1 else ''} held back",
            level=Level.WARNING,
            body="pushlog's push rate limit sent them to the feed only; see the feed for each one.",
            push=True,
            fingerprint="pushlog.rate_limit",
            source={"logger": "pushlog", "module": "ratelimit", "host": host_name(), "pid": os.getpid()},
        )

    # ---- worker --------------------------------------------------------------------------------
    def _start_worker(self) -> None:
        with self._lock:
            dead = self._worker
            if dead is not None and not dead.died and self._pid == os.getpid():
                return
            if self._pid != os.getpid():  # forked without the at-fork hook (should not happen)
                self._fresh_state()
                dead = None
            assert self._hub is not None
            if dead is not None:
                lost = 0 if dead.backlog is None or dead.backlog.durable else len(dead.backlog)
                self.queue.give_back_dropped(lost, "the worker thread stopped")
                if not self._restart_noted:
                    self._restart_noted = True
                    _write_stderr(
                        "pushlog: the worker thread stopped unexpectedly; started a new one"
                        + (f" ({lost} event(s) it held are counted as dropped)" if lost else "")
                    )
            worker = Worker(
                transport=self._hub,
                queue=self.queue,
                make_backlog=self._make_backlog,
                redactor=self.redactor,
                housekeeping=self._housekeeping,
                note=self._note,
                batch_size=self.batch_size,
                linger=self.linger,
                clock=self._clock,
            )
            if dead is not None:
                worker.lost, worker.sent = dead.lost + lost, dead.sent
            worker.start()
            self._worker, self.worker_ident = worker, worker.ident
            _LIVE.add(self)
            _register_exit_hook()

    def _make_backlog(self) -> Backlog:
        if self.spool_path:
            from ._spool import Spool

            return Spool(self.spool_path, max_events=self.spool_max_events)
        return MemoryBacklog(batch_size=self.batch_size, max_retries=self.max_retries)

    def _housekeeping(self) -> None:
        """Run by the worker about once a second: dedup reports and the held-back summary."""
        for report in self._dedup.take_reports():
            self.queue.put(report)
        self._queue_held_back(force=False)

    def _queue_held_back(self, *, force: bool) -> None:
        limiter = self._limiter
        if limiter is not None and limiter.held:
            held = limiter.take_summary(force=force)
            if held:
                self.queue.put(self._held_back_event(held))

    # ---- lifecycle -----------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far, waiting at most ``timeout`` seconds (default ``flush_timeout``).

        Pending dedup counts are queued first, and a retry waiting out its
        backoff is tried at once. Returns True when everything queued before the call reached the hub
        (or there was nothing to send); False on timeout, give-up, or as soon as waiting cannot help:
        the hub refused the connection (nothing listens) or asked to wait longer than the bound.
        Never raises; safe to call while logging's lock is held (every wait is bounded).
        """
        try:
            if self._dsn is None:
                return True
            bound = self.flush_timeout if timeout is None else max(0.0, float(timeout))
            if self._closed:  # nothing is sent any more: say whether anything was left behind
                worker = self._worker
                return len(self.queue) == 0 and (worker is None or worker.backlog_size == 0)
            for report in self._dedup.take_reports(everything=True):
                self._enqueue(report)
            worker = self._worker
            if (worker is None and self.spool_path and os.path.exists(self.spool_path)) or (
                worker is not None and worker.died
            ):
                self._start_worker()  # an earlier process may have left events in the spool
            worker = self._worker
            if worker is None or self._pid != os.getpid():
                return len(self.queue) == 0
            if threading.get_ident() == worker.ident:
                return False
            return self._wait_drained(worker, time.monotonic() + bound)
        except Exception as exc:  # pragma: no cover - defensive
            self._note(f"flush failed: {exc!r}")
            return False

    def _wait_drained(self, worker: Worker, deadline: float) -> bool:
        target = self.queue.accepted
        if not worker.ready.wait(max(0.0, deadline - time.monotonic())):
            return False  # the backlog (a spool left by an earlier process?) is not even open yet
        lost_before, sent_before, attempts_before = worker.lost, worker.sent, worker.attempts
        started = time.monotonic()
        with worker.progress:
            worker.flush_target = max(worker.flush_target, target)
            worker.hurry = worker.last_failure is not None and not worker.told_to_wait
            worker.poke.set()
            self.queue.wake.set()
            while not worker.drained(target):
                failed = worker.last_failure is not None and worker.attempts > attempts_before
                retry_in = worker.retry_at - self._clock()  # the worker schedules on the client's clock
                hopeless = failed and (worker.last_refused or retry_in > deadline - time.monotonic())
                remaining = deadline - time.monotonic()
                if hopeless or remaining <= 0 or not worker.is_alive():
                    waited = time.monotonic() - started >= self.flush_timeout
                    if worker.sent == sent_before and (waited or worker.posting or worker.last_failure):
                        # a whole bound, or the hub itself, kept us waiting (not merely a short flush
                        # before the worker's first request): later shutdown paths skip this hub
                        _UNRESPONSIVE[self._dsn.events_url if self._dsn else ""] = time.monotonic()
                    return False
                worker.progress.wait(remaining)
        _UNRESPONSIVE.pop(self._dsn.events_url if self._dsn else "", None)
        return worker.lost == lost_before and self.queue.dropped == 0

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``, default ``flush_timeout``; not at all when :attr:`stalled`) and
        stop the worker. The "N pushes held back" summary goes out even without a push token left.
        What could not be delivered is written to the spool if there is one, and said
        in one line on stderr (how many, of which levels, why). Idempotent; later captures are ignored.
        Returns what the flush returned (True on repeated calls)."""
        if self.stalled:
            timeout = 0.0  # a flush found the hub unresponsive and nothing got through since
        if not self._closed and self._dsn is not None:
            self._queue_held_back(force=True)  # a process about to end never gets a push token back
        ok = self.flush(timeout)
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        _LIVE.discard(self)
        worker = self._worker
        if worker is not None and worker.is_alive() and worker.ident != threading.get_ident():
            worker.stopping.set()
            worker.poke.set()
            self.queue.wake.set()
            worker.join(0.5 if ok else 0.05)
        if worker is not None and self._pid == os.getpid():
            self._report_unsent(worker)
        if self._hub is not None and (worker is None or not worker.is_alive()):
            self._hub.close()  # job check-ins may have opened it; a live worker closes it itself
        return ok

    def _report_unsent(self, worker: Worker) -> None:
        """Keep what is left in the spool (if any) and say in one line what was not delivered."""
        try:
            levels = self.queue.levels()
            backlog = worker.backlog
            if self.spool_path:
                if not self._spool_rest(worker):
                    return
                where = f"kept in the spool {self.spool_path}; the next process that opens it sends them"
                levels = self._spool_levels(levels)
                counted = sum(levels.values())
            else:
                if backlog is not None:
                    levels += backlog.levels()
                dropped, why = self.queue.dropped_report()
                counted = sum(levels.values())
                if not counted:
                    if dropped:  # everything queued went out; only the earlier drops are left to say
                        _write_stderr(f"pushlog: {dropped} event(s) dropped earlier ({why})")
                    return
                where = "set spool= to keep undelivered events for the next start"
                if dropped:
                    where = f"{dropped} more dropped before ({why}); {where}"
            ranked = sorted(levels.items(), reverse=True)
            by_level = ", ".join(f"{n} {level.wire_name}" for level, n in ranked)
            reason = worker.last_failure or f"no answer within the flush bound ({self.flush_timeout:g}s)"
            _write_stderr(f"pushlog: {counted} event(s) not delivered ({by_level}): {reason}; {where}")
        except Exception as exc:  # pragma: no cover - defensive
            self._note(f"could not report undelivered events: {exc!r}")

    def _spool_rest(self, worker: Worker) -> int:
        """Move what is still queued (and the unreported drop count) into the spool, from this thread.
        Returns how many events the spool now holds."""
        from ._spool import Spool

        assert self.spool_path is not None
        if not worker.moving.acquire(timeout=1.0):  # the worker is stuck between queue and spool
            return len(self.queue)
        try:
            spool = Spool(self.spool_path, max_events=self.spool_max_events)
            try:
                while len(self.queue) and spool.room():
                    worker.move(spool)
                spool.carry_dropped(self.queue.take_dropped())
                return len(spool)
            finally:
                spool.close()
        finally:
            worker.moving.release()

    def _spool_levels(self, fallback: Counter[Level]) -> Counter[Level]:
        from ._spool import Spool

        assert self.spool_path is not None
        try:
            spool = Spool(self.spool_path, max_events=self.spool_max_events)
            try:
                return spool.levels()
            finally:
                spool.close()
        except Exception:
            return fallback

    @property
    def stalled(self) -> bool:
        """True when a flush found this client's hub unresponsive and nothing got through since:
        shutdown paths then skip waiting again (one flush bound in total)."""
        worker = self._worker
        if worker is None or self._dsn is None:
            return False
        marked = _UNRESPONSIVE.get(self._dsn.events_url)
        return marked is not None and worker.last_sent_at < marked

    @property
    def closed(self) -> bool:
        return self._closed

    def _after_fork_in_child(self) -> None:
        self._fresh_state()

    def __repr__(self) -> str:
        state = "inert" if self._dsn is None else ("closed" if self._closed else "open")
        return f"<pushlog.Client {state} {self._dsn!r}>"


def _reset_in_child(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client._after_fork_in_child()


#: Hubs (events URL) a flush found unresponsive, with when: a later flush of any client to the same hub
#: that saw no success since does not wait at exit again (a second dictConfig, an explicit failed flush).
_UNRESPONSIVE: dict[str, float] = {}
#: Clients with a started worker, closed together by the exit hook.
_LIVE: weakref.WeakSet[Client] = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()
_exit_hook_registered = False


def _register_exit_hook() -> None:
    global _exit_hook_registered
    with _EXIT_HOOK:
        if not _exit_hook_registered:
            atexit.register(close_all)  # runs before logging.shutdown, registered when logging loaded
            _exit_hook_registered = True


def close_all() -> None:
    """Close every client of this process within one shared bound (the largest ``flush_timeout``)."""
    clients = [c for c in list(_LIVE) if not c.closed and c._pid == os.getpid()]
    if not clients:
        return
    deadline = time.monotonic() + max(c.flush_timeout for c in clients)
    for client in clients:
        client.close(max(0.0, deadline - time.monotonic()))


_SIGTERM_INSTALLED: list[object] = []


def install_sigterm_flush() -> bool:
    """Make SIGTERM (docker stop, systemd, Kubernetes) flush like a normal exit, for apps without a
    SIGTERM handler of their own.

    Installs a handler that closes every client within one ``flush_timeout`` and then does what the
    previous disposition did: the default (end the process by SIGTERM) or a handler installed before
    this call (called next). An app's own handler is never replaced: if SIGTERM is ignored, or this is
    not the main thread, nothing is installed. Returns whether the handler is installed. Idempotent.
    """
    import signal  # with the first handler that asks for it, not with import pushlog

    try:
        if _SIGTERM_INSTALLED:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN or previous is None:
            return False
    except Exception:  # never break the app over this
        return False

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # The signal may arrive while this thread holds the queue's lock: close on a helper thread and
        # wait for it with a bound, so a lock held here can cost the bound but never hang the process.
        clients = [c for c in list(_LIVE) if not c.closed]
        bound = max((c.flush_timeout for c in clients), default=0.0) + 1.0
        helper = threading.Thread(target=close_all, name="pushlog-sigterm", daemon=True)
        helper.start()
        helper.join(bound)
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    _SIGTERM_INSTALLED.append(on_sigterm)
    return True


def _write_stderr(line: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    except Exception:
        pass


def _note_once(message: str) -> None:
    if _INERT_NOTED.is_set():
        return
    _INERT_NOTED.set()
    try:
        if sys.stderr is not None:
            sys.stderr.write(f"pushlog: {message}\n")
    except Exception:
        pass


# ---- the default client and the module-level calls ------------------------------------------------
class _DefaultSlot:
    """Holds the lazily created default client (configured from ``PUSHLOG_DSN``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: Client | None = None

    def get(self) -> Client:
        client = self.client
        if client is None or client.closed:
            with self.lock:
                client = self.client
                if client is None or client.closed:
                    client = self.client = Client()
        return client

    def swap(self, client: Client | None) -> Client | None:
        with self.lock:
            previous, self.client = self.client, client
        return previous

    def after_fork(self) -> None:
        self.lock = threading.Lock()


_DEFAULT: Final = _DefaultSlot()
os.register_at_fork(after_in_child=_DEFAULT.after_fork)


def get_default_client() -> Client:
    """The process-wide client used by ``pushlog.log/notify/critical/flush`` and by a ``PushHandler``
    built without a DSN or options. Created on first use from ``PUSHLOG_DSN``; fork-safe."""
    return _DEFAULT.get()


def existing_default_client() -> Client | None:
    """The default client if one was created or set (and is open), without creating one."""
    client = _DEFAULT.client
    return client if client is not None and not client.closed else None


def set_default_client(client: Client | None) -> Client | None:
    """Make ``client`` the default client; returns the previous one (not closed: that is yours to do).

    ``set_default_client(None)`` forgets the current default, so the next ``pushlog.notify()`` (or
    ``PushHandler()``) creates a fresh one from ``PUSHLOG_DSN``: in tests, call it after changing the
    environment, and again when done. Passing a configured ``Client`` makes the module-level calls use
    its options (spool, rate limits, redaction) instead of the defaults.
    """
    return _DEFAULT.swap(client)


def make_event(
    level: Level,
    title: object,
    fields: Mapping[str, Any],
    metadata: Mapping[str, Any],
    *,
    depth: int = 2,
) -> Event:
    """Build an explicit event (``log``/``notify``/``critical``). Never raises for odd values."""
    head, rest = split_message(safe_str(title))
    event = Event(title=head, level=level)
    for key, value in fields.items():
        coerce_reserved(key, value, event)
    if event.body is None and rest:
        event.body = rest
    meta = safe_metadata(metadata) if metadata else {}
    add_trace_ids(meta)
    event.metadata = meta
    try:
        frame = sys._getframe(depth)
        module = str(frame.f_globals.get("__name__", "?"))
        line = frame.f_lineno
    except Exception:
        module, line = "?", 0
    event.source = {
        "logger": module,
        "module": f"{module.rsplit('.', 1)[-1]}:{line}",
        "host": host_name(),
        "pid": os.getpid(),
    }
    return event


def emit(level: Level, title: object, fields: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    """Shared body of log/notify/critical (called from them, hence ``depth=3``)."""
    try:
        client = get_default_client()
        if client.inert and CAPTURE.get() is None:
            return None
        return client.capture(make_event(level, title, fields, metadata, depth=3))
    except Exception:
        return None
