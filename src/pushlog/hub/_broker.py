"""In-process change notification for the live stream.

The broker carries no events, only the fact that something changed: a generation counter bumped
after every commit that adds events, plus a short log of acknowledgements. A stream reads the
generation *before* its database catch-up read and then waits for a different generation; since
writers bump the generation only after their commit, any event that the read missed makes the
generation move and triggers another read. Nothing can fall between the read and the wait.

All methods run on the event loop (handlers call :meth:`changed` after their database work returns).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class Broker:
    def __init__(self, *, ack_log: int = 1000) -> None:
        self._generation = 0
        self._acks: deque[tuple[int, dict[str, Any]]] = deque(maxlen=ack_log)
        self._ack_counter = 0
        self._condition: asyncio.Condition | None = None
        self.closed = False

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def ack_position(self) -> int:
        return self._ack_counter

    async def _notify(self) -> None:
        cond = self._cond()
        async with cond:
            cond.notify_all()

    async def changed(self) -> None:
        """Events were committed."""
        self._generation += 1
        await self._notify()

    async def acknowledged(self, payload: dict[str, Any]) -> None:
        """An event was acknowledged; ``payload`` is ``{"id", "acknowledged_at"}``."""
        self._ack_counter += 1
        self._acks.append((self._ack_counter, payload))
        self._generation += 1
        await self._notify()

    def acks_after(self, position: int) -> list[tuple[int, dict[str, Any]]]:
        return [(pos, payload) for pos, payload in self._acks if pos > position]

    async def wait(self, seen_generation: int, timeout: float) -> bool:
        """Wait until the generation differs from ``seen_generation`` or the broker closes.

        Returns ``False`` on timeout.
        """
        cond = self._cond()
        async with cond:
            try:
                # asyncio.timeout, not wait_for: the wait stays in this task. With wait_for (a task of
                # its own on 3.11), a stream cancelled by its client's disconnect could leave the
                # condition's lock in a broken state, and shutdown then hung on it.
                async with asyncio.timeout(timeout):
                    await cond.wait_for(lambda: self.closed or self._generation != seen_generation)
            except TimeoutError:
                return False
        return True

    async def close(self) -> None:
        """End every stream (graceful shutdown)."""
        self.closed = True
        await self._notify()
