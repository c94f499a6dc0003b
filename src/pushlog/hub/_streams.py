"""Caps on live ``/v1/stream`` connections, in total and per key.

Every live stream costs a connection, a task and a share of each published change's fan-out (streams
with the same filter share one database read, hub/_broker.py), so without a cap a leaked read key
could open streams until the descriptors run out. The per-key default leaves room for a team sharing
one read key across its browsers and terminals. :meth:`StreamSlots.acquire` admits a stream or
answers 429 ``too_many_streams`` (Retry-After :data:`RETRY_AFTER`); the slot is released when the
stream ends, whichever way it ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Final

from ._errors import ApiError

#: Seconds a refused stream is told to wait: streams end when their readers leave, at no set time.
RETRY_AFTER: Final = 30.0


class StreamSlots:
    def __init__(self, *, total: int, per_key: int) -> None:
        if total < 1 or per_key < 1:
            raise ValueError("stream caps must be >= 1")
        self.total = total
        self.per_key = per_key
        self._by_key: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        return sum(self._by_key.values())

    def acquire(self, key_id: str) -> Callable[[], None]:
        """Take a slot for ``key_id``; returns the (idempotent) release. Raises 429 when full."""
        with self._lock:
            if self._by_key[key_id] >= self.per_key:
                raise ApiError(
                    429,
                    "too_many_streams",
                    f"this key already has {self.per_key} live streams (the most one key may have); "
                    "close one first",
                    retry_after=RETRY_AFTER,
                )
            if self.live >= self.total:
                raise ApiError(
                    429,
                    "too_many_streams",
                    f"the hub already serves {self.total} live streams (its limit); retry later",
                    retry_after=RETRY_AFTER,
                )
            self._by_key[key_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._by_key[key_id] -= 1
                if self._by_key[key_id] <= 0:
                    del self._by_key[key_id]

        return release
