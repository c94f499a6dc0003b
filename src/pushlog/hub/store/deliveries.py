"""Delivery rows as the API shows them, and receipts reported by the service worker.

The outbox itself (claiming, sending, retrying) is the delivery side's (``store/outbox.py``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import sqlalchemy as sa

from ._tables import deliveries
from .outbox import DeliveryStatus

#: How far along a delivery is; a receipt never moves a delivery backwards.
_PROGRESS: Final = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.FAILED: 1,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.OPENED: 3,
    DeliveryStatus.ACKNOWLEDGED: 4,
}


def _iso(moment: _dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def delivery_json(row: sa.Row[Any]) -> dict[str, Any]:
    """One delivery; ``history`` lists the status changes known from its timestamps, in order."""
    history = [
        {"status": status.value, "at": _iso(moment)}
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
        "next_attempt_at": _iso(row.next_attempt_at),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "sent_at": _iso(row.sent_at),
        "delivered_at": _iso(row.delivered_at),
        "opened_at": _iso(row.opened_at),
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
    """Record "delivered" or "opened" for a delivery; ``None`` if there is no such delivery.

    The timestamp is set once (first receipt wins); the status only moves forward.
    """
    row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
    if row is None:
        return None
    values: dict[str, Any] = {"updated_at": now}
    column = "delivered_at" if status == DeliveryStatus.DELIVERED else "opened_at"
    if getattr(row, column) is None:
        values[column] = now
    if status == DeliveryStatus.OPENED and row.delivered_at is None:
        values["delivered_at"] = now
    if _PROGRESS[status] > _PROGRESS.get(row.status, 0):
        values["status"] = status
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))
    return get_delivery(conn, delivery_id)
