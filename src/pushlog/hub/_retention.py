"""The hub's retention task: deletes expired events in small batches on a timer, then gives the freed
space back (SQLite incremental vacuum).

What expires and how a batch is deleted belong to :mod:`pushlog.hub.store.retention`; this module
only decides when. Each batch is its own short transaction in a worker thread, so ingest and the
dispatcher get the write lock between batches. Time comes from the hub's injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging

import sqlalchemy as sa

from ._clock import Clock
from .config import HubConfig
from .store import reclaim_space
from .store.retention import BATCH, Policy, Purged, purge_batch

log = logging.getLogger("pushlog.hub.retention")


class RetentionTask:
    """Runs :meth:`run_pass` every ``interval`` seconds; tests and benchmarks call it directly."""

    def __init__(
        self, *, engine: sa.Engine, policy: Policy, clock: Clock, interval: float, batch: int = BATCH
    ) -> None:
        self._engine = engine
        self.policy = policy
        self._clock = clock
        self.interval = interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Completed passes (tests wait for this to move).
        self.passes = 0

    @classmethod
    def for_config(cls, engine: sa.Engine, config: HubConfig, clock: Clock) -> RetentionTask:
        policy = Policy.from_seconds(config.retention, config.retention_channels)
        return cls(engine=engine, policy=policy, clock=clock, interval=config.retention_interval)

    def _purge(self, now: _dt.datetime) -> Purged:
        with self._engine.begin() as conn:
            return purge_batch(conn, policy=self.policy, now=now, limit=self._batch)

    async def run_pass(self, now: _dt.datetime | None = None) -> Purged:
        """Delete everything expired at ``now`` (default: the clock), batch by batch; then reclaim space."""
        moment = now or self._clock()
        total = Purged()
        while True:
            batch = await asyncio.to_thread(self._purge, moment)
            total.add(batch)
            if batch.events < self._batch and batch.client_reports < self._batch:
                break
        if total.events or total.client_reports:
            await asyncio.to_thread(reclaim_space, self._engine)
        self.passes += 1
        return total

    def start(self) -> None:
        if self.policy.keeps_everything:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="pushlog-retention")

    def request_pass(self) -> None:
        """Ask for a pass now instead of at the end of the interval; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                purged = await self.run_pass()
                if purged.events:
                    log.info("retention deleted %d events, %d deliveries", purged.events, purged.deliveries)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed pass must not end retention; the next one retries
                log.exception("retention pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
