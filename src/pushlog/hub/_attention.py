"""The release pass: lets pushes held by the attention gate go when their time comes.

What is held and how a release works belong to :func:`pushlog.hub.store.outbox.release_held`; this
module only decides when to look: at the earliest held row's time, and at least every ``interval``
seconds. :meth:`AttentionTask.run_due` is idempotent and safe in several processes (the database
decides which process releases a row), so the periodic-duty runner can call it as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa

from ._clock import Clock
from .store import READ_ONLY
from .store.outbox import Released, next_held, release_held

log = logging.getLogger("pushlog.hub.attention")

#: Longest sleep between passes (seconds): held rows written by another process are seen this late.
INTERVAL: Final = 30.0
BATCH: Final = 500


class AttentionTask:
    """Runs :meth:`run_due` when held pushes come due; ``on_released`` (e.g. waking the dispatcher)
    is called after a pass that queued something."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        clock: Clock,
        on_released: Callable[[], None] = lambda: None,
        interval: float = INTERVAL,
        batch: int = BATCH,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._on_released = on_released
        self.interval = interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Completed passes (tests wait for this to move).
        self.passes = 0

    def _release(self, now: _dt.datetime) -> Released:
        with self._engine.begin() as conn:
            return release_held(conn, now=now, limit=self._batch)

    def _next(self) -> _dt.datetime | None:
        with self._engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
            return next_held(conn)

    async def run_due(self, now: _dt.datetime | None = None) -> Released:
        """Release everything due at ``now`` (default: the clock), batch by batch."""
        moment = now or self._clock()
        total = Released()
        while True:
            batch = await asyncio.to_thread(self._release, moment)
            total.queued += batch.queued
            total.summarized += batch.summarized
            total.deferred += batch.deferred
            total.seen += batch.seen
            if batch.seen < self._batch:
                break
        if total.queued:
            self._on_released()
        self.passes += 1
        return total

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="pushlog-attention")

    def request_pass(self) -> None:
        """Ask for a pass now; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            wait = self.interval
            try:
                await self.run_due()
                upcoming = await asyncio.to_thread(self._next)
                if upcoming is not None:
                    wait = min(wait, max(0.0, (upcoming - self._clock()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed pass must not end releasing; the next one retries
                log.exception("releasing held pushes failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
