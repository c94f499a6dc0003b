"""Alerts that resolve themselves: the one owner of ``events.resolved_at`` / ``resolved_by``.

An alert is a pushed feed line (``push`` true, WARNING or above) with a fingerprint; the hub's own
alerts (an overdue heartbeat, a missed expectation, a crossed threshold) are such lines too. It is
resolved by an event naming its fingerprint in ``resolves`` (the client's reserved keyword), by its
heartbeat checking in again, by its rule (an expectation seen again, a threshold window gone quiet)
or by a ``resolve`` rule's quiet time (``hub/rules/``).

Resolving marks every open line of that fingerprint resolved, stops a CRITICAL's re-push series
(``repeat_next_at`` cleared) and queues one more round of the newest line through the outbox: the
dispatcher builds that round from the line as it is now, resolved, so the device gets "Resolved: …
resolved after 14m" under the same collapse key (Web Push ``Topic`` and tag, APNs collapse id, FCM
collapse key) and the notification already shown is replaced in place (``delivery/_payload.py``).

Live streams hear it too: a caller that will announce what its transaction resolves opens the
transaction on a connection from :func:`noting_resolved` (``HubState.db`` does), the lines resolved are
noted in that connection's list, and after the commit the caller hands them to the broker, which sends
``event: resolved`` to every stream (and, through the relay, to the other hub processes' streams). A
transaction that fails is never announced; a connection not opened so notes nothing.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from ..._levels import Level
from .._clock import format_time
from . import outbox
from ._tables import events

#: ``resolved_by`` column width.
RESOLVED_BY_CHARS: Final = 200

#: Execution option holding the list a connection's resolved lines are noted in.
_NOTED: Final = "pushlog_resolved"


def noting_resolved(conn: sa.Connection) -> list[dict[str, Any]]:
    """Note the lines ``conn``'s transactions resolve from now on, as the live stream's ``resolved``
    payloads (``{"id", "seq", "resolved_at", "resolved_by", "resolved_after_s"}``), oldest first of
    each resolution, in the list returned. Announce them only once the transaction has committed.
    The list belongs to this connection (an execution option), so it ends with it."""
    noted: list[dict[str, Any]] = []
    conn.execution_options(**{_NOTED: noted})
    return noted


def open_alerts() -> list[sa.ColumnElement[bool]]:
    """Conditions of an unresolved alert line."""
    return [
        events.c.push.is_(True),
        events.c.level >= int(Level.WARNING),
        events.c.merged_into.is_(None),
        events.c.resolved_at.is_(None),
        events.c.fingerprint.is_not(None),
    ]


def resolve(
    conn: sa.Connection,
    fingerprint: str,
    *,
    key_id: str | None,
    by: str,
    now: _dt.datetime,
    before: int | None = None,
) -> int:
    """Resolve the open alerts with ``fingerprint`` published by ``key_id`` or by the hub itself
    (``key_id`` NULL); ``before``: only lines older than that seq (a recovery never resolves itself).
    Returns the deliveries created for the replacement push."""
    owner = (
        events.c.key_id.is_(None)
        if key_id is None
        else sa.or_(events.c.key_id.is_(None), events.c.key_id == key_id)
    )
    where = [events.c.fingerprint == fingerprint, owner, *open_alerts()]
    if before is not None:
        where.append(events.c.seq < before)
    rows = conn.execute(
        sa.select(events.c.seq, events.c.id, events.c.level, events.c.channel)
        .where(*where)
        .order_by(events.c.seq)
    ).all()
    return resolve_lines(conn, rows, by=by, now=now)


def resolve_lines(conn: sa.Connection, rows: Sequence[Any], *, by: str, now: _dt.datetime) -> int:
    """Resolve the alert lines ``rows`` (seq, id, level, channel; oldest first) and push the newest's
    replacement. Only lines still open change (two processes resolving at once: one wins)."""
    if not rows:
        return 0
    by = by[:RESOLVED_BY_CHARS]
    done = conn.execute(
        events.update()
        .where(events.c.seq.in_([row.seq for row in rows]), events.c.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=by, repeat_next_at=None)
        .returning(events.c.seq, events.c.id, events.c.received_at)
    ).all()
    if not done:
        return 0
    _note(conn, done, by=by, now=now)
    newest = rows[-1]
    return outbox.enqueue_next_round(
        conn, outbox.Push(newest.seq, newest.id, int(newest.level), newest.channel), now=now
    )


def _note(conn: sa.Connection, lines: Sequence[Any], *, by: str, now: _dt.datetime) -> None:
    noted = conn.get_execution_options().get(_NOTED)
    if noted is None:
        return  # nobody will announce this transaction's resolutions
    resolved_at = format_time(now)
    noted.extend(
        {
            "id": line.id,
            "seq": line.seq,
            "resolved_at": resolved_at,
            "resolved_by": by,
            "resolved_after_s": _after(line.received_at, now),
        }
        for line in sorted(lines, key=lambda line: line.seq)
    )


def resolve_event(conn: sa.Connection, event_id: str, *, by: str, now: _dt.datetime) -> int:
    """Resolve one alert line by its event id (a rule's own alert); deliveries created."""
    rows = conn.execute(
        sa.select(events.c.seq, events.c.id, events.c.level, events.c.channel).where(
            events.c.id == event_id, events.c.resolved_at.is_(None)
        )
    ).all()
    return resolve_lines(conn, rows, by=by, now=now)


def resolved_after(row: Any) -> float | None:
    """Seconds from the line's arrival to its resolution (``None`` while unresolved)."""
    if row.resolved_at is None:
        return None
    return _after(row.received_at, row.resolved_at)


def _after(received_at: _dt.datetime, resolved_at: _dt.datetime) -> float:
    return max(0.0, (resolved_at - received_at).total_seconds())
