"""The hub's notion of time: a callable returning an aware UTC ``datetime``.

Everything time-based in the hub (timestamps, rate-limit buckets, CRITICAL re-push schedule) reads
the injected clock, so tests can drive time without sleeping.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

Clock = Callable[[], _dt.datetime]


def system_clock() -> _dt.datetime:
    """Wall-clock time in UTC."""
    return _dt.datetime.now(_dt.UTC)
