"""The outbox: the one module that writes the ``deliveries`` table.

* :func:`enqueue` creates delivery rows: one per (event, device whose preferences take it, see
  :func:`device_matches`). Ingest calls it for round 0 of pushed events, :func:`schedule_repeats`
  for CRITICAL re-push rounds; anything that creates deliveries later calls it too.
* The dispatcher (:mod:`pushlog.hub.delivery`) leases due rows (:func:`claim_due`) and records what
  the senders said (``record_*``); it also reads ``devices`` and moves events' re-push columns.
* The API side moves rows on for receipts (:func:`record_receipt`), acknowledgement
  (:func:`acknowledge_deliveries`) and device removal (:func:`drop_queued`); reading rows for the API
  is ``store/deliveries.py``'s.
* Retention (``store/retention.py``) deletes the deliveries of the events it removes
  (:func:`delete_for_events`); metrics read the queue depth (:func:`queue_depth`).

:class:`DeliveryStatus` names the states a row goes through. Every function takes a connection
inside the caller's transaction.

Claiming uses a lease: a claimed row keeps ``status='queued'`` but gets ``locked_until`` (the lease's
end, which doubles as the claim's fencing token) and one more ``attempts``. A claimer only records a
result while it still holds the lease (``locked_until`` unchanged), and only on a row that is still
queued, so a second claimer after an expired lease, or an acknowledgement that arrived meanwhile, is
never overwritten. A process that dies mid-send leaves the lease to expire; the row is then claimed
again (at-least-once: the push may have left before the crash, which Web Push's ``Topic`` collapses).
"""

from __future__ import annotations

