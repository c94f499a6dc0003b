"""Notifications to app users (``POST /v1/notifications``): their rows, claims and funnels.

A notification is ``scheduled`` until its ``start_at``; :func:`claim` moves it to ``expanded`` with a
conditional UPDATE (only the transaction whose UPDATE changed the row expands it, so two hub
processes never both do), in the same transaction that queues its deliveries
(``hub/notifications/_runner.py``): it is expanded exactly once, or not at all if that transaction
fails. ``cancelled`` stops a scheduled one, and fails the deliveries an expanded one still has queued.
What the API shows as ``status`` adds ``sending`` (deliveries still queued or held) and ``sent``.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from ..._levels import level_from_number
from .._clock import format_time
from . import _cursor
from ._tables import as_utc, deliveries, devices, notifications
from .outbox import NOTIFICATION_CANCELLED, DeliveryStatus, cancel_notification, delete_for_notifications

SCHEDULED: Final = "scheduled"
EXPANDED: Final = "expanded"
CANCELLED: Final = "cancelled"


def new_id() -> str:
    return f"nt_{secrets.token_hex(8)}"


def create(conn: sa.Connection, values: dict[str, Any], *, now: _dt.datetime) -> tuple[dict[str, Any], bool]:
    """Store a new notification (``values``: the table's columns but id, status and times). With an
    ``idempotency_key`` that is already known, the earlier notification is returned instead.
    Returns (notification, created)."""
    key = values.get("idempotency_key")
    if key is not None:
        known = conn.execute(
            sa.select(notifications.c.id).where(notifications.c.idempotency_key == key)
        ).scalar()
        if known is not None:
            found = get(conn, known)
            assert found is not None
            return found, False
    notification_id = new_id()
    conn.execute(
        notifications.insert().values(
            id=notification_id, status=SCHEDULED, created_at=now, updated_at=now, **values
        )
    )
    found = get(conn, notification_id)
    assert found is not None
    return found, True


def due(conn: sa.Connection, *, now: _dt.datetime, limit: int = 20) -> list[str]:
    """Ids of scheduled notifications whose ``start_at`` has come, oldest first."""
    return list(
        conn.execute(
            sa.select(notifications.c.id)
            .where(notifications.c.status == SCHEDULED, notifications.c.start_at <= now)
            .order_by(notifications.c.start_at, notifications.c.id)
            .limit(limit)
        ).scalars()
    )


def claim(conn: sa.Connection, notification_id: str, *, now: _dt.datetime) -> dict[str, Any] | None:
    """Take a due notification for expansion (scheduled -> expanded); its row, or None if another
    transaction took or cancelled it first."""
    taken = conn.execute(
        notifications.update()
        .where(
            notifications.c.id == notification_id,
            notifications.c.status == SCHEDULED,
            notifications.c.start_at <= now,
        )
        .values(status=EXPANDED, expanded_at=now, updated_at=now)
    ).rowcount
    if not taken:
        return None
    row = conn.execute(sa.select(notifications).where(notifications.c.id == notification_id)).one()
    return dict(row._mapping)


def record_expansion(
    conn: sa.Connection, notification_id: str, *, targeted: int, skipped: dict[str, int]
) -> None:
    conn.execute(
        notifications.update()
        .where(notifications.c.id == notification_id)
        .values(targeted=targeted, skipped=skipped)
    )


def next_start(conn: sa.Connection) -> _dt.datetime | None:
    """When the next scheduled notification is due (the runner sleeps until then)."""
    found = conn.execute(
        sa.select(sa.func.min(notifications.c.start_at)).where(notifications.c.status == SCHEDULED)
    ).scalar()
    return None if found is None else as_utc(found)


def cancel(conn: sa.Connection, notification_id: str, *, now: _dt.datetime) -> dict[str, Any] | None:
    """Cancel a notification: a scheduled one never goes out, an expanded one's queued deliveries
    fail as cancelled. None if there is no such notification."""
    row = conn.execute(sa.select(notifications.c.status).where(notifications.c.id == notification_id)).first()
    if row is None:
        return None
    if row.status != CANCELLED:
        conn.execute(
            notifications.update()
            .where(notifications.c.id == notification_id, notifications.c.status != CANCELLED)
            .values(status=CANCELLED, cancelled_at=now, updated_at=now)
        )
        cancel_notification(conn, notification_id, now=now)
    return get(conn, notification_id)


# -- retention ---------------------------------------------------------------------------------------

#: Delivery states that mean a notification is still going out (never deleted by retention).
_UNFINISHED: Final = (DeliveryStatus.QUEUED, DeliveryStatus.HELD)


def finished_before(cutoff: _dt.datetime) -> sa.ColumnElement[bool]:
    """Notifications that are done and idle since before ``cutoff``: cancelled, or expanded with no
    delivery still queued or held, and none of their deliveries touched since (a late receipt or a
    release from quiet hours counts as activity). Scheduled ones never match."""
    touched = (
        sa.select(deliveries.c.id)
        .where(
            deliveries.c.notification_id == notifications.c.id,
            sa.or_(deliveries.c.status.in_(_UNFINISHED), deliveries.c.updated_at >= cutoff),
        )
        .exists()
    )
    return sa.and_(
        sa.or_(
            sa.and_(notifications.c.status == CANCELLED, notifications.c.cancelled_at < cutoff),
            sa.and_(notifications.c.status == EXPANDED, notifications.c.expanded_at < cutoff),
        ),
        sa.not_(touched),
    )


def purge_finished(conn: sa.Connection, *, before: _dt.datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` deliveries of notifications :func:`finished_before` ``before`` (oldest
    first), and those notifications once none of their deliveries is left. Returns (notifications,
    deliveries) deleted; a large send takes several calls, each a short transaction of the caller."""
    ids = list(
        conn.execute(
            sa.select(notifications.c.id)
            .where(finished_before(before))
            .order_by(notifications.c.created_at, notifications.c.id)
            .limit(limit)
        ).scalars()
    )
    gone = delete_for_notifications(conn, ids, limit=limit)
    if gone >= limit:  # some of theirs may be left: the notifications go in a later call
        return 0, gone
    removed = conn.execute(notifications.delete().where(notifications.c.id.in_(ids))).rowcount if ids else 0
    return int(removed), gone


# -- reading ----------------------------------------------------------------------------------------

_SENT_OR_LATER: Final = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.OPENED)


