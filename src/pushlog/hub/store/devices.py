"""Devices: Web Push subscriptions and FCM/APNs tokens, with per-device preferences, for the team and
for an app's users.

A device with ``user_id`` is an app user's (registered by the app's backend with a ``users`` key): it
never receives log events (:func:`.outbox.enqueue` skips it), only notifications. One without is a team
device. Lifecycle: registering the same token or endpoint again refreshes the device (``last_seen_at``
and the fields given); a new token for the same ``installation_id`` and owner (the user, or for a team
device the registering key) replaces that install's device in place (same id); :func:`prune_inactive`
removes app users' devices not seen for a configured age (team devices only go by the transports'
answers, their key's revocation or removal).

This module is the one place device secrets are sealed and opened (:mod:`.device_tokens`): callers
hand it plaintext and a vault; FCM/APNs tokens and Web Push endpoints, ``p256dh`` and ``auth`` are
stored only encrypted, and found by the keyed lookup hash in ``token_hash``. :func:`reseal` brings
rows written in plaintext (before migration 0009) or under an older key to the current key.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from ..._levels import Level
from .._clock import format_time
from . import outbox
from ._tables import devices
from .device_tokens import DeviceTokenKeyError, DeviceTokenVault, is_sealed

#: Associated data of each sealed Web Push column (a ciphertext moved to another column fails).
_WEBPUSH_AAD: Final = {"endpoint": "webpush:endpoint", "p256dh": "webpush:p256dh", "auth": "webpush:auth"}
_PROFILE_FIELDS: Final = ("platform", "app_version", "locale", "timezone", "attributes", "installation_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Who and what a device is: ``user_id`` set makes it an app user's device. All empty for a team
    device registered from the web app."""

    user_id: str | None = None
    platform: str | None = None
    app_version: str | None = None
    locale: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] | None = None
    installation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebPushRegistration:
    name: str | None
    endpoint: str
    p256dh: str
    auth: str
    min_level: Level
    channels: list[str] | None
    profile: Profile = field(default_factory=Profile)


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeRegistration:
    """An FCM or APNs token as the app received it (sealed here before it is stored)."""

    kind: str
    name: str | None
    token: str
    min_level: Level
    channels: list[str] | None
    profile: Profile = field(default_factory=Profile)


def _open(vault: DeviceTokenVault, aad: str, stored: str | None) -> str | None:
    """A sealed column's plaintext; a value from before encryption as it is; None if it does not
    decrypt with this hub's keys (a lost key: the device must register again)."""
    if stored is None or not is_sealed(stored):
        return stored
    try:
        return vault.decrypt(aad, stored)
    except DeviceTokenKeyError:
        return None


def webpush_secrets(device: Mapping[str, Any], vault: DeviceTokenVault) -> tuple[str, str, str] | None:
    """A Web Push device row's (endpoint, p256dh, auth) in plaintext; None if any does not decrypt."""
    opened = [_open(vault, aad, device.get(column)) for column, aad in _WEBPUSH_AAD.items()]
    endpoint, p256dh, auth = opened
    if endpoint is None or p256dh is None or auth is None:
        return None
    return endpoint, p256dh, auth


def device_json(row: sa.Row[Any], vault: DeviceTokenVault) -> dict[str, Any]:
    """The API's Device: the endpoint in plaintext (the web app finds "this browser" by it); tokens and
    subscription keys are never echoed."""
    level = row.min_level
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "endpoint": _open(vault, _WEBPUSH_AAD["endpoint"], row.endpoint),
        "preferences": {
            "min_level": Level(level).wire_name if level in Level._value2member_map_ else level,
            "channels": row.channels,
        },
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
        "last_success_at": format_time(row.last_success_at),
        "failure_count": row.failure_count,
        "user_id": row.user_id,
        **{name: getattr(row, name) for name in _PROFILE_FIELDS},
        "last_seen_at": format_time(row.last_seen_at),
    }