import datetime as _dt
import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from ._bulk import BulkInsert
from ._tables import as_utc, deliveries, devices, events


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands (``deliveries.status``), in order of progress (failed sits beside sent)."""

    QUEUED = "queued"  # waiting to be sent (or leased by a dispatcher that is sending it)
    SENT = "sent"  # the push service accepted it
    FAILED = "failed"  # given up: permanent error, attempts used up, device gone or removed
    DELIVERED = "delivered"  # the service worker reported it arrived
    OPENED = "opened"  # the notification was clicked
    ACKNOWLEDGED = "acknowledged"  # the event was acknowledged (on any device) before this one finished


#: What a service worker may report with a receipt token.
RECEIPT_STATUSES: Final = (DeliveryStatus.DELIVERED, DeliveryStatus.OPENED)

#: How far along a delivery is; a receipt never moves a delivery backwards.
_PROGRESS: Final = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.FAILED: 1,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.OPENED: 3,
    DeliveryStatus.ACKNOWLEDGED: 4,
}

#: Deliveries that acknowledgement turns into "acknowledged" (failed ones keep their failure).
_ACKNOWLEDGEABLE: Final = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.OPENED,
)


# ------------------------------------------------------------------------------------------ enqueue


def device_matches(device: Any, level: int, channel: str | None) -> bool:
    """Whether a device's preferences take an event: ``level >= min_level`` and its channel allowed
    (``channels`` null = all). ``device`` is a row with ``min_level`` and ``channels``."""
    if level < int(device.min_level):
        return False
    channels = device.channels
    return channels is None or channel in channels


@dataclass(frozen=True, slots=True)
class Push:
    """An event to push in ``round`` (0 = first push, 1.. = CRITICAL re-pushes)."""

    seq: int
    id: str
    level: int
    channel: str | None
    round: int = 0


_DELIVERY_COLUMNS: Final = (
    "id",
    "event_seq",
    "event_id",
    "device_id",
    "round",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
_INSERT_DELIVERIES: Final = BulkInsert(deliveries, _DELIVERY_COLUMNS)


def enqueue(
    conn: sa.Connection, pushes: Sequence[Push], *, now: _dt.datetime, only: Sequence[str] | None = None
) -> int:
    """Queue every push for each device that matches it now, due at ``now``; returns rows created.
    ``only``: exactly these devices, whatever their preferences (an escalation step's group).

    One ``executemany`` for all rows; the devices are read once.
    """
    if not pushes:
        return 0
    # team devices only: an app user's device (user_id set) never receives log events
    query = sa.select(devices.c.id, devices.c.min_level, devices.c.channels).where(
        devices.c.user_id.is_(None)
    )
    if only is not None:
        query = query.where(devices.c.id.in_(list(only)))
    targets = conn.execute(query).all()
    if not targets:
        return 0
    queued = DeliveryStatus.QUEUED.value
    rows = [
        (f"dl_{secrets.token_hex(10)}", push.seq, push.id, device.id, push.round, queued, 0, now, now, now)
        for push in pushes
        for device in targets
        if only is not None or device_matches(device, push.level, push.channel)
    ]
    _INSERT_DELIVERIES.execute(conn, rows)
    return len(rows)


# ------------------------------------------------------------------------------------ the dispatcher


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """A claimed delivery with what is needed to send it."""

    id: str
    lease: _dt.datetime
    attempts: int
    round: int
    device: dict[str, Any]
    event: dict[str, Any]


def _as_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def claim_due(conn: sa.Connection, *, now: _dt.datetime, lease: _dt.timedelta, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` queued deliveries whose ``next_attempt_at`` has come, oldest first.

    Several dispatchers (hub processes on one PostgreSQL) claim side by side: the candidates are read
    ``FOR UPDATE SKIP LOCKED``, so a row another claimer is leasing right now is passed over instead
    of waited for, and each claimer gets its own rows. SQLite has one writer (``BEGIN IMMEDIATE``) and
    ignores the clause. The UPDATE re-checks the conditions either way: only rows it changed are ours.
    """
    free = sa.or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until <= now)
    due = sa.and_(deliveries.c.status == DeliveryStatus.QUEUED, deliveries.c.next_attempt_at <= now, free)
    candidates = list(
        conn.execute(
            sa.select(deliveries.c.id)
            .where(due)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not candidates:
        return []
    until = now + lease
    # Re-check the conditions in the UPDATE itself: only rows this statement changed are ours.
    claimed = set(
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(candidates), due)
            .values(locked_until=until, attempts=deliveries.c.attempts + 1, updated_at=now)
            .returning(deliveries.c.id)
        ).scalars()
    )
    if not claimed:
        return []
    rows = conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.attempts,
            deliveries.c.round,
            deliveries.c.device_id,
            deliveries.c.event_seq,
        ).where(deliveries.c.id.in_(claimed))
    ).all()
    device_rows = {
        r.id: _as_dict(r)
        for r in conn.execute(sa.select(devices).where(devices.c.id.in_({r.device_id for r in rows})))
    }
    event_rows = {
        r.seq: _as_dict(r)
        for r in conn.execute(sa.select(events).where(events.c.seq.in_({r.event_seq for r in rows})))
    }
    result = []
    orphans = []
    for row in rows:
        device = device_rows.get(row.device_id)
        event = event_rows.get(row.event_seq)
        if device is None or event is None:
            orphans.append(row.id)
            continue
        result.append(
            Claimed(
                id=row.id, lease=until, attempts=row.attempts, round=row.round, device=device, event=event
            )
        )
    if orphans:  # the device was removed between queueing and sending
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(orphans))
            .values(
                status=DeliveryStatus.FAILED,
                locked_until=None,
                last_error="device was removed",
                updated_at=now,
            )
        )
    return result


def _mine(delivery_id: str, lease: _dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        deliveries.c.id == delivery_id,
        deliveries.c.status == DeliveryStatus.QUEUED,
        deliveries.c.locked_until == lease,
    )


def record_sent(conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None) -> bool:
    """Mark a claimed delivery sent; the device had a success. False if the claim was lost."""
    return record_sent_many(conn, [claim], now=now, status_code=status_code) == 1


def record_sent_many(
    conn: sa.Connection, claims: list[Claimed], *, now: _dt.datetime, status_code: int | None
) -> int:
    """:func:`record_sent` for many claims of one lease in two statements; returns how many were ours."""
    if not claims:
        return 0
    leases = {c.lease for c in claims}
    done = 0
    for lease in leases:
        ids = [c.id for c in claims if c.lease == lease]
        done += conn.execute(
            deliveries.update()
            .where(
                deliveries.c.id.in_(ids),
                deliveries.c.status == DeliveryStatus.QUEUED,
                deliveries.c.locked_until == lease,
            )
            .values(
                status=DeliveryStatus.SENT,
                sent_at=now,
                locked_until=None,
                next_attempt_at=None,
                last_status_code=status_code,
                last_error=None,
                updated_at=now,
            )
        ).rowcount
    conn.execute(
        devices.update()
        .where(devices.c.id.in_({c.device["id"] for c in claims}))
        .values(last_success_at=now, failure_count=0)
    )
    return done


