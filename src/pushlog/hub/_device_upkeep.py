"""The hub's device upkeep: brings stored device secrets under the current key, and removes devices
not seen for ``HubConfig.device_inactive_days``.

What is resealed or pruned, and how a batch is written, belong to :mod:`pushlog.hub.store.devices`;
this module only decides when: :meth:`DeviceUpkeep.run_due` as a periodic duty (``hub/_duties.py``),
once when a hub process starts leading (plaintext rows from before migration 0009 and rows under a
rotated-out key are resealed before they are used), then every ``device_upkeep_interval`` seconds.
Each batch is its own short transaction in a worker thread, and every step is idempotent and safe
when two hub processes run it at once.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from ._clock import Clock
from ._duties import Duty, DutyRunner
from .config import HubConfig
from .store import devices as device_store
from .store.device_tokens import DeviceTokenVault, open_vault

log = logging.getLogger("pushlog.hub.devices")

#: Devices removed per transaction by the inactivity pass.
PRUNE_BATCH = 1000


@dataclass(slots=True)
class Upkept:
    resealed: int = 0
    pruned: int = 0


class DeviceUpkeep:
    """Runs :meth:`run_due` as the ``devices`` periodic duty (:meth:`duty`); tests call it directly."""

    NAME: Final = "devices"

    def __init__(
        self,
        *,
        engine: sa.Engine,
        vault: DeviceTokenVault,
        clock: Clock,
        inactive_days: float | None,
        interval: float,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._clock = clock
        self.inactive_days = inactive_days
        self.interval = interval
        #: The runner the duty is registered with (set by the app's lifespan).
        self.runner: DutyRunner | None = None
        #: Completed passes (tests wait for this to move).
        self.passes = 0

    @classmethod
    def for_config(cls, engine: sa.Engine, config: HubConfig, clock: Clock) -> DeviceUpkeep:
        return cls(
            engine=engine,
            vault=open_vault(config.data_dir, config.device_token_key),
            clock=clock,
            inactive_days=config.device_inactive_days,
            interval=config.device_upkeep_interval,
        )

    def _prune(self, before: _dt.datetime) -> int:
        with self._engine.begin() as conn:
            return device_store.prune_inactive(conn, before=before, limit=PRUNE_BATCH)

    async def run_due(self, now: _dt.datetime | None = None) -> Upkept:
        """Reseal what is not under the current key; remove devices unseen since ``now`` minus the
        inactivity age (default now: the clock)."""
        moment = now or self._clock()
        done = Upkept(resealed=await asyncio.to_thread(device_store.reseal_all, self._engine, self._vault))
        if self.inactive_days is not None:
            before = moment - _dt.timedelta(days=self.inactive_days)
            while (pruned := await asyncio.to_thread(self._prune, before)) > 0:
                done.pruned += pruned
                if pruned < PRUNE_BATCH:
                    break
        self.passes += 1
        return done

    async def _pass(self, now: _dt.datetime) -> None:
        done = await self.run_due(now)
        if done.resealed or done.pruned:
            log.info("devices: %d resealed, %d inactive removed", done.resealed, done.pruned)

    def duty(self) -> Duty:
        """The ``devices`` periodic duty (``hub/_duties.py``): every ``interval`` seconds, and at
        once when a process starts leading."""
        return Duty(self.NAME, self.interval, self._pass)

    def request_pass(self) -> None:
        """Ask for a pass now instead of at the end of the interval; safe from any thread."""
        if self.runner is not None:
            self.runner.request(self.NAME)
