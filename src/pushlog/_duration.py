"""Durations as people write them: ``90s``, ``15m``, ``1h30m``, ``1d``, ``2w`` or a number of seconds.

Shared by the CLI (``--every 1d``), ``pushlog.job(every="1d")`` and the hub's heartbeat API.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

UNITS: Final[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?")


def parse_seconds(value: str | float | _dt.timedelta, what: str = "duration") -> float:
    """Seconds in ``value``; raises :class:`ValueError` (one line naming ``what``) for anything else,
    for zero and for negative values."""
    seconds: float
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        raw = value.strip().lower()
        if _NUMBER.fullmatch(raw):
            seconds = float(raw)
        else:
            seconds, pos = 0.0, 0
            for match in _PART.finditer(raw):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * UNITS[match.group(2)]
                pos = match.end()
            if not raw or pos != len(raw):
                raise ValueError(f"bad {what} {value!r}; use e.g. 90s, 15m, 1h, 1d, 1h30m")
    else:
        raise ValueError(f"bad {what} {value!r}; use e.g. 90s, 15m, 1h, 1d, 1h30m")
    if seconds <= 0:
        raise ValueError(f"{what} must be positive: {value!r}")
    return seconds


def parse_duration(value: str | float | _dt.timedelta, what: str = "duration") -> _dt.timedelta:
    """Like :func:`parse_seconds`, as a :class:`~datetime.timedelta`."""
    return _dt.timedelta(seconds=parse_seconds(value, what))


def format_seconds(seconds: float) -> str:
    """``86400`` -> ``1d``, ``5400`` -> ``1h30m``, ``90`` -> ``1m30s`` (whole seconds)."""
    whole = round(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or f"{seconds:g}s"


def format_duration(delta: _dt.timedelta | float) -> str:
    """Human form of a duration: ``850ms``, ``4.2s``, ``3m05s``, ``2h10m``, ``1d3h``."""
    seconds = delta.total_seconds() if isinstance(delta, _dt.timedelta) else float(delta)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"
    return f"{whole // 86400}d{(whole % 86400) // 3600}h"


def format_span(seconds: float) -> str:
    """A span as people say it in one unit, for alert texts: ``45 s``, ``14 min``, ``25 h``, ``3 d``
    (seconds below 2 min, minutes below 2 h, hours below 3 d)."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{round(seconds)} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    if seconds < 3 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"