def record_retry(
    conn: sa.Connection,
    claim: Claimed,
    *,
    now: _dt.datetime,
    next_attempt_at: _dt.datetime,
    status_code: int | None,
    error: str,
) -> bool:
    """Keep a claimed delivery queued for another attempt at ``next_attempt_at``; release the lease."""
    done = _release(
        conn, claim, now=now, status_code=status_code, error=error, next_attempt_at=next_attempt_at
    )
    conn.execute(
        devices.update()
        .where(devices.c.id == claim.device["id"])
        .values(failure_count=devices.c.failure_count + 1)
    )
    return done


def record_failed(
    conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None, error: str
) -> bool:
    """Mark a claimed delivery failed for good."""
    return _release(
        conn,
        claim,
        now=now,
        status_code=status_code,
        error=error,
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
    )


def _release(
    conn: sa.Connection,
    claim: Claimed,
    *,
    now: _dt.datetime,
    status_code: int | None,
    error: str,
    **values: Any,
) -> bool:
    """Record an attempt's result on a row this claim still holds and release its lease; ``values`` is
    what else changes (the next attempt, or the final status). False if the claim was lost."""
    done = conn.execute(
        deliveries.update()
        .where(_mine(claim.id, claim.lease))
        .values(locked_until=None, last_status_code=status_code, last_error=error, updated_at=now, **values)
    ).rowcount
    return bool(done)


def record_gone(
    conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None, error: str
) -> bool:
    """The subscription is dead: fail this delivery and the device's other queued ones, delete the device.

    Delivery rows are kept (failed, with the reason) so the event's history stays complete.
    """
    done = record_failed(conn, claim, now=now, status_code=status_code, error=error)
    device_id = claim.device["id"]
    conn.execute(
        deliveries.update()
        .where(deliveries.c.device_id == device_id, deliveries.c.status == DeliveryStatus.QUEUED)
        .values(
            status=DeliveryStatus.FAILED,
            locked_until=None,
            next_attempt_at=None,
            last_error=f"device removed: {error}",
            updated_at=now,
        )
    )
    conn.execute(devices.delete().where(devices.c.id == device_id))
    return done


# ------------------------------------------------------------- receipts, acknowledgement, removal


def record_receipt(
    conn: sa.Connection, delivery_id: str, status: DeliveryStatus, *, now: _dt.datetime
) -> bool:
    """Record "delivered" or "opened" for a delivery; ``False`` if there is no such delivery.

    The timestamp is set once (first receipt wins); the status only moves forward.
    """
    row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
    if row is None:
        return False
    values: dict[str, Any] = {"updated_at": now}
    column = "delivered_at" if status == DeliveryStatus.DELIVERED else "opened_at"
    if getattr(row, column) is None:
        values[column] = now
    if status == DeliveryStatus.OPENED and row.delivered_at is None:
        values["delivered_at"] = now
    if _PROGRESS[status] > _PROGRESS.get(row.status, 0):
        values["status"] = status
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))
    return True


def acknowledge_deliveries(conn: sa.Connection, event_id: str, *, now: _dt.datetime) -> None:
    """The event was acknowledged: its open deliveries on every device become "acknowledged", so
    queued re-pushes are not sent (failed ones keep their failure)."""
    conn.execute(
        deliveries.update()
        .where(deliveries.c.event_id == event_id, deliveries.c.status.in_(_ACKNOWLEDGEABLE))
        .values(status=DeliveryStatus.ACKNOWLEDGED, updated_at=now)
    )


def drop_queued(conn: sa.Connection, device_id: str) -> None:
    """Delete the deliveries of a device that were still waiting to be sent (the device is removed)."""
    conn.execute(
        deliveries.delete().where(
            deliveries.c.device_id == device_id, deliveries.c.status == DeliveryStatus.QUEUED
        )
    )


