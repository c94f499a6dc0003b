"""Hourly rollups of the events table, so that ``GET /v1/stats`` over 7 or 30 days reads a few thousand
rollup rows instead of every event of the window.

Kept on ingest, in the ingest transaction (:func:`record`, called by ``events.insert_events``): one
grouped UPSERT per rollup table per batch, never one per event. A new visible line adds one line and
its ``count`` to its hour (of ``ts``) x level x channel and to its hour x fingerprint; a dedup
follow-up folded into a line adds its count to that line's cells, as the line's own ``count`` grows.
So a cell always equals what ``count(*)`` / ``sum(count)`` over the events table gives for that hour,
and ingest needs no duty and no "closed hour" (an event may arrive hours late, from a client's spool).

Reading (:func:`event_counts`, :func:`noisiest`) takes whole hours of the window from the rollups and
the partial hours at its edges (a window such as "the last 24 h" starts mid-hour) from the events
table through its ``ts`` index, in one ``UNION ALL`` aggregated by the database: exact, and the events
read stay within two hours whatever the window's length.

Limits, by design: a rollup keeps counting what was received after retention deletes the events
(aggregates outlive the rows, as a history of volume); a line's ``count`` saturates at ``MAX_COUNT``
(2**31 - 1) while its rollup cell does not.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import ColumnElement

from ._prepared import Prepared
from ._tables import event_rollup, events, fingerprint_rollup
from ._window import EpochHour, Window, epoch_hour, hour_start

__all__ = ["Counts", "event_counts", "noisiest", "record", "whole_hours"]

#: The rollups' stand-in for "no channel" (a key column cannot be NULL on PostgreSQL).
NO_CHANNEL_KEY = ""


class Line(Protocol):
    """What :func:`record` reads of a new visible event (``events.NewEvent``)."""

    @property
    def ts(self) -> _dt.datetime: ...
    @property
    def level(self) -> int: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def count(self) -> int: ...


# -- writing ------------------------------------------------------------------------------------------


def record(conn: sa.Connection, lines: Sequence[Line], growth: Mapping[int, int]) -> None:
    """Add a batch to the rollups: ``lines`` are the new visible events, ``growth`` maps the seq of a
    line that dedup follow-ups were folded into to the count they added."""
    cells: dict[tuple[int, int, str], list[int]] = {}
    prints: dict[tuple[int, str], list[Any]] = {}

    def add(
        ts: _dt.datetime, level: int, channel: str | None, fp: str | None, n_lines: int, occ: int
    ) -> None:
        hour = epoch_hour(ts)
        cell = cells.setdefault((hour, level, channel or NO_CHANNEL_KEY), [0, 0])
        cell[0] += n_lines
        cell[1] += occ
        if fp is not None:
            prints.setdefault((hour, fp), [0, 0, level, None, channel])
            entry = prints[(hour, fp)]
            entry[0] += n_lines
            entry[1] += occ

    for line in lines:
        add(line.ts, int(line.level), line.channel, line.fingerprint, 1, line.count)
        if line.fingerprint is not None:
            entry = prints[(epoch_hour(line.ts), line.fingerprint)]
            entry[2] = max(entry[2], int(line.level))
            entry[3] = line.title if entry[3] is None else max(entry[3], line.title)
            entry[4] = _larger(entry[4], line.channel)
    if growth:
        grown = conn.execute(
            sa.select(
                events.c.seq, events.c.ts, events.c.level, events.c.channel, events.c.fingerprint
            ).where(events.c.seq.in_(list(growth)))
        )
        for seq, ts, level, channel, fp in grown:
            add(ts, int(level), channel, fp, 0, growth[seq])
    if cells:
        _upsert_cells(conn, cells)
    if prints:
        _upsert_prints(conn, prints)


def _larger(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _insert(dialect: sa.Dialect, table: sa.Table) -> Any:
    return (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)


def _greater(current: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    """The larger of two values, NULL-ignoring like ``max()`` (SQLite's scalar ``max`` is not)."""
    return sa.case((current.is_(None), new), (new.is_(None), current), (new > current, new), else_=current)


def _cells_upsert(dialect: sa.Dialect) -> Any:
    stmt = _insert(dialect, event_rollup)
    stmt = stmt.on_conflict_do_update(
        index_elements=["hour", "level", "channel"],
        set_={
            "lines": event_rollup.c.lines + stmt.excluded.lines,
            "occurrences": event_rollup.c.occurrences + stmt.excluded.occurrences,
        },
    )
    return stmt.values({c: sa.bindparam(c) for c in ("hour", "level", "channel", "lines", "occurrences")})


#: The rollups' UPSERTs (each dialect its own ``ON CONFLICT`` form), compiled once per connection.
_CELLS_UPSERT = Prepared(_cells_upsert)


def _upsert_cells(conn: sa.Connection, cells: dict[tuple[int, int, str], list[int]]) -> None:
    rows = [
        {"hour": h, "level": lv, "channel": ch, "lines": n, "occurrences": occ}
        for (h, lv, ch), (n, occ) in cells.items()
    ]
    _CELLS_UPSERT.execute_many(conn, rows)


_PRINT_COLUMNS = ("hour", "fingerprint", "lines", "occurrences", "level", "title", "channel")


def _prints_upsert(dialect: sa.Dialect) -> Any:
    # A print touched only by follow-ups has no title of its own: its row exists already (its line
    # was recorded first), so the UPSERT only ever updates it and the placeholder is never stored.
    stmt = _insert(dialect, fingerprint_rollup)
    stmt = stmt.on_conflict_do_update(
        index_elements=["hour", "fingerprint"],
        set_={
            "lines": fingerprint_rollup.c.lines + stmt.excluded.lines,
            "occurrences": fingerprint_rollup.c.occurrences + stmt.excluded.occurrences,
            "level": _greater(fingerprint_rollup.c.level, stmt.excluded.level),
            "title": sa.case(
                (stmt.excluded.lines == sa.literal_column("0"), fingerprint_rollup.c.title),
                else_=_greater(fingerprint_rollup.c.title, stmt.excluded.title),
            ),
            "channel": sa.case(
                (stmt.excluded.lines == sa.literal_column("0"), fingerprint_rollup.c.channel),
                else_=_greater(fingerprint_rollup.c.channel, stmt.excluded.channel),
            ),
        },
    )
    return stmt.values({c: sa.bindparam(c) for c in _PRINT_COLUMNS})


_PRINTS_UPSERT = Prepared(_prints_upsert)


def _upsert_prints(conn: sa.Connection, prints: dict[tuple[int, str], list[Any]]) -> None:
    _PRINTS_UPSERT.execute_many(
        conn,
        [
            {
                "hour": h,
                "fingerprint": fp,
                "lines": n,
                "occurrences": occ,
                "level": level,
                "title": "" if title is None else title,
                "channel": channel,
            }
            for (h, fp), (n, occ, level, title, channel) in prints.items()
        ],
    )


# -- reading ------------------------------------------------------------------------------------------


def whole_hours(window: Window) -> tuple[tuple[int, int | None] | None, list[Window]]:
    """The whole hours of ``window`` (first, end or None when open-ended) and the windows of its
    partial hours, read from the rows themselves (the delivery rollups cut windows alike)."""
    first = epoch_hour(window.since)
    if hour_start(first) < window.since:
        first += 1
    end = epoch_hour(window.until) if window.bounded else None
    if end is not None and first >= end:
        return None, [window]
    edges = []
    if window.since < hour_start(first):
        edges.append(Window(since=window.since, until=hour_start(first), unit=window.unit))
    if end is not None and hour_start(end) < window.until:
        edges.append(Window(since=hour_start(end), until=window.until, unit=window.unit))
    return (first, end), edges


def _hours(column: ColumnElement[int], span: tuple[int, int | None]) -> ColumnElement[bool]:
    first, end = span
    return column >= first if end is None else sa.and_(column >= first, column < end)


_ONE = sa.literal(1, sa.BigInteger)
_VISIBLE = events.c.merged_into.is_(None)


def _event_rows(window: Window) -> sa.Subquery:
    span, edges = whole_hours(window)
    parts: list[sa.Select[Any]] = []
    if span is not None:
        parts.append(
            sa.select(
                event_rollup.c.hour,
                event_rollup.c.level,
                event_rollup.c.channel,
                event_rollup.c.lines,
                event_rollup.c.occurrences,
            ).where(_hours(event_rollup.c.hour, span))
        )
    for edge in edges:
        parts.append(
            sa.select(
                EpochHour(events.c.ts).label("hour"),
                events.c.level,
                sa.func.coalesce(events.c.channel, NO_CHANNEL_KEY).label("channel"),
                _ONE.label("lines"),
                sa.cast(events.c.count, sa.BigInteger).label("occurrences"),
            ).where(edge.contains(events.c.ts), _VISIBLE)
        )
    return sa.union_all(*parts).subquery("rows")


#: (bucket start, level, channel or None, visible lines, occurrences) rows.
Counts = list[tuple[_dt.datetime, int, str | None, int, int]]


def event_counts(conn: sa.Connection, window: Window) -> Counts:
    """Visible lines and occurrences of ``window`` per bucket (its start), level and channel
    (None for none), exact."""
    rows = _event_rows(window)
    per_day = window.unit == "day"
    bucket = (rows.c.hour // sa.literal_column("24", sa.BigInteger) if per_day else rows.c.hour).label(
        "bucket"
    )
    out = []
    for number, level, channel, lines, occ in conn.execute(
        sa.select(
            bucket, rows.c.level, rows.c.channel, sa.func.sum(rows.c.lines), sa.func.sum(rows.c.occurrences)
        ).group_by(bucket, rows.c.level, rows.c.channel)
    ):
        start = hour_start(int(number) * 24 if per_day else int(number))
        out.append((start, int(level), channel or None, int(lines), int(occ)))
    return out


def noisiest(conn: sa.Connection, window: Window, top: int) -> Iterable[tuple[Any, ...]]:
    """The ``top`` fingerprints of ``window`` by occurrences: (fingerprint, lines, occurrences, largest
    level, title, channel), most first, exact."""
    span, edges = whole_hours(window)
    parts: list[sa.Select[Any]] = []
    roll = fingerprint_rollup.c
    if span is not None:
        parts.append(
            sa.select(
                roll.fingerprint, roll.lines, roll.occurrences, roll.level, roll.title, roll.channel
            ).where(_hours(roll.hour, span))
        )
    for edge in edges:
        parts.append(
            sa.select(
                events.c.fingerprint,
                _ONE.label("lines"),
                sa.cast(events.c.count, sa.BigInteger).label("occurrences"),
                events.c.level,
                events.c.title,
                events.c.channel,
            ).where(edge.contains(events.c.ts), _VISIBLE, events.c.fingerprint.is_not(None))
        )
    rows = sa.union_all(*parts).subquery("rows")
    occurrences = sa.func.sum(rows.c.occurrences)
    return conn.execute(
        sa.select(
            rows.c.fingerprint,
            sa.func.sum(rows.c.lines),
            occurrences,
            sa.func.max(rows.c.level),
            sa.func.max(rows.c.title),
            sa.func.max(rows.c.channel),
        )
        .group_by(rows.c.fingerprint)
        .order_by(occurrences.desc(), rows.c.fingerprint)
        .limit(top)
    ).all()
