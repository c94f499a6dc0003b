"""The dead man's switch monitor: runs the overdue check (``store.heartbeats.check_due``) as a periodic
duty of the hub (``hub/_duties.py``) and tells the broker and the delivery service when it raised alerts.

What a heartbeat is, its check-ins and its alerts belong to :mod:`pushlog.hub.store.heartbeats`;
this module only decides when to look. Time always comes from the injected clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ._clock import Clock
from ._duties import Duty
from .store.heartbeats import Overdue, check_due

if TYPE_CHECKING:
    from ._duties import DutyRunner
    from ._state import HubState

#: The monitor's default period between checks (seconds).
CHECK_INTERVAL: Final = 30.0


class HeartbeatMonitor:
    """Runs :func:`check_due` as the ``heartbeats`` periodic duty (:meth:`duty`, every ``interval``
    seconds, by the process that leads the duties: ``hub/_duties.py``) and on :meth:`request_check`.

    ``run_db(fn, **kwargs)`` runs ``fn(conn, **kwargs)`` in a write transaction off the event loop
    (``HubState.db``); ``on_events`` is awaited after a check that ingested events (broker + delivery
    wake-up). :meth:`check` is the deterministic step tests drive with their own ``now``.
    """

    NAME: Final = "heartbeats"

    def __init__(
        self,
        *,
        run_db: Callable[..., Any],
        clock: Clock,
        on_events: Callable[[int], Any],
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self._run_db = run_db
        self._clock = clock
        self._on_events = on_events
        self.interval = interval
        #: The runner the duty is registered with (set by the app's lifespan).
        self.runner: DutyRunner | None = None
        #: Completed checks (tests wait for this to move after :meth:`request_check`).
        self.checks = 0

    async def check(self, now: _dt.datetime | None = None) -> list[str]:
        """One check at ``now`` (default: the clock). Returns the names that went overdue."""
        moment = now or self._clock()
        result: Overdue = await self._run_db(check_due, now=moment)
        if result.names:
            await self._on_events(result.deliveries)
        self.checks += 1
        return result.names

    def duty(self) -> Duty:
        return Duty(self.NAME, self.interval, self.check)

    def request_check(self) -> None:
        """Ask for a check now; safe from any thread."""
        if self.runner is not None:
            self.runner.request(self.NAME)


def heartbeat_monitor(state: HubState, *, interval: float = CHECK_INTERVAL) -> HeartbeatMonitor:
    """The monitor for a running hub; the app's lifespan registers its :meth:`~HeartbeatMonitor.duty`."""

    async def on_events(deliveries: int) -> None:
        await state.broker.changed()
        if deliveries:
            state.wake_delivery()

    return HeartbeatMonitor(run_db=state.db, clock=state.clock, on_events=on_events, interval=interval)
