"""Time, as the client sees it: one seam so tests can move it by hand.

Everything in the client that reads or waits on time (the dedup window, the push budget, the queue's
linger, the worker's retry schedule, the synchronous retry loop) takes a :class:`Clock` from the
:class:`~pushlog.Client` that owns it. A clock is also a ``() -> float`` callable, so code that only
reads time takes a plain callable.

A fake clock for tests implements the same three methods: ``wait`` returns as soon as the event is set
or the clock was moved past the timeout, so a test advances time instead of sleeping through it.
"""

from __future__ import annotations

import threading
import time

from ._lean_typing import Protocol

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Final


class Clock(Protocol):
    """Monotonic seconds, and waiting measured on the same clock."""

    def __call__(self) -> float:
        """Now, in monotonic seconds."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds of this clock passed; ``event.is_set()``."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of this clock pass (synchronous retry loops)."""
        ...


class SystemClock:
    """Real time: :func:`time.monotonic` and real waits."""

    def __call__(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(timeout)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Final = SystemClock()
