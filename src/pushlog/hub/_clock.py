"""The hub's notion of time: a callable returning an aware UTC ``datetime``, and how times are written.

Everything time-based in the hub (timestamps, rate-limit buckets, CRITICAL re-push schedule) reads
the injected clock, so tests can drive time without sleeping. Every time the hub writes in JSON
(API answers, the stream, push payloads, alert texts) goes through :func:`format_time`: RFC 3339 in
UTC with microseconds and a ``Z``, the wire format of :func:`pushlog._event.format_ts`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import overload

from .._event import format_ts

Clock = Callable[[], _dt.datetime]


def system_clock() -> _dt.datetime:
    """Wall-clock time in UTC."""
    return _dt.datetime.now(_dt.UTC)


@overload
def format_time(moment: _dt.datetime) -> str: ...
@overload
def format_time(moment: None) -> None: ...
@overload
def format_time(moment: _dt.datetime | None) -> str | None: ...
def format_time(moment: _dt.datetime | None) -> str | None:
    """``moment`` as the hub writes it in JSON (``2026-01-31T12:00:00.000000Z``); ``None`` stays ``None``."""
    return None if moment is None else format_ts(moment)
