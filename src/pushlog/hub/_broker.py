"""In-process change notification and the shared tail of the live stream.

Change notification: the broker carries no events, only the fact that something changed: a generation
counter bumped after every commit that adds events, plus a short log of notes about lines already
sent (acknowledgements, resolved alerts), each the payload of one SSE message (``ack``,
``resolved``). A reader records the generation *before* its database read and then waits for a
different generation; since writers bump the generation only after their commit, any event that the
read missed makes the generation move and triggers another read. Nothing can fall between the read
and the wait.

Fan-out: streams with the same filter share one :class:`Tail`. On a change, the tail reads the new
items from the database once, for all of them, and keeps them (already serialized) in a bounded
window; its streams wait on the tail (:meth:`Tail.wait`), not on the broker, so each wakes once per
change, when the items are already in memory, and takes the text after its own position. That text
is joined once for every stream at the same position (:meth:`Tail.after`), so an event costs one
database read and one serialization per distinct filter, and per stream only the write of bytes
already made. A tail also keeps the streams' keepalive: one timer per tail, not one per stream and
wait. The tail's reads
follow the same generation rule, so the window misses nothing; a stream whose position lies before the
window (a reconnect with ``Last-Event-ID`` far behind, or a client too slow to keep up) reads from the
database itself (:func:`Tail.catch_up`) until it reaches the window.

Hand-off: the request that committed new events may pass them with the change (:data:`Fresh`, the
items of one tail: the publish handler's new lines for the unfiltered streams). The tail takes them
instead of reading (:meth:`Tail.take`) only when they continue its window exactly: the window is
complete for the previous generation, no read is running, and it ends at the position the items
follow (consecutive ``seq``, checked by the store). Anything else (another process's rows in between,
a fold, a resolution, a tail with a filter) is read from the database as before.

Other processes: with several hub processes on one PostgreSQL, a relay (:mod:`pushlog.hub._relay`,
LISTEN/NOTIFY) is attached as :attr:`Broker.relay`; local changes are passed to it, and it calls
:meth:`Broker.remote_changed` / :meth:`Broker.remote_acknowledged` / :meth:`Broker.remote_resolved`
for the other processes' changes, which wake the streams exactly like local ones. On SQLite there is
no relay.

All methods run on the event loop (handlers call :meth:`Broker.changed` after their database work
returns). Positions are the events' ``seq``: the hub commits events in ``seq`` order, so once an item
is visible every item before it is too.
"""

from __future__ import annotations

import asyncio
import bisect
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol

#: One item of a stream: its position (``seq``) and its SSE text, serialized once for every stream.
Item = tuple[int, bytes]
#: What a stream sends next: its position after it, the text (``b""``: nothing), and the broker
#: generation it is complete for (``None``: more are waiting, ask again at once).
Chunk = tuple[int, bytes, int | None]
#: A note about a line already sent: its position in the note log, the SSE event name, the payload.
Note = tuple[int, str, dict[str, Any]]
ReadItems = Callable[[int], Awaitable[Sequence[Item]]]
#: What the committing process already holds of a change: the key of the tail they are for, the
#: position they follow, and every item of that tail after it (:meth:`Broker.changed`).
Fresh = tuple[Hashable, int, Sequence[Item]]

#: Items a tail keeps in memory: a stream further behind than this reads from the database itself.
WINDOW = 1000


class Relay(Protocol):
    """Carries a change to the hub's other processes: ``{"k": "e"}`` (events), ``{"k": "a", "p": ack}``
    or ``{"k": "r", "p": resolved}`` (one resolved line)."""

    def publish(self, message: dict[str, Any]) -> None: ...


