"""The hub's periodic duties: ONE runner that runs named duties at intervals, in one process at a time.

A duty is what must happen every so often somewhere in the hub, not in every process: retention
passes, heartbeat deadlines, and whatever other parts register (digests, scheduled sends, pruning).
The registration shape is :class:`Duty`::

    Duty(name="heartbeats", every_s=30.0, run=monitor.check)   # run(now) -> awaitable

The app's lifespan builds the list and hands it to :class:`DutyRunner` (there is no module-level
registry); a part that has a duty exposes a function or method returning its :class:`Duty`.

Leadership: only the leader runs duties. On SQLite the one hub process always leads
(:class:`SoleLeader`). On PostgreSQL (:class:`AdvisoryLeadership`) the leader is the process whose
dedicated connection holds the session-level advisory lock ``store._locks.DUTIES``
(``pg_try_advisory_lock``); the others try again every ``poll`` seconds. When the leader dies (even
``kill -9``) its connection closes, PostgreSQL releases the lock, and another process takes over
within about ``poll`` seconds and runs every duty at once (the old leader may have died mid-way).
The leader's connection is named ``pushlog-duties-<pid>`` (``application_name``), so
``SELECT application_name FROM pg_locks JOIN pg_stat_activity USING (pid) WHERE locktype =
'advisory' AND granted`` names the process that leads.
Duties must still be idempotent and safe if two processes ran them (a network partition can leave
the old session alive a while): the database decides, e.g. a conditional UPDATE claims a row.

Time: a duty is due when the injected clock has moved ``every_s`` past its previous run; the loop
looks at least every ``poll`` seconds (real time) and at once on :meth:`DutyRunner.request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from ._clock import Clock
from .store._locks import DUTIES

log = logging.getLogger("pushlog.hub.duties")

#: Seconds between leadership checks (and the longest a due duty waits when the clock is real).
POLL = 1.0


@dataclass(frozen=True, slots=True)
class Duty:
    """A named periodic duty: ``run(now)`` every ``every_s`` seconds of the hub's clock."""

    name: str
    every_s: float
    run: Callable[[_dt.datetime], Awaitable[Any]]


class Leadership(Protocol):
    async def lead(self) -> bool:
        """Whether this process leads now (taking the lead if it is free)."""
        ...

    async def aclose(self) -> None: ...


class SoleLeader:
    """SQLite: the single hub process always leads."""

    async def lead(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


class AdvisoryLeadership:
    """PostgreSQL: leadership is the advisory lock ``key`` held by a connection of its own."""

    def __init__(self, url: str | sa.URL, *, key: int = DUTIES) -> None:
        from ._relay import psycopg_conninfo

        self._conninfo = psycopg_conninfo(url, "duties")
        self._key = key
        self._conn: Any = None
        self._held = False
        self._warned = False

    async def lead(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            if self._held:
                await self._conn.execute("SELECT 1")  # the lock lives as long as this session
            else:
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = await cursor.fetchone()
                self._held = bool(row and row[0])
            self._warned = False
        except psycopg.Error as exc:
            if not self._warned:
                log.warning("periodic duties: lost the database connection, not leading: %s", exc)
                self._warned = True
            await self._drop()
        return self._held

    async def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def aclose(self) -> None:
        await self._drop()  # closing the session releases the lock for the next leader


class DutyRunner:
    """Runs ``duties`` while ``leadership`` says this process leads; see the module docstring."""

    def __init__(
        self, duties: Sequence[Duty], *, clock: Clock, leadership: Leadership, poll: float = POLL
    ) -> None:
        names = [duty.name for duty in duties]
        if len(set(names)) != len(names):
            raise ValueError(f"duty names must be unique: {names}")
        self._duties = {duty.name: duty for duty in duties}
        self._clock = clock
        self._leadership = leadership
        self._poll = poll
        self._last: dict[str, _dt.datetime] = {}
        self._requested: set[str] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        #: Whether this process led at the last look, and how many looks it took.
        self.leading = False
        self.looks = 0
        #: Runs per duty name in this process (tests wait for these to move).
        self.runs: dict[str, int] = dict.fromkeys(names, 0)

    async def run_due(self, now: _dt.datetime) -> list[str]:
        """Run every duty that is due at ``now`` or was requested; returns their names. A duty that
        raises is logged and retried at its next interval; the others still run."""
        ran = []
        for name, duty in self._duties.items():
            last = self._last.get(name)
            due = last is None or (now - last).total_seconds() >= duty.every_s
            if not (due or name in self._requested):
                continue
            self._requested.discard(name)
            self._last[name] = now
            try:
                await duty.run(now)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic duty %r failed", name)
            self.runs[name] += 1
            ran.append(name)
        return ran

    def request(self, name: str) -> None:
        """Run duty ``name`` at the leader's next look instead of at its interval; thread-safe. (In a
        process that does not lead, the leader's own interval decides.)"""
        if name not in self._duties:
            raise KeyError(name)
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def mark() -> None:
            self._requested.add(name)
            self._wake.set()

        loop.call_soon_threadsafe(mark)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="pushlog-duties")

    def _seconds_to_next(self, now: _dt.datetime) -> float:
        waits = [self._poll]
        for name, duty in self._duties.items():
            last = self._last.get(name)
            if last is not None:
                waits.append(duty.every_s - (now - last).total_seconds())
        return max(0.0, min(waits))

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # a request during the step below ends the wait at once
            leading = await self._leadership.lead()
            self.looks += 1
            if leading and not self.leading:
                log.info("this hub process runs the periodic duties")
                self._last.clear()  # a new leader runs everything once: the old one may have died mid-way
            self.leading = leading
            if leading:
                await self.run_due(self._clock())
                wait = self._seconds_to_next(self._clock())
            else:
                self._requested.clear()
                wait = self._poll
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._leadership.aclose()


def leadership_for(engine: sa.Engine) -> Leadership:
    """:class:`AdvisoryLeadership` on PostgreSQL, :class:`SoleLeader` on SQLite."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeadership(engine.url)
    return SoleLeader()
