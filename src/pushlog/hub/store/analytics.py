"""The team's analytics in ``GET /v1/stats`` beyond the counts of :mod:`.stats`: events per channel
over time, the noisiest fingerprints, how long CRITICALs wait to be acknowledged, each transport's
success rate and sent -> delivered latency, and the delivery funnel with held/skipped/failed reasons.

Exact: every count is aggregated in the database, from the rows or the hourly rollups
(:mod:`.rollups` for events, :mod:`.delivery_rollups` for deliveries). Acknowledgement percentiles
are over the exact list of durations; sent -> delivered latency percentiles over the delivery
rollups' bins (the millisecond below 100 ms, two significant digits above: at most 5 % off). Windows are
:class:`.stats.Window` and buckets :func:`.stats.time_bucket`, so every section cuts time alike.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from ..._levels import Level
from .._clock import format_time
from . import delivery_rollups, rollups
from . import notifications as notification_store
from ._tables import events, notifications
from ._window import Window, elapsed_seconds
from .outbox import DeliveryStatus

#: How many channels the per-channel series keeps (the rest is summed as ``other``).
TOP_CHANNELS: Final = 8
OTHER: Final = "(other)"
NO_CHANNEL: Final = "(none)"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (``fraction`` 0..1); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return round(ordered[rank - 1], 3)


def channels(
    conn: sa.Connection, window: Window, starts: list[_dt.datetime], known: rollups.Counts | None = None
) -> dict[str, Any]:
    """Visible event lines per channel: totals (top :data:`TOP_CHANNELS` + other) and per bucket
    (``known``: :func:`.rollups.event_counts` of the window when the caller has it already)."""
    rows = rollups.event_counts(conn, window) if known is None else known
    totals: dict[str, int] = {}
    for _start, _level, channel, n, _occ in rows:
        totals[channel or NO_CHANNEL] = totals.get(channel or NO_CHANNEL, 0) + n
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    top = [name for name, _ in ranked[:TOP_CHANNELS]]
    by_channel = {name: n for name, n in ranked[:TOP_CHANNELS]}
    rest = sum(n for _, n in ranked[TOP_CHANNELS:])
    if rest:
        by_channel[OTHER] = rest
    names = [*top, *([OTHER] if rest else [])]
    per_bucket = {start: dict.fromkeys(names, 0) for start in starts}
    for start, _level, channel, n, _occ in rows:
        name = channel or NO_CHANNEL
        counts = per_bucket.setdefault(start, dict.fromkeys(names, 0))
        counts[name if name in top else OTHER] += n
    return {
        "by_channel": by_channel,
        "buckets": [{"start": format_time(s), "channels": c} for s, c in sorted(per_bucket.items())],
    }


def noisiest(conn: sa.Connection, window: Window, top: int) -> list[dict[str, Any]]:
    """The ``top`` fingerprints with the most occurrences (``count`` summed, dedup included)."""
    return [
        {
            "fingerprint": fp,
            "title": title,
            "channel": channel,
            "level": _level_name(int(level)),
            "lines": int(lines),
            "occurrences": int(occ),
        }
        for fp, lines, occ, level, title, channel in rollups.noisiest(conn, window, top)
    ]


def _level_name(level: int) -> str:
    below = [lv for lv in Level if lv <= level]
    return (max(below) if below else Level.DEBUG).wire_name


def acknowledgement(conn: sa.Connection, window: Window) -> dict[str, Any]:
    """CRITICAL lines of the window: how many, how many acknowledged, mean and p90 seconds from
    receipt to acknowledgement."""
    # The level is written into the SQL (not bound) so that PostgreSQL's planner, too, sees that the
    # query implies the partial index ix_events_critical_ts (CRITICAL lines only) and reads only it.
    critical = sa.and_(
        window.contains(events.c.ts),
        events.c.merged_into.is_(None),
        events.c.level >= sa.literal(int(Level.CRITICAL), literal_execute=True),
    )
    total = int(conn.execute(sa.select(sa.func.count()).where(critical)).scalar() or 0)
    wait = elapsed_seconds(events.c.received_at, events.c.acknowledged_at)
    waits = [
        float(w)
        for w in conn.execute(
            sa.select(wait).where(critical, events.c.acknowledged_at.is_not(None), wait >= 0)
        ).scalars()
    ]
    return {
        "critical": total,
        "acknowledged": len(waits),
        "mean_s": round(sum(waits) / len(waits), 3) if waits else None,
        "p90_s": percentile(waits, 0.9),
    }


def transports(
    conn: sa.Connection, window: Window, known: delivery_rollups.DeliveryCounts | None = None
) -> list[dict[str, Any]]:
    """Per transport (device kind): sent, failed, success rate of what was tried, and sent -> delivered
    latency percentiles (p50, p90, p99; from the rollups' latency bins)."""
    counts = delivery_rollups.DeliveryCounts(conn, window) if known is None else known
    totals: dict[str, list[int]] = {}
    for _device, _name, kind, status, n, went in counts.by_device_status():
        entry = totals.setdefault(kind or "removed", [0, 0])
        entry[0] += went
        entry[1] += n if status == DeliveryStatus.FAILED else 0
    latencies = counts.latencies()
    out = []
    for name in sorted(set(totals) | set(latencies)):
        sent, failed = totals.get(name, [0, 0])
        tried = sent + failed
        lat = latencies.get(name, [])
        if not tried and not lat:
            continue
        out.append(
            {
                "transport": name,
                "sent": sent,
                "failed": failed,
                "success_rate": round(sent / tried, 4) if tried else None,
                "latency_p50_s": delivery_rollups.percentile(lat, 0.5),
                "latency_p90_s": delivery_rollups.percentile(lat, 0.9),
                "latency_p99_s": delivery_rollups.percentile(lat, 0.99),
            }
        )
    return out


def funnel(
    conn: sa.Connection, window: Window, known: delivery_rollups.DeliveryCounts | None = None
) -> dict[str, Any]:
    """Deliveries created in the window as a funnel: targeted (every row), held and skipped by the
    gate's reason, sent, delivered, opened, acknowledged, and failed by status code."""
    counts = delivery_rollups.DeliveryCounts(conn, window) if known is None else known
    by_reason: dict[str, dict[str, int]] = {"held": {}, "skipped": {}}
    failed: dict[str, int] = {}
    targeted = sent = delivered = opened = acknowledged = 0
    for status, reason, code, n, n_sent, n_delivered, n_opened in counts.by_outcome():
        targeted += n
        sent += n_sent
        delivered += n_delivered
        opened += n_opened
        if status == DeliveryStatus.ACKNOWLEDGED:
            acknowledged += n
        elif status in (DeliveryStatus.HELD, DeliveryStatus.SKIPPED):
            reasons = by_reason[status]
            reasons[reason or "unknown"] = reasons.get(reason or "unknown", 0) + n
        elif status == DeliveryStatus.FAILED:
            name = str(code) if code is not None else "no_response"
            failed[name] = failed.get(name, 0) + n
    return {
        "targeted": targeted,
        "held": by_reason["held"],
        "skipped": by_reason["skipped"],
        "sent": sent,
        "delivered": delivered,
        "opened": opened,
        "acknowledged": acknowledged,
        "failed": failed,
    }


#: How many notifications the per-notification table lists (the newest of the window).
MAX_NOTIFICATIONS: Final = 50


def notification_funnels(conn: sa.Connection, window: Window) -> dict[str, Any]:
    """Notifications created in the window with their funnels (:func:`.notifications.funnel`'s
    counting, one query for all): the newest :data:`MAX_NOTIFICATIONS`, and per template (``None``:
    notifications sent without one) the funnels of all of them summed."""
    created = window.contains(notifications.c.created_at)
    rows = conn.execute(
        sa.select(notifications)
        .where(created)
        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
    ).all()
    shown = notification_store.funnels(conn, rows, scope=sa.select(notifications.c.id).where(created))
    per_template: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        template = (row.content or {}).get("template")
        entry = per_template.setdefault(template, {"template": template, "notifications": 0, "funnel": {}})
        entry["notifications"] += 1
        if shown[row.id] is not None:
            notification_store.add_funnels(entry["funnel"], shown[row.id] or {})
    return {
        "total": len(rows),
        "items": [
            {
                "id": row.id,
                "template": (row.content or {}).get("template"),
                "status": notification_store.shown_status(row, shown[row.id]),
                "created_at": format_time(row.created_at),
                "funnel": shown[row.id],
            }
            for row in rows[:MAX_NOTIFICATIONS]
        ],
        "by_template": sorted(
            ({**entry, "funnel": entry["funnel"] or None} for entry in per_template.values()),
            key=lambda e: (-e["notifications"], e["template"] is None, e["template"] or ""),
        ),
    }
