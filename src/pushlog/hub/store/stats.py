"""Statistics for ``GET /v1/stats``: exact counts over a time window, and the clients' drop reports.

Everything is aggregated in the database with portable Core (``count``, ``sum(case ...)``,
``group by``); the only dialect-specific piece is how a timestamp is cut to its hour or day
(``_window.TimeBucket``, compiled for SQLite and PostgreSQL), which both render as the same text.
The team's analytics (per channel, noisiest fingerprints, acknowledgement times, transports, the
funnel) are :mod:`.analytics`'.

* Events are counted by their ``ts`` (the same clock the feed's ``since``/``until`` filter on) as
  the feed shows them: visible lines per bucket and level (a dedup follow-up folded into its first
  event, ``merged_into`` set, is not a line of its own), and ``occurrences``, the sum of the lines'
  ``count`` (which includes what was folded in, counted in the first event's bucket).
* Deliveries are counted by ``created_at`` (a CRITICAL re-push round counts when it is created):
  by status, by device, and as push milestones (sent / delivered / opened from their timestamps,
  failed / acknowledged from the status; a delivered row counts as sent too). The median
  sent -> delivered latency comes from the window's rows that have both timestamps, binned to the
  millisecond below 100 ms and to two significant digits above (at most 5 % off). Per bucket, the pushes sent,
  delivered and opened and the open rate (opened / sent) over time. All of it is read through the
  hourly delivery rollups (:mod:`.delivery_rollups`): exact counts, bounded by the window's hours.
* Client drop reports (``"client": {"dropped": n}`` in a publish envelope: events a client's queue
  could not keep) live in ``client_reports``, one row per report, counted by ``received_at``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from ..._levels import Level
from .._clock import format_time
from . import analytics, delivery_rollups, rollups
from ._tables import client_reports, keys
from ._window import BUCKETS, Window, bucket_start, time_bucket
from .outbox import DeliveryStatus

__all__ = ["BUCKETS", "Window", "record_client_report", "stats"]

_LEVEL_NAMES: Final = {int(level): level.name.lower() for level in Level}


def record_client_report(
    conn: sa.Connection,
    *,
    dropped: int,
    key_id: str | None,
    sdk: str | None,
    now: _dt.datetime,
    recovered: int = 0,
) -> None:
    """Remember that a client reported ``dropped`` events it could not keep and ``recovered`` events it
    sent from a spool an earlier process left."""
    conn.execute(
        client_reports.insert().values(
            received_at=now,
            key_id=key_id,
            dropped=dropped,
            recovered=recovered or None,
            sdk=(sdk or None) and sdk[:64],
        )
    )


def _level_name(level: int) -> str:
    """The standard level a stored level counts under (custom levels: the nearest one below)."""
    best = min(_LEVEL_NAMES)
    for value in sorted(_LEVEL_NAMES):
        if value <= level:
            best = value
    return _LEVEL_NAMES[best]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _events(
    conn: sa.Connection, window: Window, starts: list[_dt.datetime], known: rollups.Counts | None = None
) -> dict[str, Any]:
    rows = rollups.event_counts(conn, window) if known is None else known
    names = list(dict.fromkeys(_LEVEL_NAMES.values()))
    per_bucket = {start: dict.fromkeys(names, 0) for start in starts}
    by_level = dict.fromkeys(names, 0)
    total = occurrences = 0
    for start, level, _channel, n, occ in rows:
        name = _level_name(level)
        per_bucket.setdefault(start, dict.fromkeys(names, 0))[name] += n
        by_level[name] += int(n)
        total += int(n)
        occurrences += int(occ)
    return {
        "total": total,
        "occurrences": occurrences,
        "by_level": by_level,
        "buckets": [{"start": format_time(start), **counts} for start, counts in sorted(per_bucket.items())],
    }


def _zero_by_status() -> dict[str, int]:
    return {status.value: 0 for status in DeliveryStatus}


def _deliveries(
    conn: sa.Connection,
    window: Window,
    starts: list[_dt.datetime],
    known: delivery_rollups.DeliveryCounts | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    counts = delivery_rollups.DeliveryCounts(conn, window) if known is None else known
    by_status = _zero_by_status()
    per_device: dict[str, dict[str, Any]] = {}
    for device_id, name, kind, status, n, _went in counts.by_device_status():
        by_status[status] = by_status.get(status, 0) + n
        device = per_device.setdefault(
            device_id,
            {
                "device_id": device_id,
                "name": name,
                "kind": kind,
                "removed": kind is None,
                "total": 0,
                "by_status": _zero_by_status(),
            },
        )
        device["by_status"][status] = device["by_status"].get(status, 0) + n
        device["total"] += n
    # per bucket: sent (or delivered), failed, delivered, opened, acknowledged
    per_bucket: dict[_dt.datetime, list[int]] = {start: [0, 0, 0, 0, 0] for start in starts}
    for start, status, n, went, delivered, opened in counts.by_bucket_status():
        cell = per_bucket.setdefault(start, [0, 0, 0, 0, 0])
        cell[0] += went
        cell[1] += n if status == DeliveryStatus.FAILED else 0
        cell[2] += delivered
        cell[3] += opened
        cell[4] += n if status == DeliveryStatus.ACKNOWLEDGED else 0
    milestones = [sum(column) for column in zip(*per_bucket.values(), strict=True)] or [0] * 5
    latencies = delivery_rollups.merged(list(counts.latencies().values()))
    sent, failed, delivered, opened, acknowledged = (int(v) for v in milestones)
    pushes = {
        "sent": sent,
        "failed": failed,
        "delivered": delivered,
        "opened": opened,
        "acknowledged": acknowledged,
        "median_delivery_latency_s": delivery_rollups.median(latencies),
        "buckets": [
            {
                "start": format_time(start),
                "sent": b_sent,
                "delivered": b_delivered,
                "opened": b_opened,
                "open_rate": round(b_opened / b_sent, 4) if b_sent else None,
            }
            for start, (b_sent, _, b_delivered, b_opened, _) in sorted(per_bucket.items())
        ],
    }
    devices_out = sorted(per_device.values(), key=lambda d: (-d["total"], d["name"] or "", d["device_id"]))
    return {"total": sum(by_status.values()), "by_status": by_status, "by_device": devices_out}, pushes


def _clients(conn: sa.Connection, window: Window, starts: list[_dt.datetime]) -> dict[str, Any]:
    in_window = window.contains(client_reports.c.received_at)
    dropped = sa.func.sum(client_reports.c.dropped)
    recovered = sa.func.coalesce(sa.func.sum(client_reports.c.recovered), 0)
    by_key = conn.execute(
        sa.select(client_reports.c.key_id, keys.c.name, dropped, recovered, sa.func.count())
        .select_from(client_reports.outerjoin(keys, keys.c.id == client_reports.c.key_id))
        .where(in_window)
        .group_by(client_reports.c.key_id, keys.c.name)
    ).all()
    bucket = time_bucket(client_reports.c.received_at, window.unit).label("bucket")
    per_bucket = {start: (0, 0) for start in starts}
    for text, n, r in conn.execute(sa.select(bucket, dropped, recovered).where(in_window).group_by(bucket)):
        before = per_bucket.get(bucket_start(text), (0, 0))
        per_bucket[bucket_start(text)] = (before[0] + int(n), before[1] + int(r))
    keys_out = sorted(
        (
            {
                "key_id": key_id,
                "key_name": name,
                "dropped": int(n),
                "recovered": int(r),
                "reports": int(reports),
            }
            for key_id, name, n, r, reports in by_key
        ),
        key=lambda k: (-k["dropped"], k["key_name"] or ""),
    )
    return {
        "dropped": sum(k["dropped"] for k in keys_out),
        "recovered": sum(k["recovered"] for k in keys_out),
        "by_key": keys_out,
        "buckets": [
            {"start": format_time(start), "dropped": n, "recovered": r}
            for start, (n, r) in sorted(per_bucket.items())
        ],
    }


def stats(conn: sa.Connection, window: Window, *, top: int = 10) -> dict[str, Any]:
    """Every count of ``GET /v1/stats`` for ``window`` (see the module docstring and
    :mod:`.analytics`); ``top``: how many noisiest fingerprints."""
    starts = window.starts()
    delivered = delivery_rollups.DeliveryCounts(conn, window)
    delivery_stats, pushes = _deliveries(conn, window, starts, delivered)
    counts = rollups.event_counts(conn, window)
    return {
        "channels": analytics.channels(conn, window, starts, counts),
        "noisiest": analytics.noisiest(conn, window, top),
        "acknowledgement": analytics.acknowledgement(conn, window),
        "transports": analytics.transports(conn, window, delivered),
        "funnel": analytics.funnel(conn, window, delivered),
        "notifications": analytics.notification_funnels(conn, window),
        "since": format_time(window.since),
        "until": format_time(window.until),
        "bucket": window.unit,
        "events": _events(conn, window, starts, counts),
        "deliveries": delivery_stats,
        "pushes": pushes,
        "clients": _clients(conn, window, starts),
    }
