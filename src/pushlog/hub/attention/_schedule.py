"""Local time in the person's zone: when quiet hours end, when the next digest goes out.

Every moment is compared in UTC (aware datetimes of one zone compare by wall time, which is wrong
across a DST change). A local time that does not exist (the hour skipped in spring) is read with the
offset before the change, so it lands just after the gap; one that exists twice (autumn) is its first
occurrence (``fold=0``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Final

from ._prefs import WEEKDAYS, DigestSchedule, QuietHours

#: Overlapping or back-to-back windows are followed at most this many times.
_MAX_CHAIN: Final = 16


def _clock_time(text: str) -> _dt.time:
    hours, minutes = text.split(":")
    return _dt.time(int(hours), int(minutes))


def local_moment(day: _dt.date, at: str, tz: _dt.tzinfo) -> _dt.datetime:
    """``day`` at ``at`` (HH:MM) in ``tz``, as UTC."""
    return _dt.datetime.combine(day, _clock_time(at), tzinfo=tz).astimezone(_dt.UTC)


def _window_end(windows: Sequence[QuietHours], tz: _dt.tzinfo, now: _dt.datetime) -> _dt.datetime | None:
    """The end of the latest-ending window that contains ``now``, or None."""
    today = now.astimezone(tz).date()
    ends = []
    for day in (today - _dt.timedelta(days=1), today):
        weekday = WEEKDAYS[day.weekday()]
        for window in windows:
            if weekday not in window.days:
                continue
            start = local_moment(day, window.start, tz)
            overnight = _clock_time(window.end) <= _clock_time(window.start)
            end = local_moment(day + _dt.timedelta(days=1) if overnight else day, window.end, tz)
            if start <= now < end:
                ends.append(end)
    return max(ends) if ends else None


def quiet_until(windows: Sequence[QuietHours], tz: _dt.tzinfo, now: _dt.datetime) -> _dt.datetime | None:
    """When the quiet hours that hold ``now`` end (following windows that continue them), or None if
    ``now`` is not quiet."""
    moment = now.astimezone(_dt.UTC)
    end = None
    for _ in range(_MAX_CHAIN):
        found = _window_end(windows, tz, moment)
        if found is None:
            break
        end = moment = found
    return end


def next_digest(schedule: DigestSchedule, tz: _dt.tzinfo, now: _dt.datetime) -> _dt.datetime:
    """The first digest moment after ``now``: the next local top of the hour, or the next ``at``."""
    local = now.astimezone(tz)
    if schedule.every == "hour":
        top = local.replace(minute=0, second=0, microsecond=0).astimezone(_dt.UTC)
        return top + _dt.timedelta(hours=1)
    day = local.date()
    for offset in range(3):
        moment = local_moment(day + _dt.timedelta(days=offset), schedule.at, tz)
        if moment > now:
            return moment
    raise AssertionError("a daily time recurs within three days")  # pragma: no cover
