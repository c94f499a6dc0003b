"""Fingerprints and the dedup window: a storm of identical events becomes one event plus a count.

The first occurrence of a fingerprint goes out at once. Repeats within ``window`` seconds (default 60)
are only counted, under one lock and before any formatting, so a repeat costs less than the first
record. When the window ends (found by the worker's periodic sweep, by the next occurrence, or by a
flush) the repeats are reported as one feed-only follow-up event: a copy of the first with a new id,
``repeat_of`` = the first event's id, ``count`` = the number of repeats, the same ``fingerprint`` and
``push: false``. The hub folds the follow-up into the first event's line (its count grows by the
follow-up's), so 1,000 identical errors are one push and one feed line showing "x1000". Every report
carries only the repeats counted since the previous one, and each report has its own id (the hub's
idempotency key), so a retried report is a duplicate and the total is exact. The fingerprint is also
the collapse key the hub gives push services.

The clock is injected (a ``() -> float`` of seconds, monotonic), so tests are deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from ._event import MAX_FINGERPRINT, Event, new_event_id, now_utc

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Any


def fingerprint_of(key: Hashable) -> str:
    """A stable 32-hex fingerprint for a dedup key (an explicit fingerprint string is kept as is)."""
    if isinstance(key, tuple) and len(key) == 2 and key[0] == "fp":
        return str(key[1])[:MAX_FINGERPRINT]
    import hashlib  # OpenSSL's libcrypto: loaded with the first event, not with ``import pushlog``

    return hashlib.sha256(repr(key).encode("utf-8", "backslashreplace")).hexdigest()[:32]


def event_key(event: Event) -> Hashable:
    """The dedup key of an explicit event: its ``fingerprint``, or level, title, body, channel,
    logger and metadata (so two payments for different customers are two events)."""
    if event.fingerprint:
        return ("fp", event.fingerprint)
    meta = tuple(sorted((str(k), _frozen(v)) for k, v in event.metadata.items()))
    return (
        "event",
        int(event.level),
        event.title,
        event.body,
        event.channel,
        event.source.get("logger"),
        meta,
    )


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class _Entry:
    """One fingerprint's window: when it opened, the first event and the repeats counted since."""

    __slots__ = ("event", "first_id", "first_seen", "repeats")

    def __init__(
        self, first_seen: float, first_id: str | None = None, event: Event | None = None, repeats: int = 0
    ) -> None:
        self.first_seen, self.first_id, self.event, self.repeats = first_seen, first_id, event, repeats

    def copy(self) -> _Entry:
        return _Entry(self.first_seen, self.first_id, self.event, self.repeats)


class Deduplicator:
    """Counts repeats of fingerprints within a window. Thread-safe.

    ``window <= 0`` disables dedup (every occurrence is new).
    """

    def __init__(
        self, *, window: float = 60.0, clock: Callable[[], float], max_entries: int = 10_000
    ) -> None:
        self.window = float(window)
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self._ended: list[_Entry] = []

    def seen(self, key: Hashable) -> tuple[bool, str | None]:
        """Record one occurrence of ``key``.

        Returns ``(True, first_id)`` for a repeat inside the window (counted; ``first_id`` is the id of
        the event that stands for it, or ``None`` if that event is still being built), or
        ``(False, None)`` for a first occurrence, which the caller must :meth:`attach` an event to.
        """
        if self.window <= 0:
            return False, None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if now - entry.first_seen < self.window:
                    entry.repeats += 1
                    return True, entry.first_id
                if entry.repeats:
                    self._ended.append(entry)
            elif len(self._entries) >= self._max_entries:
                self._evict_locked(now)
            self._entries[key] = _Entry(first_seen=now)
            return False, None

    def attach(self, key: Hashable, event: Event) -> None:
        """Remember ``event`` as the one standing for ``key`` (used to build the repeat report)."""
        if self.window <= 0:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.event is None:
                entry.event = event
                entry.first_id = event.id

    def take_reports(self, *, everything: bool = False) -> list[Event]:
        """Follow-up events for windows that ended (all pending repeats when ``everything``).

        With ``everything`` (a flush), the counted repeats are reported and reset, but the window keeps
        running, so a flush in the middle of a storm does not start a second push.
        """
        if self.window <= 0:
            return []
        now = self._clock()
        with self._lock:
            ended, self._ended = self._ended, []
            for key, entry in list(self._entries.items()):
                if now - entry.first_seen >= self.window:
                    del self._entries[key]
                    if entry.repeats:
                        ended.append(entry)
                elif everything and entry.repeats and entry.event is not None:
                    ended.append(entry.copy())
                    entry.repeats = 0
        return [report for entry in ended if (report := _report(entry)) is not None]

    def _evict_locked(self, now: float) -> None:
        for key, entry in list(self._entries.items()):
            if now - entry.first_seen >= self.window:
                del self._entries[key]
                if entry.repeats:
                    self._ended.append(entry)
        if len(self._entries) >= self._max_entries:  # all live: drop the oldest, reporting its repeats
            key = next(iter(self._entries))
            entry = self._entries.pop(key)
            if entry.repeats:
                self._ended.append(entry)


def _report(entry: _Entry) -> Event | None:
    if entry.event is None or entry.repeats <= 0:
        return None
    try:
        first = entry.event.complete()  # the first may still be queued, as the logging thread left it
    except Exception:  # it could not be built (the worker dropped and counted it): nothing to repeat
        return None
    return first.replace(
        id=new_event_id(),
        ts=now_utc(),
        count=entry.repeats,
        push=False,
        repeat_of=first.id,
        metadata=dict(first.metadata),
        source=dict(first.source),
    )
