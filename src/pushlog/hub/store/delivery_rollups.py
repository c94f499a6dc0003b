"""Hourly rollups of the deliveries table, so that the delivery sections of ``GET /v1/stats`` over 7
or 30 days read a few rollup rows per hour instead of every delivery of the window.

Design: an hour is *folded* (its rows aggregated into ``delivery_rollup`` and
``delivery_latency_rollup`` by one ``INSERT ... SELECT``) once it is :data:`FOLD_LAG` hours old, and
refolded when a delivery of that hour changed. Deliveries change long after they are created
(receipts, acknowledgement, retention), through many statements of :mod:`.outbox` that move rows
from any state to another in bulk; so instead of computing a delta per transition (which needs each
row's state before and after every UPDATE), the outbox only *marks* the hour of a changed row
(``delivery_rollup_dirty``, :func:`.outbox._write`) and the fold recomputes the marked hours from
the rows. A marked hour is read from the rows until then, so every answer is exact at any time.

* Live hours: rows are created at their writer's ``now``; the writer marks nothing in its current
  hour and the one before (:data:`.outbox.LIVE_HOURS`), and the fold never folds those (it lags two
  more hours, a margin for hub processes whose clocks disagree). So the hot path (enqueue, sent,
  receipts of fresh pushes) writes no mark and contends on no shared row.
* Folding (:func:`fold`, the ``delivery_rollups`` duty) moves the watermark
  ``delivery_rollup_state.folded_until`` up to ``now - FOLD_LAG`` and refolds the marked hours below
  it, in slices (:func:`fold_slice`) of at most :data:`SLICE_HOURS` hours that hold deliveries, each
  its own short transaction, so the first fold of a big database (the watermark of a fresh or
  upgraded hub is 0: everything stored is folded by the duty, not by the migration) never holds the
  writer long. Safe in two processes at once: the watermark row is read ``FOR UPDATE`` and the marks
  too, and a writer's mark (an UPSERT) holds the mark's row lock until its transaction commits, so a
  fold that would refold the hour waits for the change and sees it. SQLite has one writer anyway.
* Reading (:class:`DeliveryCounts`): the window's whole hours below the watermark and not marked come
  from the rollups; its partial edge hours (as in :mod:`.rollups`), the marked hours and the hours
  above the watermark come from the rows (through ``created_at``'s index), in one ``UNION ALL``
  aggregated by the database. A fold that does not run (a stopped duty) costs time, never
  exactness.

Latencies (sent -> delivered) are kept as counts per bin of a fixed log-scale histogram: the
millisecond below 100 ms, two significant digits above (10 ms steps up to 1 s, 100 ms up to 10 s, ...;
a value is at most 5 % off, typically about 2 %), 90 bins per decade; percentiles come from it. The
rows read live are binned the same way in SQL, so both halves of an answer agree to the row.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from ._tables import (
    as_utc,
    deliveries,
    delivery_latency_rollup,
    delivery_rollup,
    delivery_rollup_dirty,
    delivery_rollup_state,
    devices,
)
from ._window import EpochHour, Window, elapsed_seconds, epoch_hour, hour_start
from .outbox import LIVE_HOURS, DeliveryStatus
from .rollups import whole_hours

__all__ = [
    "FOLD_LAG",
    "SLICE_HOURS",
    "DeliveryCounts",
    "Folded",
    "Slice",
    "fold",
    "fold_hours",
    "fold_slice",
    "latency_bin",
    "median",
    "merged",
    "percentile",
]

#: Hours this far behind the folder's clock are folded: the writers' live hours plus two hours of
#: margin for hub processes whose clocks disagree.
FOLD_LAG: Final = LIVE_HOURS + 2

#: Hours of deliveries (or marked hours) one fold transaction covers at most: a first fold of a big
#: database (an upgraded hub folds everything stored) holds the writer for one slice at a time, and
#: ingest goes between slices.
SLICE_HOURS: Final = 24

#: The rollups' stand-ins for "none" in key columns (a key column cannot be NULL on PostgreSQL).
NO_REASON: Final = ""
NO_CODE: Final = -1

_STATE_ID: Final = 1
_ONE = sa.literal(1, sa.BigInteger)
_ZERO = sa.literal(0, sa.BigInteger)


# -- the row keys and counts, one definition for folding and for reading live rows ----------------


def latency_bin(seconds: ColumnElement[Any]) -> ColumnElement[int]:
    """The histogram bin (milliseconds) of a latency in seconds: the millisecond below 100 ms, rounded
    to two significant digits above (10 ms steps up to 1 s, 100 ms up to 10 s, ...)."""
    ms = sa.cast(sa.func.round(seconds * 1000), sa.BigInteger)
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [(ms < 100, ms)]
    step = 10
    while step <= 10**10:
        half, size = sa.literal(step // 2, sa.BigInteger), sa.literal(step, sa.BigInteger)
        whens.append((ms < step * 100, (ms + half) // size * size))
        step *= 10
    return sa.case(*whens, else_=ms)


def _key_columns() -> list[ColumnElement[Any]]:
    status = deliveries.c.status
    gated = (DeliveryStatus.HELD.value, DeliveryStatus.SKIPPED.value)
    return [
        EpochHour(deliveries.c.created_at).label("hour"),
        deliveries.c.device_id,
        status,
        sa.case((status.in_(gated), sa.func.coalesce(deliveries.c.reason, NO_REASON)), else_=NO_REASON).label(
            "reason"
        ),
        sa.case(
            (status == DeliveryStatus.FAILED.value, sa.func.coalesce(deliveries.c.last_status_code, NO_CODE)),
            else_=NO_CODE,
        ).label("code"),
    ]


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.case((condition, _ONE), else_=_ZERO)


def _row_counts() -> list[ColumnElement[Any]]:
    """Per delivery row, what ``delivery_rollup`` sums (one row each: ``rows`` 1, flags 0 or 1)."""
    c = deliveries.c
    return [
        _ONE.label("rows"),
        _flag(c.sent_at.is_not(None)).label("sent"),
        # A delivery receipt proves the push went out even when it beat the sender's own record.
        _flag(sa.or_(c.sent_at.is_not(None), c.delivered_at.is_not(None))).label("went"),
        _flag(c.delivered_at.is_not(None)).label("delivered"),
        _flag(c.opened_at.is_not(None)).label("opened"),
    ]


_KEYS: Final = ("hour", "device_id", "status", "reason", "code")
_COUNTS: Final = ("rows", "sent", "went", "delivered", "opened")


def _in(since: _dt.datetime, until: _dt.datetime | None, window: Window | None) -> ColumnElement[bool]:
    """``created_at`` in ``since <= t < until`` (open-ended: None), and inside ``window`` if given."""
    created = deliveries.c.created_at
    where = created >= since if until is None else sa.and_(created >= since, created < until)
    return where if window is None else sa.and_(where, window.contains(created))


def _rows(since: _dt.datetime, until: _dt.datetime | None, window: Window | None = None) -> sa.Select[Any]:
    return sa.select(*_key_columns(), *_row_counts()).where(_in(since, until, window))


def _latency_rows(
    since: _dt.datetime, until: _dt.datetime | None, window: Window | None = None
) -> sa.Select[Any]:
    """(hour, device_id, ms, rows=1) of each row with both timestamps and a latency >= 0."""
    c = deliveries.c
    seconds = elapsed_seconds(c.sent_at, c.delivered_at)
    measured = (
        sa.select(EpochHour(c.created_at).label("hour"), c.device_id, seconds.label("seconds"))
        .where(_in(since, until, window), c.sent_at.is_not(None), c.delivered_at.is_not(None), seconds >= 0)
        .subquery("measured")
    )
    return sa.select(
        measured.c.hour, measured.c.device_id, latency_bin(measured.c.seconds).label("ms"), _ONE.label("rows")
    )


# -- folding --------------------------------------------------------------------------------------------


def fold_hours(conn: sa.Connection, first: int, end: int) -> None:
    """(Re)compute the rollup rows of hours ``first <= hour < end`` from the deliveries."""
    for table in (delivery_rollup, delivery_latency_rollup):
        conn.execute(table.delete().where(table.c.hour >= first, table.c.hour < end))
    since, until = hour_start(first), hour_start(end)
    rows = _rows(since, until).subquery("rows")
    conn.execute(
        delivery_rollup.insert().from_select(
            [*_KEYS, *_COUNTS],
            sa.select(*(rows.c[k] for k in _KEYS), *(sa.func.sum(rows.c[n]) for n in _COUNTS)).group_by(
                *(rows.c[k] for k in _KEYS)
            ),
        )
    )
    lat = _latency_rows(since, until).subquery("lat")
    conn.execute(
        delivery_latency_rollup.insert().from_select(
            ["hour", "device_id", "ms", "rows"],
            sa.select(lat.c.hour, lat.c.device_id, lat.c.ms, sa.func.count()).group_by(
                lat.c.hour, lat.c.device_id, lat.c.ms
            ),
        )
    )


def _ranges(hours: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ``hours`` as runs of consecutive hours, ``(first, end)`` each."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


class Slice(NamedTuple):
    """What one fold transaction did: the watermark it moved to (None: it did not move) and how many
    marked hours it refolded. Both empty: nothing was left to fold."""

    folded_until: int | None
    refolded: int


class Folded(NamedTuple):
    """What :func:`fold` did: how many slices (transactions that folded something) and marked hours
    refolded in all."""

    slices: int
    refolded: int


def _first_stored_hour(conn: sa.Connection, first: int, end: int) -> int | None:
    """The hour of the oldest delivery created in hours ``first <= hour < end`` (None: there is none),
    through ``created_at``'s index, so that a slice starts at stored rows, not at an empty stretch
    (the watermark of a fresh or upgraded hub starts at 0, the epoch)."""
    oldest = conn.execute(
        sa.select(sa.func.min(deliveries.c.created_at)).where(
            deliveries.c.created_at >= hour_start(first), deliveries.c.created_at < hour_start(end)
        )
    ).scalar()
    return None if oldest is None else epoch_hour(as_utc(oldest))


def fold_slice(conn: sa.Connection, now: _dt.datetime, *, hours: int = SLICE_HOURS) -> Slice:
    """One bounded step of the fold, in the caller's transaction: move the watermark up by at most
    ``hours`` hours that hold deliveries (empty hours below them come along: nothing to aggregate)
    towards ``now - FOLD_LAG``; once it is there, refold at most ``hours`` of the marked hours below
    it. Safe in several processes (see the module docstring): the watermark row is read
    ``FOR UPDATE`` and the marks too."""
    if hours < 1:
        raise ValueError("a fold slice covers at least one hour")
    folded = int(
        conn.execute(
            sa.select(delivery_rollup_state.c.folded_until)
            .where(delivery_rollup_state.c.id == _STATE_ID)
            .with_for_update()
        ).scalar_one()
    )
    cutoff = epoch_hour(now) - FOLD_LAG
    if cutoff > folded:
        start = _first_stored_hour(conn, folded, cutoff)
        end = cutoff if start is None else min(start + hours, cutoff)
        fold_hours(conn, folded, end)
        conn.execute(
            delivery_rollup_state.update()
            .where(delivery_rollup_state.c.id == _STATE_ID)
            .values(folded_until=end)
        )
        return Slice(end, 0)
    marked = list(
        conn.execute(
            sa.select(delivery_rollup_dirty.c.hour)
            .where(delivery_rollup_dirty.c.hour < folded)
            .order_by(delivery_rollup_dirty.c.hour)
            .limit(hours)
            .with_for_update()
        ).scalars()
    )
    for first, end in _ranges(marked):
        fold_hours(conn, first, end)
    if marked:
        conn.execute(delivery_rollup_dirty.delete().where(delivery_rollup_dirty.c.hour.in_(marked)))
    return Slice(None, len(marked))


def fold(engine: sa.Engine, now: _dt.datetime, *, hours: int = SLICE_HOURS) -> Folded:
    """Fold every hour older than :data:`FOLD_LAG` hours of ``now`` not folded yet and refold the
    marked ones, slice after slice (:func:`fold_slice`), each in a short transaction of its own so
    that writers (ingest, the outbox) go between them; returns when a slice finds nothing left.
    Idempotent and safe in several processes."""
    slices = refolded = 0
    while True:
        with engine.begin() as conn:
            step = fold_slice(conn, now, hours=hours)
        if step.folded_until is None and not step.refolded:
            return Folded(slices, refolded)
        slices += 1
        refolded += step.refolded


# -- reading ----------------------------------------------------------------------------------------


class DeliveryCounts:
    """The deliveries created in ``window``, counted exactly from the rollups and the live rows (the
    plan, which hours come from where, is read once); each answer is computed once."""

    def __init__(self, conn: sa.Connection, window: Window) -> None:
        self._conn = conn
        self._window = window
        self._memo: dict[str, Any] = {}
        span, edges = whole_hours(window)
        #: (since, until or None) ranges read from the rows: partial edge hours, marked hours, the
        #: hours above the watermark.
        self._live: list[tuple[_dt.datetime, _dt.datetime | None]] = [(e.since, e.until) for e in edges]
        self._rolled: tuple[int, int] | None = None
        self._skip: list[int] = []
        if span is not None:
            first, end = span
            folded = int(
                conn.execute(
                    sa.select(delivery_rollup_state.c.folded_until).where(
                        delivery_rollup_state.c.id == _STATE_ID
                    )
                ).scalar_one()
            )
            top = folded if end is None else min(end, folded)
            if top > first:
                self._rolled = (first, top)
                self._skip = list(
                    conn.execute(
                        sa.select(delivery_rollup_dirty.c.hour).where(
                            delivery_rollup_dirty.c.hour >= first, delivery_rollup_dirty.c.hour < top
                        )
                    ).scalars()
                )
                self._live += [(hour_start(a), hour_start(b)) for a, b in _ranges(self._skip)]
            start = max(first, folded)
            if end is None or start < end:
                self._live.append((hour_start(start), None if end is None else hour_start(end)))

    def _rollup_where(self, table: sa.Table) -> ColumnElement[bool]:
        assert self._rolled is not None
        first, top = self._rolled
        where = sa.and_(table.c.hour >= first, table.c.hour < top)
        return sa.and_(where, table.c.hour.not_in(self._skip)) if self._skip else where

    def _union(self) -> sa.Subquery:
        parts: list[sa.Select[Any]] = []
        if self._rolled is not None:
            roll = delivery_rollup.c
            parts.append(
                sa.select(*(roll[k] for k in _KEYS), *(roll[n] for n in _COUNTS)).where(
                    self._rollup_where(delivery_rollup)
                )
            )
        parts += [_rows(since, until, self._window) for since, until in self._live]
        return sa.union_all(*parts).subquery("cells")  # never empty: some part covers every hour

    def by_device_status(self) -> list[tuple[str, str | None, str | None, str, int, int]]:
        """(device_id, device name, kind (None: removed), status, rows, went) per device and status."""
        if "device" not in self._memo:
            u = self._union()
            self._memo["device"] = [
                (str(d), name, kind, str(status), int(n), int(went))
                for d, name, kind, status, n, went in self._conn.execute(
                    sa.select(
                        u.c.device_id,
                        devices.c.name,
                        devices.c.kind,
                        u.c.status,
                        sa.func.sum(u.c.rows),
                        sa.func.sum(u.c.went),
                    )
                    .select_from(u.outerjoin(devices, devices.c.id == u.c.device_id))
                    .group_by(u.c.device_id, devices.c.name, devices.c.kind, u.c.status)
                )
            ]
        result: list[tuple[str, str | None, str | None, str, int, int]] = self._memo["device"]
        return result

    def by_bucket_status(self) -> list[tuple[_dt.datetime, str, int, int, int, int]]:
        """(bucket start, status, rows, went, delivered, opened) per bucket of the window's unit."""
        u = self._union()
        per_day = self._window.unit == "day"
        bucket = (u.c.hour // sa.literal_column("24", sa.BigInteger) if per_day else u.c.hour).label("bucket")
        return [
            (hour_start(int(b) * 24 if per_day else int(b)), str(status), int(n), int(went), int(d), int(o))
            for b, status, n, went, d, o in self._conn.execute(
                sa.select(
                    bucket,
                    u.c.status,
                    sa.func.sum(u.c.rows),
                    sa.func.sum(u.c.went),
                    sa.func.sum(u.c.delivered),
                    sa.func.sum(u.c.opened),
                ).group_by(bucket, u.c.status)
            )
        ]

    def by_outcome(self) -> list[tuple[str, str | None, int | None, int, int, int, int]]:
        """(status, reason (held/skipped), status code (failed), rows, sent, delivered, opened)."""
        u = self._union()
        return [
            (
                str(status),
                reason or None,
                None if code == NO_CODE else int(code),
                int(n),
                int(s),
                int(d),
                int(o),
            )
            for status, reason, code, n, s, d, o in self._conn.execute(
                sa.select(
                    u.c.status,
                    u.c.reason,
                    u.c.code,
                    sa.func.sum(u.c.rows),
                    sa.func.sum(u.c.sent),
                    sa.func.sum(u.c.delivered),
                    sa.func.sum(u.c.opened),
                ).group_by(u.c.status, u.c.reason, u.c.code)
            )
        ]

    def latencies(self) -> dict[str, list[tuple[int, int]]]:
        """Sent -> delivered latency histograms per transport (device kind, ``removed`` for a device
        that is gone): ``(ms, rows)`` pairs by ``ms``."""
        if "latency" not in self._memo:
            parts: list[sa.Select[Any]] = []
            if self._rolled is not None:
                roll = delivery_latency_rollup.c
                parts.append(
                    sa.select(roll.hour, roll.device_id, roll.ms, roll.rows).where(
                        self._rollup_where(delivery_latency_rollup)
                    )
                )
            parts += [_latency_rows(since, until, self._window) for since, until in self._live]
            out: dict[str, list[tuple[int, int]]] = {}
            if parts:
                u = sa.union_all(*parts).subquery("lat")
                kind = sa.func.coalesce(devices.c.kind, "removed")
                for name, ms, n in self._conn.execute(
                    sa.select(kind, u.c.ms, sa.func.sum(u.c.rows))
                    .select_from(u.outerjoin(devices, devices.c.id == u.c.device_id))
                    .group_by(kind, u.c.ms)
                    .order_by(kind, u.c.ms)
                ):
                    out.setdefault(str(name), []).append((int(ms), int(n)))
            self._memo["latency"] = out
        result: dict[str, list[tuple[int, int]]] = self._memo["latency"]
        return result


# -- percentiles over a histogram ---------------------------------------------------------------------


def merged(histograms: Sequence[Sequence[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Several ``(ms, rows)`` histograms as one, by ``ms``."""
    total: dict[int, int] = {}
    for histogram in histograms:
        for ms, n in histogram:
            total[ms] = total.get(ms, 0) + n
    return sorted(total.items())


def _nth(histogram: Sequence[tuple[int, int]], rank: int) -> float:
    """The ``rank``-th smallest value (1-based) of a sorted histogram, in seconds."""
    seen = 0
    for ms, n in histogram:
        seen += n
        if seen >= rank:
            return ms / 1000
    raise ValueError("rank past the histogram")


def percentile(histogram: Sequence[tuple[int, int]], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` 0..1) of a sorted histogram, seconds; None if empty."""
    count = sum(n for _, n in histogram)
    if not count:
        return None
    return round(_nth(histogram, max(1, math.ceil(fraction * count))), 3)


def median(histogram: Sequence[tuple[int, int]]) -> float | None:
    """The median of a sorted histogram as ``statistics.median`` gives it (the mean of the two middle
    values of an even count), seconds; None if empty."""
    count = sum(n for _, n in histogram)
    if not count:
        return None
    middle = (count + 1) // 2
    low = _nth(histogram, middle)
    return round(low if count % 2 else (low + _nth(histogram, middle + 1)) / 2, 3)
