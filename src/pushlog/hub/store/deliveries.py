"""Delivery rows as the API shows them.

Every write to ``deliveries`` (queueing, claiming, sending, receipts) is ``store/outbox.py``'s.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .._clock import format_time
from . import outbox
from ._tables import deliveries
from .outbox import DeliveryStatus


def delivery_json(row: sa.Row[Any]) -> dict[str, Any]:
    """One delivery; ``history`` lists the status changes known from its timestamps, in order."""
    history = [
        {"status": status.value, "at": format_time(moment)}
        for status, moment in (
            (DeliveryStatus.QUEUED, row.created_at),
            (DeliveryStatus.SENT, row.sent_at),
            (DeliveryStatus.DELIVERED, row.delivered_at),
            (DeliveryStatus.OPENED, row.opened_at),
        )
        if moment is not None
    ]
    return {
        "id": row.id,
        "event_id": row.event_id,
        "device_id": row.device_id,
        "round": row.round,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "next_attempt_at": format_time(row.next_attempt_at),
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
        "sent_at": format_time(row.sent_at),
        "delivered_at": format_time(row.delivered_at),
        "opened_at": format_time(row.opened_at),
        "history": history,
    }


def deliveries_for_event(conn: sa.Connection, event_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(deliveries)
        .where(deliveries.c.event_id == event_id)
        .order_by(deliveries.c.round, deliveries.c.created_at, deliveries.c.id)
    ).all()
    return [delivery_json(row) for row in rows]


def delivery_ids_for_event(conn: sa.Connection, event_id: str) -> list[str]:
    return list(conn.execute(sa.select(deliveries.c.id).where(deliveries.c.event_id == event_id)).scalars())


def get_delivery(conn: sa.Connection, delivery_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return None if row is None else delivery_json(row)


def record_receipt(
    conn: sa.Connection, delivery_id: str, status: DeliveryStatus, *, now: _dt.datetime
) -> dict[str, Any] | None:
    """Record a service worker's receipt (:func:`outbox.record_receipt`); the delivery afterwards, or
    ``None`` if there is no such delivery."""
    if not outbox.record_receipt(conn, delivery_id, status, now=now):
        return None
    return get_delivery(conn, delivery_id)
