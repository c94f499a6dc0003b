"""Token buckets for pushes: over budget an event is downgraded to feed-only, never lost.

Two buckets: one for WARNING/ERROR pushes and one for CRITICAL, so a flood of errors never eats the
budget of the page that matters. Events refused a token are sent with ``push: false`` and counted;
when a push token is available again, one summary ("N pushes held back") is pushed.

The clock is injected (``() -> float`` seconds, monotonic) so tests step time by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ._levels import POLICIES, Level


class TokenBucket:
    """``capacity`` tokens, refilled at ``per_minute`` tokens per minute. Not locked: callers lock."""

    def __init__(self, *, capacity: int, per_minute: float, clock: Callable[[], float]) -> None:
        if capacity < 1 or per_minute < 0:
            raise ValueError("a push budget needs a burst of at least 1 and a non-negative rate")
        self.capacity = float(capacity)
        self.rate = float(per_minute) / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._last = now

    def take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class PushLimiter:
    """Decides whether a pushed event may push now. Thread-safe."""

    def __init__(
        self,
        *,
        push_burst: int = 10,
        push_per_minute: float = 6.0,
        critical_burst: int = 5,
        critical_per_minute: float = 2.0,
        clock: Callable[[], float],
    ) -> None:
        self._lock = threading.Lock()
        self._push = TokenBucket(capacity=push_burst, per_minute=push_per_minute, clock=clock)
        self._critical = TokenBucket(capacity=critical_burst, per_minute=critical_per_minute, clock=clock)
        self._held = 0

    @property
    def held(self) -> int:
        """Pushes downgraded since the last summary."""
        return self._held

    def admit(self, level: Level) -> bool:
        """Whether an event of ``level`` may push now; if not it is counted as held back."""
        bucket = self._critical if POLICIES[level].urgent else self._push
        with self._lock:
            if bucket.take():
                return True
            self._held += 1
            return False

    def take_summary(self, *, force: bool = False) -> int:
        """If pushes were held back and the push budget has a token again, spend it and return how many
        were held back (then reset); otherwise 0. ``force`` (at flush and close) takes the summary
        without a token: a process about to end would never get one back."""
        with self._lock:
            if self._held and (self._push.take() or force):
                held, self._held = self._held, 0
                return held
            return 0
