"""When a notification goes out: now, at a time, after a delay, or at a local time in each
recipient's own time zone.

A local-time schedule (``local_time`` "09:00" on ``date``) is expanded once the earliest zone on
Earth (UTC+14) reaches that moment; each recipient's delivery is then due at that wall-clock time in
their zone (the user's ``timezone``, else their device's, else the schedule's ``timezone``, else UTC).
Recipients whose moment has already passed when the notification is expanded get it at the same
local time the next day. Wall-clock times are resolved with zoneinfo: a time that does not exist
(the hour skipped when clocks go forward) is sent as if the clock had not changed, i.e. that much
later (02:30 becomes 03:30); a time that happens twice (clocks go back) is sent at its first
occurrence.
"""

from __future__ import annotations

import datetime as _dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, Final

from .._timezones import is_iana_zone

#: The largest UTC offset in use (Kiribati, UTC+14): no zone reaches a local time earlier than this.
_EARLIEST_OFFSET: Final = _dt.timedelta(hours=14)


def zone_of(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``; None for None or a name that is not an IANA zone (what devices
    report is not trusted to be one)."""
    return zoneinfo.ZoneInfo(name) if name and is_iana_zone(name) else None


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A wall-clock time on a date, in whichever zone each recipient is in."""

    date: _dt.date
    time: _dt.time
    fallback: zoneinfo.ZoneInfo

    def in_zone(self, zone: zoneinfo.ZoneInfo | None, *, now: _dt.datetime) -> _dt.datetime:
        """The UTC moment this local time is in ``zone`` (None: the fallback), the next day's if it
        is already past at ``now``."""
        where = zone or self.fallback
        for day in (self.date, self.date + _dt.timedelta(days=1)):
            moment = _dt.datetime.combine(day, self.time, tzinfo=where).astimezone(_dt.UTC)
            if moment >= now:
                return moment
        return moment

    @property
    def earliest(self) -> _dt.datetime:
        """When the first zone reaches it (when the notification is expanded)."""
        return _dt.datetime.combine(self.date, self.time, tzinfo=_dt.UTC) - _EARLIEST_OFFSET


def local_time_of(schedule: dict[str, Any]) -> LocalTime | None:
    """The stored schedule's local time (``{"local_time", "date", "timezone"}``), or None."""
    if schedule.get("local_time") is None:
        return None
    return LocalTime(
        date=_dt.date.fromisoformat(schedule["date"]),
        time=_dt.time.fromisoformat(schedule["local_time"]),
        fallback=zoneinfo.ZoneInfo(schedule.get("timezone") or "UTC"),
    )