#: (notification id, transport kind, status, last error, gate reason, n): the grouped delivery rows a
#: funnel is counted from.
_COUNTED: Final = (
    deliveries.c.notification_id,
    devices.c.kind,
    deliveries.c.status,
    deliveries.c.last_error,
    deliveries.c.reason,
)


def _delivery_counts(conn: sa.Connection, which: sa.ColumnElement[bool]) -> dict[str, list[Any]]:
    """Delivery rows of the notifications ``which`` selects, grouped for :func:`count_funnel`, by id."""
    out: dict[str, list[Any]] = {}
    for notification_id, *rest in conn.execute(
        sa.select(*_COUNTED, sa.func.count())
        .select_from(deliveries.outerjoin(devices, devices.c.id == deliveries.c.device_id))
        .where(which)
        .group_by(*_COUNTED)
    ):
        out.setdefault(notification_id, []).append(rest)
    return out


def funnel(conn: sa.Connection, row: Any) -> dict[str, Any] | None:
    """What happened to an expanded notification's recipients, from its delivery rows (None before
    it is expanded)."""
    if row.expanded_at is None:
        return None
    counts = _delivery_counts(conn, deliveries.c.notification_id == row.id)
    return count_funnel(row, counts.get(row.id, []))


def funnels(
    conn: sa.Connection, rows: Sequence[Any], *, scope: sa.Select[Any] | None = None
) -> dict[str, dict[str, Any] | None]:
    """:func:`funnel` of each of ``rows`` (notification rows), with one query for all of them;
    ``scope``: a SELECT of their ids (instead of listing every id in the query)."""
    expanded = [row.id for row in rows if row.expanded_at is not None]
    which = deliveries.c.notification_id.in_(expanded if scope is None else scope)
    counts = _delivery_counts(conn, which) if expanded else {}
    return {
        row.id: None if row.expanded_at is None else count_funnel(row, counts.get(row.id, [])) for row in rows
    }


