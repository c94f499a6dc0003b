"""The rules' periodic pass in a running hub: :meth:`RulesTask.run_due` as the ``rules`` duty.

The one duty runner (``hub/_duties.py``) runs it in the process that leads; ``run_due(now)`` is
still idempotent and safe if two processes ran it (the store's conditional UPDATEs decide).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._clock import Clock
from .._duties import Duty, DutyRunner
from ._engine import Due, RulesEngine

#: Seconds between passes (expectations are minutes to days; quiet times minutes).
INTERVAL: Final = 30.0


class RulesTask:
    """The rules' pass as a periodic duty: :meth:`duty` for the hub's one :class:`DutyRunner`."""

    NAME = "rules"

    def __init__(
        self,
        *,
        engine: RulesEngine,
        run_db: Callable[..., Awaitable[Any]],
        clock: Clock,
        on_events: Callable[[int], Awaitable[None]],
        interval: float = INTERVAL,
    ) -> None:
        self._engine = engine
        self._run_db = run_db
        self._clock = clock
        self._on_events = on_events
        self.interval = interval
        #: The duty runner that runs :meth:`duty` (set by the app's lifespan).
        self.runner: DutyRunner | None = None
        #: Completed passes (tests wait for this to move after :meth:`request_run`).
        self.passes = 0

    async def run_due(self, now: _dt.datetime | None = None) -> Due:
        """One pass at ``now`` (default: the clock)."""
        due: Due = await self._run_db(lambda conn: self._engine.run_due(conn, now=now or self._clock()))
        if due.changed:
            await self._on_events(due.deliveries)
        self.passes += 1
        return due

    async def _pass(self, now: _dt.datetime) -> None:
        await self.run_due(now)

    def duty(self) -> Duty:
        """The ``rules`` periodic duty (``hub/_duties.py``): every ``interval`` seconds of the hub's
        clock, in the process that leads."""
        return Duty(self.NAME, self.interval, self._pass)

    def request_run(self) -> None:
        """Ask for a pass now instead of at the end of the interval; safe from any thread."""
        if self.runner is not None:
            self.runner.request(self.NAME)
