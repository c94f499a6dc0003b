"""The dead man's switch monitor: runs the overdue check (``store.heartbeats.check_due``) on a timer
inside the hub and tells the broker and the delivery service when it raised alerts.

What a heartbeat is, its check-ins and its alerts belong to :mod:`pushlog.hub.store.heartbeats`;
this module only decides when to look. Time always comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ._clock import Clock
from .store.heartbeats import Overdue, check_due

if TYPE_CHECKING:
    from ._state import HubState

#: The monitor's default period between checks (seconds).
CHECK_INTERVAL: Final = 30.0


class HeartbeatMonitor:
    """Runs :func:`check_due` every ``interval`` seconds (and on :meth:`request_check`) in the hub.

    ``run_db(fn, **kwargs)`` runs ``fn(conn, **kwargs)`` in a write transaction off the event loop
    (``HubState.db``); ``on_events`` is awaited after a check that ingested events (broker + delivery
    wake-up). :meth:`check` is the deterministic step tests drive with their own ``now``.
    """

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
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
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

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="pushlog-heartbeat-monitor")

    def request_check(self) -> None:
        """Ask for a check now; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed check must not end monitoring; the next one retries
                print(f"pushlog hub: heartbeat check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def start_monitor(state: HubState, *, interval: float = CHECK_INTERVAL) -> HeartbeatMonitor:
    """Create and start the monitor for a running hub (called from the app's lifespan)."""

    async def on_events(deliveries: int) -> None:
        await state.broker.changed()
        if deliveries:
            state.wake_delivery()

    monitor = HeartbeatMonitor(run_db=state.db, clock=state.clock, on_events=on_events, interval=interval)
    monitor.start()
    return monitor