def count_funnel(row: Any, counts: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The funnel of notification ``row`` from its grouped delivery rows (kind, status, last error,
    gate reason, n)."""
    total = {"queued": 0, "sent": 0, "delivered": 0, "opened": 0, "failed": 0}
    per: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    gated: dict[str, dict[str, int]] = {DeliveryStatus.HELD: {}, DeliveryStatus.SKIPPED: {}}
    cancelled = 0
    for kind, status, error, gate_reason, n in counts:
        if status == DeliveryStatus.FAILED and error == NOTIFICATION_CANCELLED:
            cancelled += n
            continue
        into = per.setdefault(
            kind or "unknown", {"queued": 0, "sent": 0, "delivered": 0, "opened": 0, "failed": 0}
        )
        steps = {
            DeliveryStatus.QUEUED: ("queued",),
            DeliveryStatus.FAILED: ("failed",),
            DeliveryStatus.SENT: ("sent",),
            DeliveryStatus.DELIVERED: ("sent", "delivered"),
            DeliveryStatus.OPENED: ("sent", "delivered", "opened"),
        }.get(status, ())
        for step in steps:
            into[step] += n
            total[step] += n
        if status == DeliveryStatus.FAILED:
            reason = (error or "failed").split(":")[0][:80]
            reasons[reason] = reasons.get(reason, 0) + n
        elif status in gated:  # the attention gate's outcome, by its reason
            by_reason = gated[status]
            by_reason[gate_reason or status] = by_reason.get(gate_reason or status, 0) + n
    return {
        "targeted": int(row.targeted or 0),
        "skipped": dict(row.skipped or {}),
        "deliveries": sum(n for *_, n in counts),
        **total,
        "cancelled": cancelled,
        "failed_reasons": reasons,
        "held": sum(gated[DeliveryStatus.HELD].values()),
        "held_reasons": gated[DeliveryStatus.HELD],
        "skipped_reasons": gated[DeliveryStatus.SKIPPED],
        "by_transport": per,
    }


def add_funnels(into: dict[str, Any], funnel: dict[str, Any]) -> dict[str, Any]:
    """Add ``funnel`` to ``into`` (both :func:`count_funnel` answers; counts and counts by reason or
    transport summed), for a template's funnel over its notifications. Returns ``into``."""
    for name, value in funnel.items():
        if isinstance(value, dict):
            add_funnels(into.setdefault(name, {}), value)
        else:
            into[name] = into.get(name, 0) + value
    return into


def shown_status(row: Any, shown: dict[str, Any] | None) -> str:
    """The status the API shows: ``expanded`` is ``sending`` while deliveries wait, then ``sent``."""
    if row.status == EXPANDED:
        return "sending" if shown and (shown["queued"] or shown["held"]) else "sent"
    return str(row.status)


def _json(conn: sa.Connection, row: Any) -> dict[str, Any]:
    shown = funnel(conn, row)
    status = shown_status(row, shown)
    content = row.content or {}
    return {
        "id": row.id,
        "status": status,
        "audience": {k: v for k, v in dict(row.audience).items() if k != "segment_filter"},
        "template": content.get("template"),
        "title": None if content.get("template") else content.get("title"),
        "trigger": (row.options or {}).get("trigger"),
        "level": level_from_number(int(row.level)).wire_name,
        "ttl": row.ttl,
        "collapse_key": row.collapse_key,
        "idempotency_key": row.idempotency_key,
        "schedule": dict(row.schedule),
        "start_at": format_time(row.start_at),
        "created_at": format_time(row.created_at),
        "expanded_at": format_time(row.expanded_at),
        "cancelled_at": format_time(row.cancelled_at),
        "funnel": shown,
    }


def get(conn: sa.Connection, notification_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(notifications).where(notifications.c.id == notification_id)).first()
    return None if row is None else _json(conn, row)


#: The notification list's cursor kind (:mod:`._cursor`): ``created_at`` (µs since the epoch) and id.
_CURSOR = "n"
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _encode_cursor(created_at: _dt.datetime, notification_id: str) -> str:
    micros = (as_utc(created_at) - _EPOCH) // _dt.timedelta(microseconds=1)
    return _cursor.encode(_CURSOR, str(micros), notification_id)


def decode_cursor(cursor: str) -> tuple[_dt.datetime, str]:
    """The position inside a cursor :func:`list_page` gave; :class:`ValueError` if it is not one."""
    micros, notification_id = _cursor.decode(_CURSOR, cursor, 2)
    if not micros.isdigit() or len(micros) > 17:  # 17 digits of µs: past year 5000
        raise ValueError("malformed cursor")
    return _EPOCH + _dt.timedelta(microseconds=int(micros)), notification_id


def list_page(
    conn: sa.Connection, *, limit: int, after: tuple[_dt.datetime, str] | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, from after ``after`` (:func:`decode_cursor` of the previous page's cursor: the
    last row's position, so the next page is right even if that notification was deleted meanwhile)."""
    query = sa.select(notifications).order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
    if after is not None:
        created_at, last_id = after
        query = query.where(
            sa.or_(
                notifications.c.created_at < created_at,
                sa.and_(notifications.c.created_at == created_at, notifications.c.id < last_id),
            )
        )
    rows = conn.execute(query.limit(limit + 1)).all()
    page = [_json(conn, row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return page, (None if last is None else _encode_cursor(last.created_at, last.id))
