"""When to try a delivery again after a transient failure.

Exponential backoff with jitter: attempt *n* waits ``base * factor**(n-1)`` seconds, capped, scaled
by a random factor in ``[1 - jitter, 1]`` so that many deliveries failing together do not come back
together. A ``Retry-After`` from the push service is a floor, never shortened. After
``max_attempts`` the delivery fails for good.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    base: float = 5.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.5
    max_attempts: int = 8
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def exhausted(self, attempts: int) -> bool:
        """Whether a delivery that has made ``attempts`` attempts may not try again."""
        return attempts >= self.max_attempts

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        raw = min(self.cap, self.base * self.factor ** max(0, attempts - 1))
        wait = raw * (1.0 - self.jitter * self.rng.random())
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait
