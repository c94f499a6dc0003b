"""The release pass: lets pushes held by the attention gate go when their time comes.

What is held and how a release works belong to :func:`pushlog.hub.store.outbox.release_held`; this
module is the ``attention`` duty that looks every ``interval`` seconds of the hub's clock
(``hub/_duties.py``), so a held push leaves at most that late after its time.
:meth:`AttentionTask.run_due` is idempotent and safe in several processes (the database decides which
process releases a row).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa

from ._clock import Clock
from ._duties import Duty, DutyRunner
from .store.outbox import Released, release_held

log = logging.getLogger("pushlog.hub.attention")

#: Seconds between release passes: a held push leaves at most this late after its time.
INTERVAL: Final = 15.0
BATCH: Final = 500


class AttentionTask:
    """Runs :meth:`run_due` when held pushes come due; ``on_released`` (e.g. waking the dispatcher)
    is called after a pass that queued something."""

    NAME = "attention"

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
        #: The duty runner that runs :meth:`duty` (set by the app's lifespan).
        self.runner: DutyRunner | None = None
        #: Completed passes (tests wait for this to move).
        self.passes = 0

    def _release(self, now: _dt.datetime) -> Released:
        with self._engine.begin() as conn:
            return release_held(conn, now=now, limit=self._batch)

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

    async def _pass(self, now: _dt.datetime) -> None:
        await self.run_due(now)

    def duty(self) -> Duty:
        """The ``attention`` periodic duty (``hub/_duties.py``): every ``interval`` seconds of the hub's
        clock, in the process that leads."""
        return Duty(self.NAME, self.interval, self._pass)

    def request_pass(self) -> None:
        """Ask for a pass now instead of at the end of the interval; safe from any thread."""
        if self.runner is not None:
            self.runner.request(self.NAME)
