"""Token buckets: ``rate`` tokens per second refill up to ``burst``; each use takes one.

Used per API key (requests), per client address (failed authentications, where :meth:`RateLimiter.wait`
checks before the work and :meth:`RateLimiter.take` is called only on failure) and per key for pushes.
Memory is bounded: past ``max_buckets`` buckets, the ones that have refilled completely (which
behave exactly like a new bucket) are dropped, and if that is not enough, the oldest. Time comes
from the hub's injected clock, so tests drive refills without sleeping.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ._clock import Clock


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by API key id. :meth:`take` returns 0 when allowed, else seconds to wait."""

    def __init__(self, *, rate: float, burst: int, clock: Clock, max_buckets: int = 10_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def burst(self) -> int:
        return int(self._burst)

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0 when allowed, else the seconds until they would be there."""
        now = self._clock().timestamp()
        with self._lock:
            bucket = self._refilled(key, now)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self._rate

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Like :meth:`take` without taking: 0 when ``cost`` tokens are there, else seconds to wait."""
        now = self._clock().timestamp()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            tokens = min(self._burst, bucket.tokens + max(0.0, now - bucket.updated) * self._rate)
            return 0.0 if tokens >= cost else (cost - tokens) / self._rate

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
        bucket.tokens = min(self._burst, bucket.tokens + max(0.0, now - bucket.updated) * self._rate)
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + max(0.0, now - bucket.updated) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) >= self._max_buckets:  # all busy: forget the oldest
            del self._buckets[next(iter(self._buckets))]