def delete_for_events(conn: sa.Connection, seqs: Sequence[int]) -> int:
    """Delete every delivery of the events ``seqs`` (retention removes the events); returns rows deleted."""
    if not seqs:
        return 0
    return int(conn.execute(deliveries.delete().where(deliveries.c.event_seq.in_(seqs))).rowcount)


def queue_depth(conn: sa.Connection) -> int:
    """How many deliveries wait to be sent (``queued``, leased or not): one index range count."""
    count = conn.execute(
        sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == DeliveryStatus.QUEUED)
    ).scalar()
    return int(count or 0)


# -------------------------------------------------------------------------------- CRITICAL re-pushes


def schedule_repeats(conn: sa.Connection, *, now: _dt.datetime, interval: _dt.timedelta) -> int:
    """Create the next re-push round for every unacknowledged CRITICAL event that is due.

    One new ``queued`` row per device whose preferences match (devices registered since the first
    push included). The event's ``repeat_next_at`` moves one ``interval`` on, or is cleared once that
    passes ``repeat_until``. Returns the number of rows created.

    Safe when several dispatchers call it at once: each due event is claimed by a conditional UPDATE
    of its ``repeat_next_at`` (still the value read), and only the caller whose UPDATE changed the row
    creates the round. On PostgreSQL a second caller's UPDATE waits for the first to commit, then
    finds the value moved and changes nothing; so every round is created exactly once.
    """
    due = conn.execute(
        sa.select(
            events.c.seq,
            events.c.id,
            events.c.level,
            events.c.channel,
            events.c.repeat_next_at,
            events.c.repeat_until,
        ).where(
            events.c.repeat_next_at.is_not(None),
            events.c.repeat_next_at <= now,
            events.c.acknowledged_at.is_(None),
        )
    ).all()
    if not due:
        return 0
    pushes = []
    for event in due:
        expired = event.repeat_until is not None and now >= event.repeat_until
        following = now + interval
        stop = expired or (event.repeat_until is not None and following >= event.repeat_until)
        claimed = conn.execute(
            events.update()
            .where(
                events.c.seq == event.seq,
                events.c.acknowledged_at.is_(None),
                events.c.repeat_next_at == event.repeat_next_at,
            )
            .values(repeat_next_at=None if stop else following)
        ).rowcount
        if not claimed or expired:  # another dispatcher took this round, or the series is over
            continue
        last_round = conn.execute(
            sa.select(sa.func.max(deliveries.c.round)).where(deliveries.c.event_id == event.id)
        ).scalar()
        pushes.append(Push(event.seq, event.id, event.level, event.channel, round=(last_round or 0) + 1))
    return enqueue(conn, pushes, now=now)


def _next_round(conn: sa.Connection, event_id: str) -> int:
    last = conn.execute(
        sa.select(sa.func.max(deliveries.c.round)).where(deliveries.c.event_id == event_id)
    ).scalar()
    return int(last or 0) + 1


def enqueue_next_round(
    conn: sa.Connection, push: Push, *, now: _dt.datetime, only: Sequence[str] | None = None
) -> int:
    """Queue one more round of an already pushed event (a resolved alert's replacement, built from
    the event as it is when sent; an escalation step to ``only`` its group); returns rows created."""
    return enqueue(
        conn,
        [Push(push.seq, push.id, push.level, push.channel, round=_next_round(conn, push.id))],
        now=now,
        only=only,
    )


def next_due(conn: sa.Connection) -> _dt.datetime | None:
    """When the dispatcher next has work: the earliest queued attempt (or lease end) or re-push."""
    attempt = conn.execute(
        sa.select(
            sa.func.min(sa.func.coalesce(deliveries.c.locked_until, deliveries.c.next_attempt_at))
        ).where(deliveries.c.status == DeliveryStatus.QUEUED)
    ).scalar()
    repeat = conn.execute(
        sa.select(sa.func.min(events.c.repeat_next_at)).where(
            events.c.repeat_next_at.is_not(None), events.c.acknowledged_at.is_(None)
        )
    ).scalar()
    moments = [as_utc(m) for m in (attempt, repeat) if m is not None]
    return min(moments) if moments else None
