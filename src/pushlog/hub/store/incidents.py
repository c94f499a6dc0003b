"""Incidents: feed lines that belong together, shown as one (docs/rules.md "Incidents").

Lines sharing a trace id (metadata ``trace_id``, OpenTelemetry's) are one incident; lines without one
that share a fingerprint (the same message across dedup windows) are one too. The feed list gives
each line of an incident of two or more lines ``incident``: ``{"by", "key", "first", "last",
"count", "lines"}`` — first and last occurrence (``ts``, and a folded follow-up's ``last_seen_at``),
occurrences (the lines' counts) and lines. One grouped query per key kind per page.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from .._clock import format_time
from ._tables import as_utc, event_meta, events

TRACE_KEY: Final = "trace_id"
_VISIBLE: Final = events.c.merged_into.is_(None)


def incident_key(event: dict[str, Any]) -> tuple[str, str] | None:
    """``("trace_id", id)`` or ``("fingerprint", fp)`` for a StoredEvent, or ``None``."""
    trace = (event.get("metadata") or {}).get(TRACE_KEY)
    if isinstance(trace, str) and trace:
        return TRACE_KEY, trace
    if event.get("fingerprint"):
        return "fingerprint", str(event["fingerprint"])
    return None


def annotate(conn: sa.Connection, page: list[dict[str, Any]]) -> None:
    """Set ``incident`` on each line of ``page`` (``None`` for lines that stand alone)."""
    keys = {event["id"]: incident_key(event) for event in page}
    traces = {key for kind, key in filter(None, keys.values()) if kind == TRACE_KEY}
    prints = {key for kind, key in filter(None, keys.values()) if kind == "fingerprint"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    last = sa.func.max(sa.func.coalesce(events.c.last_seen_at, events.c.ts))
    columns = (sa.func.min(events.c.ts), last, sa.func.sum(events.c.count), sa.func.count())
    if traces:
        rows = conn.execute(
            sa.select(event_meta.c.value, *columns)
            .join(events, events.c.seq == event_meta.c.event_seq)
            .where(event_meta.c.key == TRACE_KEY, event_meta.c.value.in_(traces), _VISIBLE)
            .group_by(event_meta.c.value)
        )
        found.update({(TRACE_KEY, row[0]): _incident(TRACE_KEY, row) for row in rows})
    if prints:
        trace_lines = sa.exists().where(event_meta.c.event_seq == events.c.seq, event_meta.c.key == TRACE_KEY)
        rows = conn.execute(
            sa.select(events.c.fingerprint, *columns)
            .where(events.c.fingerprint.in_(prints), _VISIBLE, ~trace_lines)
            .group_by(events.c.fingerprint)
        )
        found.update({("fingerprint", row[0]): _incident("fingerprint", row) for row in rows})
    for event in page:
        key = keys[event["id"]]
        incident = found.get(key) if key is not None else None
        event["incident"] = incident if incident is not None and incident["lines"] > 1 else None


def _incident(by: str, row: Any) -> dict[str, Any]:
    return {
        "by": by,
        "key": row[0],
        "first": format_time(as_utc(row[1])),
        "last": format_time(as_utc(row[2])),
        "count": int(row[3]),
        "lines": int(row[4]),
    }
