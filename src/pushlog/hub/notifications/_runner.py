"""Expanding due notifications into the outbox, and the task that does it inside the hub.

:func:`run_due` is the idempotent duty (safe when two processes call it at once): each due
notification is claimed with a conditional UPDATE and expanded in the same transaction, its
deliveries created by ``store/outbox.enqueue_notification`` from the audience query (once, or once
per recipients' time zone for a local-time schedule) through the attention gate, so memory stays
bounded whatever the audience's size. A crash before the commit leaves the notification scheduled;
after it, it is expanded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from .. import audience
from .._broker import Broker
from .._clock import Clock
from ..attention import PushFacts
from ..config import PUSH_TTL
from ..store import connect_read_only, outbox
from ..store import notifications as store
from ..store import triggers as trigger_store
from ..store._tables import devices
from ._schedule import local_time_of, zone_of
from ._triggers import BATCH as TRIGGER_BATCH
from ._triggers import run_triggers

#: Longest the runner sleeps between looks (a notification created meanwhile also wakes it).
MAX_IDLE: Final = 30.0


@dataclass(slots=True)
class Expanded:
    triggered: int = 0  # notifications triggers created from new events
    notifications: int = 0  # notifications expanded
    deliveries: int = 0


def push_facts(row: dict[str, Any]) -> PushFacts:
    """What the attention gate weighs of a notification: its level, its category (which is also
    the channel an app user's ``channels`` choice filters) and whether it is time-sensitive."""
    options = row.get("options") or {}
    category = options.get("category")
    return PushFacts(
        level=int(row["level"]),
        channel=category,
        category=category,
        time_sensitive=bool(options.get("time_sensitive")),
    )


def expand(conn: sa.Connection, row: dict[str, Any], *, now: _dt.datetime) -> int:
    """Queue a claimed notification's deliveries and count its audience; returns rows queued."""
    try:
        where = audience.audience_condition(row["audience"], now=now)
    except audience.FilterError as exc:  # checked when it was made; a later hub may read it otherwise
        print(f"pushlog hub: notification {row['id']}: audience not usable: {exc}", file=sys.stderr)
        store.record_expansion(conn, row["id"], targeted=0, skipped={"invalid_audience": 1})
        return 0
    reach = audience.count(conn, where)
    local = local_time_of(row["schedule"])
    facts = push_facts(row)
    if local is None:
        outbox.enqueue_notification(
            conn, row["id"], audience.device_rows(where), facts=facts, due=now, now=now
        )
    else:
        zones = conn.execute(
            sa.select(audience.EFFECTIVE_TIMEZONE)
            .select_from(audience.RECIPIENTS)
            .where(where, devices.c.id.is_not(None))
            .distinct()
        ).scalars()
        for name in list(zones):
            in_zone = (
                audience.EFFECTIVE_TIMEZONE.is_(None) if name is None else name == audience.EFFECTIVE_TIMEZONE
            )
            due = local.in_zone(zone_of(name), now=now)
            outbox.enqueue_notification(
                conn, row["id"], audience.device_rows(sa.and_(where, in_zone)), facts=facts, due=due, now=now
            )
    no_device = reach.users - reach.users_with_devices
    store.record_expansion(
        conn, row["id"], targeted=reach.users, skipped={"no_device": no_device} if no_device else {}
    )
    return reach.devices


def _trigger_round(engine: sa.Engine, *, now: _dt.datetime, ttl: int) -> int:
    """Create the notifications of events since the trigger cursor; returns how many were made.

    A read-only look comes first and the write transaction (``BEGIN IMMEDIATE`` on SQLite: the
    write lock ingest needs) is taken only when a cursor exists and an event lies after it; the
    transaction re-reads both under its lock, so the look can only skip work that is really absent.
    What the look cannot see is covered elsewhere: a trigger created after it starts the cursor at
    the newest event of its own transaction (events before it are not its to take), and an event
    committed after it bumps the broker's generation after its commit, which wakes the runner for
    another round that sees it.
    """
    made = 0
    with connect_read_only(engine) as conn, conn.begin():
        if not trigger_store.pending(conn):
            return made
    while True:  # a round reads a batch of events; full batches mean more are waiting
        with engine.begin() as conn:
            created, read = run_triggers(conn, now=now, ttl=ttl)
        made += created
        if read < TRIGGER_BATCH:
            return made


def run_due(engine: sa.Engine, *, now: _dt.datetime, ttl: int = PUSH_TTL, due: bool = True) -> Expanded:
    """Start the notifications of triggers (events since the last round), then, unless ``due`` is
    false, expand every notification due at ``now``, each in its own transaction. ``ttl``: of
    triggered notifications."""
    done = Expanded(triggered=_trigger_round(engine, now=now, ttl=ttl))
    if not due:
        return done
    with connect_read_only(engine) as conn:
        ids = store.due(conn, now=now, limit=1000)
    for notification_id in ids:
        with engine.begin() as conn:
            row = store.claim(conn, notification_id, now=now)
            if row is None:
                continue
            done.deliveries += expand(conn, row, now=now)
            done.notifications += 1
    return done


class NotificationRunner:
    """Runs :func:`run_due` in the hub: when the next notification is due, on :meth:`wake`, and at
    least every :data:`MAX_IDLE` seconds; tells the dispatcher when it queued deliveries.

    Committed events wake it too (for triggers), but such a wake reads due notifications only once
    the deadline last computed has come: every path that creates a notification in this process
    calls :meth:`wake` (``POST /v1/notifications``; triggers, through :meth:`run_once`), cancelling
    and pruning only remove work (an early look finds nothing), and a local-time schedule is one
    notification whose per-zone times are deliveries' (the dispatcher's). A notification another
    hub process created is that process's runner's; this one looks within :data:`MAX_IDLE`.
    """

    def __init__(
        self,
        *,
        engine: sa.Engine,
        clock: Clock,
        on_queued: Callable[[], None],
        ttl: int = PUSH_TTL,
        broker: Broker | None = None,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._broker = broker
        self._watcher: asyncio.Task[None] | None = None
        self._clock = clock
        self._on_queued = on_queued
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: Whether the next round must read due notifications (set by :meth:`wake`).
        self._look = True
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Completed rounds, the deadline's read included (tests wait for this to move).
        self.rounds = 0

    async def run_once(self, *, due: bool = True) -> Expanded:
        """One round; ``due``: also expand due notifications (not only triggers)."""
        done = await asyncio.to_thread(run_due, self._engine, now=self._clock(), ttl=self._ttl, due=due)
        if done.triggered:  # due now, or later: either way the next look is at the earliest start
            self.wake()
        if done.deliveries:
            self._on_queued()
        return done

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="pushlog-notifications")
        if self._broker is not None:
            self._watcher = self._loop.create_task(self._watch(self._broker), name="pushlog-triggers")

    async def _watch(self, broker: Broker) -> None:
        """New events were committed: look for triggers now rather than at the next round."""
        seen = broker.generation
        while not broker.closed:
            if await broker.wait(seen, MAX_IDLE):
                seen = broker.generation
                self._wake.set()

    def wake(self) -> None:
        """Look now (a notification was created or cancelled); safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._look_now)

    def _look_now(self) -> None:
        self._look = True
        self._wake.set()

    def _next(self) -> _dt.datetime:
        """When due notifications must be read next: the earliest start, within :data:`MAX_IDLE`."""
        now = self._clock()
        latest = now + _dt.timedelta(seconds=MAX_IDLE)
        with connect_read_only(self._engine) as conn:
            start = store.next_start(conn)
        return latest if start is None else max(now, min(latest, start))

    async def _run(self) -> None:
        deadline = self._clock()
        while True:
            self._wake.clear()
            look, self._look = self._look or self._clock() >= deadline, False
            try:
                await self.run_once(due=look)
                if look:
                    deadline = await asyncio.to_thread(self._next)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed round must not end the runner; the next one retries
                print(f"pushlog hub: notification round failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                deadline = self._clock() + _dt.timedelta(seconds=MAX_IDLE)
                self._look = True
            self.rounds += 1
            idle = (deadline - self._clock()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(idle, 0.05))

    async def aclose(self) -> None:
        for task in (self._watcher, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._watcher = None
