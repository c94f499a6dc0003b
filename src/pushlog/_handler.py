"""``pushlog.PushHandler``: a :class:`logging.Handler` that turns records into events.

On the logging thread it only decides and snapshots: skip (own loggers, the worker thread, records a
structlog processor already pushed), dedup check (before any formatting), then :func:`snapshot` and a
non-blocking hand-off to the :class:`~pushlog.Client`. Everything slow happens on the client's worker.
"""

from __future__ import annotations

import logging
import threading
from _thread import get_ident
from collections import OrderedDict
from collections.abc import Hashable

from ._client import CAPTURE, Client, _as_bool, get_default_client, install_sigterm_flush
from ._dedup import fingerprint_of
from ._levels import FEED_FLOOR, parse_level
from ._snapshot import RECORD_EVENT_ID, STRUCTLOG_MARKER, dedup_key, snapshot
from ._transport import StderrNote

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Any, Final

#: Loggers whose records are never turned into events: pushlog itself and its HTTP stack. Without this
#: a handler on the root logger at DEBUG would feed on its own requests.
IGNORED_LOGGERS: Final = frozenset({"pushlog", "httpx", "httpcore", "h2", "hpack", "h11", "urllib3"})


class _SentRecords:
    """Records a structlog ``PushProcessor`` turned into events from inside a ``ProcessorFormatter``.

    ProcessorFormatter formats a *copy* of each record, so a mark set there never reaches the record
    other handlers see. The processor remembers the record here instead (by name, creation time, line
    and thread, which the copy shares with the original), and :class:`PushHandler` skips what is
    remembered. Bounded; checked only once a processor has used it, so plain logging pays nothing.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.active = False
        self._keys: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(record: logging.LogRecord) -> tuple[Any, ...]:
        return (record.name, record.created, record.lineno, record.thread)

    def add(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.active = True
            self._keys[self._key(record)] = None
            if len(self._keys) > self.size:
                self._keys.popitem(last=False)

    def __contains__(self, record: logging.LogRecord) -> bool:
        if not self.active:
            return False
        with self._lock:
            return self._key(record) in self._keys


SENT_RECORDS: Final = _SentRecords()


def ignored_record(record: logging.LogRecord, client: Client) -> bool:
    """Whether ``record`` must never become an event: it comes from pushlog or its HTTP stack, from the
    client's worker thread, or it already became one (a PushHandler or a PushProcessor sent it)."""
    if record.name.partition(".")[0] in IGNORED_LOGGERS or threading.get_ident() == client.worker_ident:
        return True
    attrs = record.__dict__
    if attrs.get(STRUCTLOG_MARKER) or attrs.get(RECORD_EVENT_ID):
        return True
    msg = record.msg
    return (type(msg) is dict and bool(msg.get(STRUCTLOG_MARKER))) or record in SENT_RECORDS


def _level_number(level: object) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level  # keep custom numeric levels exactly
    return int(parse_level(level))


class PushHandler(logging.Handler):
    """Send log records to a pushlog hub: WARNING and up are pushed, INFO goes to the feed.

    ``dsn`` defaults to ``PUSHLOG_DSN``; without it the handler is inert (one note on stderr).
    ``client`` shares an existing :class:`~pushlog.Client` (the handler then never closes it); other
    keyword arguments are :class:`~pushlog.Client` options (see docs/client.md). With no DSN, client or
    options, the handler uses the process's default client, the one ``pushlog.flush()`` flushes.
    ``flush_on_sigterm=True`` calls :func:`pushlog.install_sigterm_flush` (SIGTERM then flushes like
    a normal exit). Construction does no network I/O; ``emit`` never raises and never blocks.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        level: int | str = FEED_FLOOR,
        client: Client | None = None,
        flush_on_sigterm: bool | str = False,
        **options: Any,
    ) -> None:
        super().__init__(level=_level_number(level))
        if _as_bool(flush_on_sigterm, "flush_on_sigterm"):
            install_sigterm_flush()
        if client is not None and (dsn is not None or options):
            raise ValueError("pass either client= or dsn=/client options to PushHandler, not both")
        if client is not None:
            self.client, self._owns_client = client, False
        elif dsn is None and not options:
            self.client, self._owns_client = get_default_client(), False
        else:
            self.client, self._owns_client = Client(dsn, **options), True
        self._note = StderrNote(interval=60.0)
        self._fingerprints: dict[Hashable, str] = {}  # per call site: hashing once is enough
        self._ignored: dict[str, bool] = {}  # logger name -> one of IGNORED_LOGGERS or below
        self._sources: dict[tuple[Any, ...], dict[str, Any]] = {}  # call site -> event source

    # logging.Handler.handle takes the handler's lock around emit(); the client's queue is thread-safe,
    # so skip it: one lock less on the hot path, and no lock to be stuck on when logging under a fork.
    def handle(self, record: logging.LogRecord) -> Any:
        rv = self.filter(record) if self.filters else True
        if rv:
            if isinstance(rv, logging.LogRecord):
                record = rv
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        try:
            client = self.client
            name = record.name
            ignored = self._ignored.get(name)
            if ignored is None:
                if len(self._ignored) > 4096:
                    self._ignored.clear()
                ignored = self._ignored[name] = name.partition(".")[0] in IGNORED_LOGGERS
            if ignored or get_ident() == client.worker_ident:
                return
            msg = record.msg
            if type(msg) is dict and msg.get(STRUCTLOG_MARKER):
                return
            if record.__dict__.get(STRUCTLOG_MARKER):
                return
            if SENT_RECORDS.active and record in SENT_RECORDS:  # a PushProcessor sent it already
                return
            capturing = CAPTURE.get() is not None
            if client.inert and not capturing:
                return
            key = dedup_key(record)
            if not capturing:  # capture_events() sees every record: no dedup there
                repeat, first_id = client.check_repeat(key)
                if repeat:
                    if first_id is not None:
                        setattr(record, RECORD_EVENT_ID, first_id)
                    return
            fingerprint = None
            if record.__dict__.get("fingerprint") is None:
                fingerprint = self._fingerprints.get(key)
                if fingerprint is None:
                    if len(self._fingerprints) >= 4096:
                        self._fingerprints.clear()
                    fingerprint = self._fingerprints[key] = fingerprint_of(key)
            # queued events are completed by the worker; a capture sink gets them whole
            event = snapshot(record, fingerprint=fingerprint, sources=self._sources, later=not capturing)
            setattr(record, RECORD_EVENT_ID, event.id)
            if capturing:
                client.capture(event, dedup_key=key)
            else:
                client.queue_checked(event, key)
        except Exception as exc:
            self._note(f"PushHandler could not handle a record from {record.name!r}: {exc!r}")

    def flush(self) -> None:
        """Bounded: waits at most the client's ``flush_timeout`` (default 2 s), and not at all when the
        previous flush timed out without progress since (logging.shutdown and dictConfig call flush and
        then close on every handler, while holding logging's lock)."""
        self.client.flush(0.0 if self.client.stalled else None)

    def close(self) -> None:
        """Flush (bounded) and, if the handler created its client, close it. Idempotent."""
        try:
            if self._owns_client:
                self.client.close()
            else:
                self.client.flush(0.0 if self.client.stalled else None)
        finally:
            super().close()

    def __repr__(self) -> str:
        return f"<PushHandler ({logging.getLevelName(self.level)}) {self.client!r}>"
