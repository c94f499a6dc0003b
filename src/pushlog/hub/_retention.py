"""The hub's retention task: deletes expired events and finished notifications in small batches as
the ``retention`` periodic duty (``hub/_duties.py``), then gives the freed space back (SQLite
incremental vacuum).

What expires and how a batch is deleted belong to :mod:`pushlog.hub.store.retention`; this module
only decides when. Each batch is its own short transaction in a worker thread, so ingest and the
dispatcher get the write lock between batches. Time comes from the hub's injected clock.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Final

import sqlalchemy as sa

from ._clock import Clock
from ._duties import Duty, DutyRunner
from .config import HubConfig
from .store import reclaim_space
from .store.retention import BATCH, Policy, Purged, purge_batch

log = logging.getLogger("pushlog.hub.retention")


class RetentionTask:
    """Runs :meth:`run_pass` as the ``retention`` duty every ``interval`` seconds (:meth:`duties`: none
    when the policy keeps everything); tests and benchmarks call it directly."""

    NAME: Final = "retention"

    def __init__(
        self, *, engine: sa.Engine, policy: Policy, clock: Clock, interval: float, batch: int = BATCH
    ) -> None:
        self._engine = engine
        self.policy = policy
        self._clock = clock
        self.interval = interval
        self._batch = batch
        #: The runner the duty is registered with (set by the app's lifespan).
        self.runner: DutyRunner | None = None
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
            if not batch.full(self._batch):
                break
        if total.events or total.client_reports or total.notifications or total.deliveries:
            await asyncio.to_thread(reclaim_space, self._engine)
        self.passes += 1
        if total.events or total.notifications:
            log.info(
                "retention deleted %d events, %d notifications, %d deliveries",
                total.events,
                total.notifications,
                total.deliveries,
            )
        return total

    def duties(self) -> list[Duty]:
        """The retention duty, or none when the policy keeps everything."""
        if self.policy.keeps_everything:
            return []
        return [Duty(self.NAME, self.interval, self.run_pass)]

    def request_pass(self) -> None:
        """Ask for a pass now instead of at the end of the interval; safe from any thread."""
        if self.runner is not None and not self.policy.keeps_everything:
            self.runner.request(self.NAME)
