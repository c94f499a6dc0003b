"""The rules' periodic pass in a running hub: :meth:`RulesTask.run_due` on a timer.

``run_due(now)`` is idempotent and safe when several processes call it (the store's conditional
UPDATEs decide), so it can move onto a shared duty runner with leadership as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._clock import Clock
from ._engine import Due, RulesEngine

#: Seconds between passes (expectations are minutes to days; quiet times minutes).
INTERVAL: Final = 30.0


class RulesTask:
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
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Completed passes (tests wait for this to move after :meth:`request_run`).
        self.passes = 0

    async def run_due(self, now: _dt.datetime | None = None) -> Due:
        """One pass at ``now`` (default: the clock)."""
        due: Due = await self._run_db(lambda conn: self._engine.run_due(conn, now=now or self._clock()))
        if due.changed:
            await self._on_events(due.deliveries)
        self.passes += 1
        return due

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="pushlog-rules")

    def request_run(self) -> None:
        """Ask for a pass now; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed pass must not end the task; the next one retries
                print(f"pushlog hub: rules pass failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