class Broker:
    def __init__(self, *, ack_log: int = 1000, window: int = WINDOW) -> None:
        #: Set when other hub processes share the database (hub/_relay.py); None: this process only.
        self.relay: Relay | None = None
        self._generation = 0
        self._window = window
        self._notes: deque[Note] = deque(maxlen=ack_log)
        self._note_counter = 0
        # replaced on every change; waiters hold the one that was current when they checked
        self._changed = asyncio.Event()
        self._tails: weakref.WeakValueDictionary[Hashable, Tail] = weakref.WeakValueDictionary()
        self.closed = False

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def note_position(self) -> int:
        return self._note_counter

    def _notify(self, fresh: Fresh | None = None) -> bool:
        """Bump the generation and wake the tails; whether a tail took ``fresh`` (its streams are
        woken with their text in memory)."""
        self._generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        taken = False
        for key, tail in list(self._tails.items()):
            if self.closed:
                tail.wake()
            elif fresh is not None and key == fresh[0] and tail.take(fresh[1], fresh[2], self._generation):
                taken = True
            else:
                tail.changed()
        return taken

    def following(self, key: Hashable) -> bool:
        """Whether a stream reads through the tail of ``key`` (worth building :data:`Fresh` for)."""
        return key in self._tails

    async def changed(self, fresh: Fresh | None = None) -> None:
        """Events were committed. ``fresh``: the items of one tail the committing request already
        holds, which that tail takes instead of reading them back when they continue its window
        exactly (:meth:`Tail.take`); every other tail reads.

        When a tail took them, one turn of the event loop passes before this returns: its streams,
        just woken with their text in memory, write it before the caller goes on (the publish
        handler's 202 answer would otherwise go first, about a millisecond on a lone event; the
        first pushes go before both: docs/performance.md, Latency)."""
        taken = self._notify(fresh)
        if self.relay is not None:
            self.relay.publish({"k": "e"})
        if taken:
            await asyncio.sleep(0)

    async def acknowledged(self, payload: dict[str, Any]) -> None:
        """An event was acknowledged; ``payload`` is ``{"id", "acknowledged_at"}``."""
        self.remote_acknowledged(payload)
        if self.relay is not None:
            self.relay.publish({"k": "a", "p": payload})

    def remote_changed(self) -> None:
        """Another process committed events (the relay): wake the streams, tell nobody else."""
        self._notify()

    def remote_acknowledged(self, payload: dict[str, Any]) -> None:
        """Another process acknowledged an event (the relay)."""
        self._note("ack", payload)
        self._notify()

    async def resolved(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Alert lines were resolved (``store/alerts.py``); each payload is ``{"id", "seq",
        "resolved_at", "resolved_by", "resolved_after_s"}``."""
        self.remote_resolved(payloads)
        if self.relay is not None:
            for payload in payloads:  # one line per NOTIFY: its payload is limited to 8000 bytes
                self.relay.publish({"k": "r", "p": payload})

    def remote_resolved(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Another process resolved alert lines (the relay)."""
        for payload in payloads:
            self._note("resolved", payload)
        self._notify()

    def _note(self, name: str, payload: dict[str, Any]) -> None:
        self._note_counter += 1
        self._notes.append((self._note_counter, name, payload))

    def notes_after(self, position: int) -> list[Note]:
        """Notes (acknowledgements, resolved lines) after ``position``, oldest first."""
        if position >= self._note_counter:  # the common case, checked by every stream on every change
            return []
        return [note for note in self._notes if note[0] > position]

    async def wait(self, seen_generation: int, timeout: float) -> bool:
        """Wait until the generation differs from ``seen_generation`` or the broker closes.

        Returns ``False`` on timeout.
        """
        if self.closed or self._generation != seen_generation:
            return True
        changed = self._changed  # no await since the check: a change after it sets this very event
        try:
            # asyncio.timeout, not wait_for: the wait stays in this task (wait_for made a task of its
            # own on 3.11), so a stream cancelled by its client's disconnect leaves nothing behind.
            async with asyncio.timeout(timeout):
                await changed.wait()
        except TimeoutError:
            return False
        return True

    def tail(self, key: Hashable, read: ReadItems, *, position: int, batch: int, keepalive: float) -> Tail:
        """The tail shared by every stream reading ``key`` (a filter), created at ``position`` with
        ``read`` and ``keepalive`` if no stream holds one. It lives as long as a stream refers to it."""
        tail = self._tails.get(key)
        if tail is None:
            tail = Tail(self, read, position=position, batch=batch, keepalive=keepalive, window=self._window)
            self._tails[key] = tail
        return tail

    async def close(self) -> None:
        """End every stream (graceful shutdown)."""
        self.closed = True
        self._notify()


class Tail:
    """The newest items of one filter, read once per change and shared by its streams.

    ``read(after)`` returns the items after position ``after``, oldest first, at most ``batch`` (fewer
    means there are no more). The window holds every item in ``(start, end]``. A stream waiting in
    :meth:`wait` is woken when a read is done, or with ``False`` once the tail has been quiet for
    ``keepalive`` seconds (one timer for the tail, re-armed lazily, so a change costs no timer work).
    """

    def __init__(
        self,
        broker: Broker,
        read: ReadItems,
        *,
        position: int,
        batch: int,
        keepalive: float,
        window: int = WINDOW,
    ) -> None:
        self._broker = broker
        self._read = read
        self._batch = batch
        self._window = window
        self._keepalive = keepalive
        self._items: list[Item] = []
        self.start = position
        self._end = position
        # the broker generation the window is complete for; None: read again before answering
        self._generation: int | None = None
        self._read_at = time.monotonic()
        self._reading: asyncio.Future[None] | None = None
        # the last text handed out: (from position, to position, text), shared by the streams at one position
        self._joined: tuple[int, int, bytes] = (position, position, b"")
        # what the tail's streams wait on: one future per waiting stream, resolved by wake()
        self._loop = asyncio.get_running_loop()
        self._waiters: list[asyncio.Future[bool]] = []
        self._woken_at = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None

    async def after(self, position: int) -> Chunk | None:
        """The text of the items after ``position``; ``None`` if ``position`` is before the window."""
        if self._generation != self._broker.generation:
            # the first stream starts the read; the others await the same one and all wake together
            # when it is done. Shielded: a stream that disconnects meanwhile does not cancel it.
            await asyncio.shield(self._start_read())
        if position < self.start:
            return None
        end = self._end
        since, until, text = self._joined
        if since != position or until != end:  # the first stream at this position joins the text
            index = bisect.bisect_right(self._items, position, key=_position)
            text = b"".join(item[1] for item in self._items[index:])
            self._joined = (position, end, text)
        return max(end, position), text, self._generation

    def _start_read(self) -> asyncio.Future[None]:
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._refresh())
            self._reading.add_done_callback(self._read_done)
        return self._reading

    def changed(self) -> None:
        """The broker's generation moved: read now, once, and wake the streams when it is done."""
        self._start_read()

    def take(self, after: int, items: Sequence[Item], generation: int) -> bool:
        """Take ``items`` (every item after position ``after``, committed by this process) as the
        read for broker generation ``generation`` would return them, and wake the streams; no
        database read. Only when they continue the window exactly: it is complete for the generation
        before (no read running or owed) and ends at ``after``. ``False``: the caller reads instead."""
        if self._reading is not None or self._generation != generation - 1 or self._end != after:
            return False
        self._append(items)
        self._generation = generation
        self.wake()
        return True

    def _append(self, items: Sequence[Item]) -> None:
        if not items:
            return
        self._items.extend(items)
        self._end = items[-1][0]
        excess = len(self._items) - self._window
        if excess > 0:
            self.start = self._items[excess - 1][0]
            del self._items[:excess]

    def _read_done(self, reading: asyncio.Future[None]) -> None:
        failed = reading.cancelled() or reading.exception() is not None  # (retrieved: no log noise)
        moved = self._generation is not None and self._generation != self._broker.generation
        if not failed and moved and not self._broker.closed:
            self._start_read()  # a change landed during the read: read it before waking anyone
            return
        self.wake()

    def wake(self, fresh: bool = True) -> None:
        """Wake every stream waiting in :meth:`wait` (a read finished, or the broker closed; with
        ``fresh=False``: the keepalive is due)."""
        waiters, self._waiters = self._waiters, []
        self._woken_at = self._loop.time()
        for waiter in waiters:
            if not waiter.done():  # (a stream cancelled while waiting)
                waiter.set_result(fresh)

    async def wait(self, seen_generation: int) -> bool:
        """Like :meth:`Broker.wait` for a stream whose text came from :meth:`after`, but returns when
        the read for the change is done, so the stream finds its items in memory. ``False``: the tail
        was quiet for its keepalive interval."""
        broker = self._broker
        if broker.closed or (broker.generation != seen_generation and self._reading is None):
            return True
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._waiters.append(waiter)  # no await since the check: a read finishing after it wakes this one
        if self._timer is None:
            self._timer = self._loop.call_at(self._loop.time() + self._keepalive, self._keepalive_due)
        return await waiter

    def _keepalive_due(self) -> None:
        self._timer = None
        if not self._waiters:
            return  # nobody waits: the next wait arms the timer again
        due = self._woken_at + self._keepalive
        if due > self._loop.time():  # woken since the timer was set: quiet for less than keepalive
            self._timer = self._loop.call_at(due, self._keepalive_due)
        else:
            self.wake(False)

    async def _refresh(self) -> None:
        try:
            seen = self._broker.generation  # before the read: a commit during the read changes it
            self._read_at = time.monotonic()
            items = await self._read(self._end)
            self._append(items)
            self._generation = seen if len(items) < self._batch else None
        finally:
            self._reading = None

    async def catch_up(self, position: int) -> Chunk:
        """For a stream before the window: its own database read after ``position``. A complete read
        also covers everything up to the window's start as it was before the read (all of that was
        committed before), so the stream joins the window even when no item of its own lies in
        between."""
        floor = self.start
        seen = self._broker.generation
        items = await self._read(position)
        text = b"".join(item[1] for item in items)
        if len(items) >= self._batch:
            return items[-1][0], text, None
        return max(position, floor, items[-1][0] if items else position), text, seen

    def expire(self, max_age: float) -> None:
        """After a quiet ``max_age``: read again on the next request even without a change, which
        picks up writes of other processes (never more than one read per ``max_age`` / 2)."""
        if time.monotonic() - self._read_at >= max_age / 2:
            self._generation = None


def _position(item: Item) -> int:
    return item[0]