def _webpush_identity(reg: WebPushRegistration, vault: DeviceTokenVault) -> dict[str, Any]:
    """The columns that say which subscription a Web Push device is: the lookup hash and the sealed
    endpoint and keys."""
    return {
        "token_hash": vault.lookup_hash("webpush", reg.endpoint),
        "endpoint": vault.encrypt(_WEBPUSH_AAD["endpoint"], reg.endpoint),
        "p256dh": vault.encrypt(_WEBPUSH_AAD["p256dh"], reg.p256dh),
        "auth": vault.encrypt(_WEBPUSH_AAD["auth"], reg.auth),
        "token": None,
        "token_registered_at": None,
    }


def register_webpush(
    conn: sa.Connection,
    reg: WebPushRegistration,
    *,
    vault: DeviceTokenVault,
    now: _dt.datetime,
    key_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Insert the subscription, or refresh the one with the same endpoint. Returns (device, created).

    ``key_id`` (the registering key) becomes the device's owner, also on a refresh: the device then
    belongs to whoever registered it last.
    """
    # a row from before encryption is still found by its plaintext endpoint (until reseal reaches it)
    found = devices.c.token_hash.in_(vault.lookup_hashes("webpush", reg.endpoint)) | (
        devices.c.endpoint == reg.endpoint
    )
    return _register(
        conn,
        kind="webpush",
        found=found,
        identity=_webpush_identity(reg, vault),
        common=_common(reg.name, reg.min_level, reg.channels, reg.profile),
        profile=reg.profile,
        vault=vault,
        now=now,
        key_id=key_id,
    )


def add_webpush_devices(
    conn: sa.Connection,
    registrations: Iterable[WebPushRegistration],
    *,
    vault: DeviceTokenVault,
    now: _dt.datetime,
    key_id: str | None = None,
) -> list[str]:
    """Insert new Web Push devices in one executemany (an app importing its subscribers at once);
    returns their ids. Sealed like :func:`register_webpush`, but nothing is refreshed or replaced: an
    endpoint already registered violates the unique lookup hash (``IntegrityError``)."""
    rows = [
        {
            "id": f"dev_{secrets.token_hex(8)}",
            "kind": "webpush",
            **_webpush_identity(reg, vault),
            **_common(reg.name, reg.min_level, reg.channels, reg.profile),
            "key_id": key_id,
            "created_at": now,
            "updated_at": now,
            "last_seen_at": now,
            "failure_count": 0,
        }
        for reg in registrations
    ]
    if rows:
        conn.execute(devices.insert(), rows)
    return [row["id"] for row in rows]


def register_native(
    conn: sa.Connection,
    reg: NativeRegistration,
    *,
    vault: DeviceTokenVault,
    now: _dt.datetime,
    key_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Insert the token, or refresh the device holding it. Returns (device, created).

    ``key_id`` becomes the owner as for Web Push (:func:`register_webpush`). A refresh records
    ``token_registered_at``: an APNs "Unregistered" dated before it no longer applies.
    """
    identity = {
        "token_hash": vault.lookup_hash(reg.kind, reg.token),
        "token": vault.encrypt(reg.kind, reg.token),
        "token_registered_at": now,
        "endpoint": None,
        "p256dh": None,
        "auth": None,
    }
    return _register(
        conn,
        kind=reg.kind,
        found=devices.c.token_hash.in_(vault.lookup_hashes(reg.kind, reg.token)),
        identity=identity,
        common=_common(reg.name, reg.min_level, reg.channels, reg.profile),
        profile=reg.profile,
        vault=vault,
        now=now,
        key_id=key_id,
    )


def _common(
    name: str | None, min_level: Level, channels: list[str] | None, profile: Profile
) -> dict[str, Any]:
    """Columns every registration sets: preferences, owner user, and the profile fields given (a field
    left out keeps its stored value; ``user_id`` is always what was registered)."""
    values: dict[str, Any] = {"min_level": int(min_level), "channels": channels, "user_id": profile.user_id}
    if name is not None:
        values["name"] = name
    for column in _PROFILE_FIELDS:
        value = getattr(profile, column)
        if value is not None:
            values[column] = value
    return values


def _register(
    conn: sa.Connection,
    *,
    kind: str,
    found: sa.ColumnElement[bool],
    identity: dict[str, Any],
    common: dict[str, Any],
    profile: Profile,
    vault: DeviceTokenVault,
    now: _dt.datetime,
    key_id: str | None,
) -> tuple[dict[str, Any], bool]:
    """Refresh the device ``found`` selects, else the install's previous device (same installation id
    and owner), else insert one. Other devices of the same install are removed. Returns (device, created)."""
    values = {
        "kind": kind,
        **identity,
        **common,
        "key_id": key_id,
        "updated_at": now,
        "last_seen_at": now,
        "failure_count": 0,
    }
    existing = conn.execute(sa.select(devices.c.id).where(found)).scalars().first()
    install: list[str] = []
    if profile.installation_id is not None:
        owner = (
            devices.c.user_id == profile.user_id
            if profile.user_id is not None
            else devices.c.user_id.is_(None) & (devices.c.key_id == key_id)
        )
        install = list(
            conn.execute(
                sa.select(devices.c.id)
                .where(devices.c.installation_id == profile.installation_id, owner)
                .order_by(devices.c.created_at, devices.c.id)
            ).scalars()
        )
    keep = existing if existing is not None else (install[0] if install else None)
    for replaced in install:
        if replaced != keep:
            remove_device(conn, replaced)
    if keep is None:
        device_id, created = f"dev_{secrets.token_hex(8)}", True
        try:
            with conn.begin_nested():
                conn.execute(devices.insert().values(id=device_id, created_at=now, **values))
        except sa.exc.IntegrityError:
            # another transaction registered the same token meanwhile (PostgreSQL): refresh theirs
            keep = conn.execute(sa.select(devices.c.id).where(found)).scalars().first()
            if keep is None:
                raise
    if keep is not None:
        conn.execute(devices.update().where(devices.c.id == keep).values(**values))
        device_id, created = keep, False
    device = get_device(conn, device_id, vault)
    assert device is not None
    return device, created


def get_device(conn: sa.Connection, device_id: str, vault: DeviceTokenVault) -> dict[str, Any] | None:
    row = conn.execute(sa.select(devices).where(devices.c.id == device_id)).first()
    return None if row is None else device_json(row, vault)


def list_devices(
    conn: sa.Connection,
    vault: DeviceTokenVault,
    *,
    team: bool | None = None,
    user_id: str | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Devices, oldest first: ``team`` True only team devices, False only app users'; ``user_id`` and
    ``kind`` narrow further."""
    query = sa.select(devices).order_by(devices.c.created_at, devices.c.id)
    if team is not None:
        query = query.where(devices.c.user_id.is_(None) if team else devices.c.user_id.is_not(None))
    if user_id is not None:
        query = query.where(devices.c.user_id == user_id)
    if kind is not None:
        query = query.where(devices.c.kind == kind)
    return [device_json(row, vault) for row in conn.execute(query).all()]


def update_device(
    conn: sa.Connection,
    device_id: str,
    changes: dict[str, Any],
    *,
    vault: DeviceTokenVault,
    now: _dt.datetime,
) -> dict[str, Any] | None:
    """Change ``name``, ``min_level`` (int) and/or ``channels``; ``None`` if no such device."""
    if get_device(conn, device_id, vault) is None:
        return None
    if changes:
        conn.execute(devices.update().where(devices.c.id == device_id).values(updated_at=now, **changes))
    return get_device(conn, device_id, vault)


def remove_device(conn: sa.Connection, device_id: str) -> bool:
    """Delete a device and its deliveries that were still waiting to be sent."""
    outbox.drop_queued(conn, device_id)
    return conn.execute(devices.delete().where(devices.c.id == device_id)).rowcount > 0


def remove_devices_of_key(conn: sa.Connection, key_id: str) -> int:
    """Delete every team device ``key_id`` registered (and their queued deliveries); how many went.

    App users' devices stay: they belong to the users, not to the backend key that registered them, so
    rotating an app's users key does not wipe its audience."""
    owned = (
        conn.execute(sa.select(devices.c.id).where(devices.c.key_id == key_id, devices.c.user_id.is_(None)))
        .scalars()
        .all()
    )
    return sum(remove_device(conn, device_id) for device_id in owned)


def prune_inactive(conn: sa.Connection, *, before: _dt.datetime, limit: int = 1000) -> int:
    """Remove up to ``limit`` app users' devices last seen (registered or refreshed by the app) before
    ``before``; how many.

    Team devices are never pruned for age: the web app registers once, and an on-call phone that got
    no push for months must not silently lose its alerts; dead ones go by the transports' answers.
    Idempotent and safe in two processes at once (a device already gone counts for neither twice)."""
    seen = sa.func.coalesce(devices.c.last_seen_at, devices.c.updated_at)
    query = sa.select(devices.c.id).where(devices.c.user_id.is_not(None), seen < before)
    stale = conn.execute(query.order_by(seen).limit(limit)).scalars().all()
    return sum(remove_device(conn, device_id) for device_id in stale)


def _not_current(column: sa.Column[Any], vault: DeviceTokenVault) -> sa.ColumnElement[bool]:
    return column.is_not(None) & ~column.startswith(vault.current_prefix, autoescape=True)


_SEALED_COLUMNS: Final = (devices.c.token, devices.c.endpoint, devices.c.p256dh, devices.c.auth)


def count_not_current(conn: sa.Connection, vault: DeviceTokenVault) -> int:
    """Devices holding a value not sealed under the current key (0 after a complete :func:`reseal`)."""
    stale = sa.or_(*(_not_current(c, vault) for c in _SEALED_COLUMNS))
    return int(conn.execute(sa.select(sa.func.count()).select_from(devices).where(stale)).scalar_one())


def reseal(conn: sa.Connection, vault: DeviceTokenVault, *, limit: int = 500) -> int:
    """Encrypt plaintext (pre-0009 Web Push rows) and re-encrypt values sealed by an older key with the
    current one, re-hashing the lookup column; up to ``limit`` devices, how many were rewritten.

    Each row is updated only if it still holds what was read, so a concurrent registration wins and two
    passes at once do no harm. A row that does not decrypt with any key is left as it is (and counted
    out): its device must register again.
    """
    columns = _SEALED_COLUMNS
    rows = conn.execute(
        sa.select(devices).where(sa.or_(*(_not_current(c, vault) for c in columns))).limit(limit)
    ).all()
    done = 0
    for row in rows:
        new = _resealed(row, vault)
        if new is None:
            continue
        unchanged = [
            c.is_(None) if getattr(row, c.name) is None else c == getattr(row, c.name) for c in columns
        ]
        done += conn.execute(
            devices.update().where(devices.c.id == row.id, *unchanged).values(**new)
        ).rowcount
    return done


def _resealed(row: sa.Row[Any], vault: DeviceTokenVault) -> dict[str, Any] | None:
    """A row's sealed columns and lookup hash under the current key; None if it does not decrypt."""
    if row.kind == "webpush":
        opened = webpush_secrets(dict(row._mapping), vault)
        if opened is None:
            return None
        endpoint, p256dh, auth = opened
        return {
            "endpoint": vault.encrypt(_WEBPUSH_AAD["endpoint"], endpoint),
            "p256dh": vault.encrypt(_WEBPUSH_AAD["p256dh"], p256dh),
            "auth": vault.encrypt(_WEBPUSH_AAD["auth"], auth),
            "token_hash": vault.lookup_hash("webpush", endpoint),
        }
    token = _open(vault, row.kind, row.token)
    if token is None:
        return None
    return {"token": vault.encrypt(row.kind, token), "token_hash": vault.lookup_hash(row.kind, token)}


def reseal_all(engine: sa.Engine, vault: DeviceTokenVault) -> int:
    """:func:`reseal` in transactions of 500 (each commits on its own) until nothing is left to do."""
    total = 0
    while True:
        with engine.begin() as conn:
            done = reseal(conn, vault)
        total += done
        if done == 0:
            return total
