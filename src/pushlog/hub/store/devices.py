"""Devices: Web Push subscriptions and FCM/APNs tokens, with per-device preferences.

Native tokens arrive here already sealed by :mod:`.device_tokens` (ciphertext and lookup hash): this
module never sees a plaintext token.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..._levels import Level
from .._clock import format_time
from . import outbox
from ._tables import devices


@dataclass(frozen=True, slots=True, kw_only=True)
class WebPushRegistration:
    name: str | None
    endpoint: str
    p256dh: str
    auth: str
    min_level: Level
    channels: list[str] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeRegistration:
    """An FCM or APNs token, sealed: ``token_ciphertext`` and ``token_hash`` from the device-token vault."""

    kind: str
    name: str | None
    token_hash: str
    token_ciphertext: str
    min_level: Level
    channels: list[str] | None


def device_json(row: sa.Row[Any]) -> dict[str, Any]:
    """The API's Device (secrets of the subscription are not echoed)."""
    level = row.min_level
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "endpoint": row.endpoint,
        "preferences": {
            "min_level": Level(level).wire_name if level in Level._value2member_map_ else level,
            "channels": row.channels,
        },
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
        "last_success_at": format_time(row.last_success_at),
        "failure_count": row.failure_count,
    }


def register_webpush(
    conn: sa.Connection, reg: WebPushRegistration, *, now: _dt.datetime, key_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Insert the subscription, or refresh the one with the same endpoint. Returns (device, created).

    ``key_id`` (the registering key) becomes the device's owner, also on a refresh: the device then
    belongs to whoever registered it last.
    """
    existing = conn.execute(sa.select(devices.c.id).where(devices.c.endpoint == reg.endpoint)).first()
    values = {
        "p256dh": reg.p256dh,
        "auth": reg.auth,
        "min_level": int(reg.min_level),
        "channels": reg.channels,
        "updated_at": now,
        "failure_count": 0,
        "key_id": key_id,
    }
    if reg.name is not None:
        values["name"] = reg.name
    identity = {"kind": "webpush", "endpoint": reg.endpoint}
    return _upsert(conn, existing, values, identity, now=now)


def register_native(
    conn: sa.Connection, reg: NativeRegistration, *, now: _dt.datetime, key_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Insert the token, or refresh the device holding it (same ``token_hash``). Returns (device, created).

    ``key_id`` becomes the owner as for Web Push (:func:`register_webpush`). A refresh records
    ``token_registered_at``: an APNs "Unregistered" dated before it no longer applies.
    """
    existing = conn.execute(sa.select(devices.c.id).where(devices.c.token_hash == reg.token_hash)).first()
    values: dict[str, Any] = {
        "token": reg.token_ciphertext,
        "token_registered_at": now,
        "key_id": key_id,
        "min_level": int(reg.min_level),
        "channels": reg.channels,
        "updated_at": now,
        "failure_count": 0,
    }
    if reg.name is not None:
        values["name"] = reg.name
    return _upsert(conn, existing, values, {"kind": reg.kind, "token_hash": reg.token_hash}, now=now)


def _upsert(
    conn: sa.Connection,
    existing: sa.Row[Any] | None,
    values: dict[str, Any],
    identity: dict[str, Any],
    *,
    now: _dt.datetime,
) -> tuple[dict[str, Any], bool]:
    """Refresh ``existing`` with ``values``, or insert a new device with ``identity`` (what finds it
    again: kind and endpoint or token hash) as well. Returns (device, created)."""
    if existing is not None:
        conn.execute(devices.update().where(devices.c.id == existing.id).values(**values))
        device_id, created = existing.id, False
    else:
        device_id, created = f"dev_{secrets.token_hex(8)}", True
        conn.execute(devices.insert().values(id=device_id, created_at=now, **identity, **values))
    device = get_device(conn, device_id)
    assert device is not None
    return device, created


def get_device(conn: sa.Connection, device_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(devices).where(devices.c.id == device_id)).first()
    return None if row is None else device_json(row)


def list_devices(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(devices).order_by(devices.c.created_at, devices.c.id)).all()
    return [device_json(row) for row in rows]


def update_device(
    conn: sa.Connection, device_id: str, changes: dict[str, Any], *, now: _dt.datetime
) -> dict[str, Any] | None:
    """Change ``name``, ``min_level`` (int) and/or ``channels``; ``None`` if no such device."""
    if get_device(conn, device_id) is None:
        return None
    if changes:
        conn.execute(devices.update().where(devices.c.id == device_id).values(updated_at=now, **changes))
    return get_device(conn, device_id)


def remove_device(conn: sa.Connection, device_id: str) -> bool:
    """Delete a device and its deliveries that were still waiting to be sent."""
    outbox.drop_queued(conn, device_id)
    return conn.execute(devices.delete().where(devices.c.id == device_id)).rowcount > 0


def remove_devices_of_key(conn: sa.Connection, key_id: str) -> int:
    """Delete every device ``key_id`` owns (and their queued deliveries); how many went."""
    owned = conn.execute(sa.select(devices.c.id).where(devices.c.key_id == key_id)).scalars().all()
    return sum(remove_device(conn, device_id) for device_id in owned)
