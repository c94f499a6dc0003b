"""Time windows and buckets shared by every section of ``GET /v1/stats`` (:mod:`.stats`,
:mod:`.analytics`): ``since <= t < until`` cut into UTC hours or days, and the one dialect-specific
piece, a timestamp cut to its hour or day (:class:`TimeBucket`, compiled for SQLite and PostgreSQL
to the same text)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

#: Bucket sizes the API accepts, with their length.
BUCKETS: Final = {"hour": _dt.timedelta(hours=1), "day": _dt.timedelta(days=1)}


class TimeBucket(FunctionElement[str]):
    """``column`` cut to the start of its hour (:class:`HourBucket`) or day (:class:`DayBucket`), as
    ``YYYY-MM-DD HH:00:00`` text (UTC). One class per unit, so SQLAlchemy's statement cache (keyed on
    the class) never reuses one unit's SQL for the other."""

    type = sa.String()
    inherit_cache = True
    name = "time_bucket"
    unit: str = ""


class HourBucket(TimeBucket):
    inherit_cache = True
    unit = "hour"


class DayBucket(TimeBucket):
    inherit_cache = True
    unit = "day"


def time_bucket(column: ColumnElement[Any], unit: str) -> TimeBucket:
    if unit == "hour":
        return HourBucket(column)
    if unit == "day":
        return DayBucket(column)
    raise ValueError(f"unknown bucket {unit!r}")


@compiles(TimeBucket, "sqlite")
def _bucket_sqlite(element: TimeBucket, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) on SQLite.
    fmt = "%Y-%m-%d %H:00:00" if element.unit == "hour" else "%Y-%m-%d 00:00:00"
    return f"strftime('{fmt}', {compiler.process(element.clauses, **kw)})"


@compiles(TimeBucket, "postgresql")
def _bucket_postgresql(element: TimeBucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('{element.unit}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:00:00')"


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """``since <= t < until``, cut into buckets of ``unit`` (aligned to UTC hours or days)."""

    since: _dt.datetime
    until: _dt.datetime
    unit: str = "hour"
    #: ``False`` when the caller gave no ``until``: rows stamped after ``until`` (a client whose clock
    #: runs ahead) still count, in buckets of their own, so the window's totals match the feed's.
    bounded: bool = True

    def contains(self, column: Any) -> ColumnElement[bool]:
        if self.bounded:
            return sa.and_(column >= self.since, column < self.until)
        return sa.and_(column >= self.since)

    def starts(self) -> list[_dt.datetime]:
        """The start of every bucket that overlaps the window (open-ended: up to now's), oldest first."""
        step = BUCKETS[self.unit]
        first = self.since.astimezone(_dt.UTC).replace(minute=0, second=0, microsecond=0)
        if self.unit == "day":
            first = first.replace(hour=0)
        out = []
        moment = first
        while moment < self.until or (not self.bounded and moment <= self.until):
            out.append(moment)
            moment += step
        return out


def bucket_start(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text).replace(tzinfo=_dt.UTC)


class EpochHour(FunctionElement[int]):
    """A timestamp as whole hours since 1970-01-01 UTC (the rollups' ``hour`` key, see
    :func:`epoch_hour` for the same in Python)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_hour"


@compiles(EpochHour, "sqlite")
def _epoch_hour_sqlite(element: EpochHour, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 3600)"


@compiles(EpochHour, "postgresql")
def _epoch_hour_postgresql(element: EpochHour, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 3600) AS BIGINT)"


def epoch_hour(moment: _dt.datetime) -> int:
    """Whole hours since the epoch of an aware ``moment`` (what :class:`EpochHour` computes)."""
    return (moment - _EPOCH) // _HOUR


def hour_start(hour: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(hours=hour)


_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_HOUR: Final = _dt.timedelta(hours=1)


class ElapsedSeconds(FunctionElement[float]):
    """``later - earlier`` in seconds as a float, computed by the database (so exact percentiles
    read one float per row instead of two timestamps to parse)."""

    type = sa.Float()
    inherit_cache = True
    name = "elapsed_seconds"


def elapsed_seconds(earlier: ColumnElement[Any], later: ColumnElement[Any]) -> ElapsedSeconds:
    return ElapsedSeconds(earlier, later)


@compiles(ElapsedSeconds, "sqlite")
def _elapsed_sqlite(element: ElapsedSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(ElapsedSeconds, "postgresql")
def _elapsed_postgresql(element: ElapsedSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))::float8"
