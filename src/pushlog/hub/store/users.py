"""App users (DESIGN §8): the attributes the app's backend PUTs, their topics, and erasure.

A user is known by the id the app gives it (devices name the same id in ``devices.user_id``). What a
user's row says wins over what their devices report; where the row says nothing (or there is no
row), the most recently seen device's ``locale``/``timezone`` is the user's (:func:`get_user`'s
``effective``). Custom attributes are kept twice by this module alone: as the ``users.custom`` JSON
record and indexed one row per key in ``user_attributes`` for audience filters.

:func:`delete_user` is the right-to-erasure path: the user's row, attributes and topics and every
device naming the user (tokens, endpoints and their queued deliveries) are deleted.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from .._clock import format_time
from . import devices as device_store  # a module import: devices -> outbox -> users -> devices
from ._tables import devices, user_attributes, user_topics, users

#: Custom attribute values: strings up to this many characters, numbers and booleans.
MAX_CUSTOM_TEXT: Final = 256

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfile:
    """What ``PUT /v1/users/{id}`` says; ``topics`` None keeps the user's topics as they are."""

    locale: str | None = None
    timezone: str | None = None
    plan: str | None = None
    country: str | None = None
    custom: Mapping[str, Scalar] | None = None
    topics: Iterable[str] | None = None


def _attribute_rows(user_id: str, custom: Mapping[str, Scalar]) -> list[dict[str, Any]]:
    rows = []
    for key, value in custom.items():
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        text = value if isinstance(value, str) else json.dumps(value)
        rows.append({"user_id": user_id, "key": key, "text_value": text, "num_value": number})
    return rows


def _user_values(profile: UserProfile, *, now: _dt.datetime) -> dict[str, Any]:
    """The ``users`` row's columns a profile sets."""
    return {
        "locale": profile.locale,
        "timezone": profile.timezone,
        "plan": profile.plan,
        "country": profile.country,
        "custom": dict(profile.custom or {}),
        "updated_at": now,
    }


def put_user(
    conn: sa.Connection, user_id: str, profile: UserProfile, *, now: _dt.datetime
) -> tuple[dict[str, Any], bool]:
    """Create or replace a user's attributes (and topics, when given). Returns (user, created)."""
    custom = dict(profile.custom or {})
    values = _user_values(profile, now=now)
    created = not conn.execute(users.update().where(users.c.id == user_id).values(**values)).rowcount
    if created:
        conn.execute(users.insert().values(id=user_id, created_at=now, **values))
    conn.execute(user_attributes.delete().where(user_attributes.c.user_id == user_id))
    if custom:
        conn.execute(user_attributes.insert(), _attribute_rows(user_id, custom))
    if profile.topics is not None:
        conn.execute(user_topics.delete().where(user_topics.c.user_id == user_id))
        topics = sorted(set(profile.topics))
        if topics:
            conn.execute(user_topics.insert(), [{"user_id": user_id, "topic": t} for t in topics])
    found = get_user(conn, user_id)
    assert found is not None
    return found, created


def add_users(conn: sa.Connection, profiles: Mapping[str, UserProfile], *, now: _dt.datetime) -> int:
    """Insert new users (id -> profile) with their attributes and topics, a few executemany
    statements for all (an app importing its users at once). Nothing is replaced: a user id that
    exists violates the primary key (``IntegrityError``). Returns how many were added."""
    if not profiles:
        return 0
    conn.execute(
        users.insert(),
        [{"id": uid, "created_at": now, **_user_values(p, now=now)} for uid, p in profiles.items()],
    )
    attributes = [row for uid, p in profiles.items() for row in _attribute_rows(uid, p.custom or {})]
    if attributes:
        conn.execute(user_attributes.insert(), attributes)
    topics = [
        {"user_id": uid, "topic": t} for uid, p in profiles.items() for t in sorted(set(p.topics or ()))
    ]
    if topics:
        conn.execute(user_topics.insert(), topics)
    return len(profiles)


def _reported(conn: sa.Connection, user_id: str) -> tuple[int, str | None, str | None]:
    """(devices, locale, timezone) the user's devices report: the most recently seen one's values."""
    rows = conn.execute(
        sa.select(devices.c.locale, devices.c.timezone)
        .where(devices.c.user_id == user_id)
        .order_by(sa.func.coalesce(devices.c.last_seen_at, devices.c.updated_at).desc(), devices.c.id)
    ).all()
    locale = next((r.locale for r in rows if r.locale), None)
    timezone = next((r.timezone for r in rows if r.timezone), None)
    return len(rows), locale, timezone


def get_user(conn: sa.Connection, user_id: str) -> dict[str, Any] | None:
    """The API's User, or None when neither a row nor any device knows ``user_id``."""
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    device_count, locale, timezone = _reported(conn, user_id)
    if row is None and not device_count:
        return None
    topics = list(
        conn.execute(
            sa.select(user_topics.c.topic)
            .where(user_topics.c.user_id == user_id)
            .order_by(user_topics.c.topic)
        ).scalars()
    )
    own = {
        "locale": row.locale if row else None,
        "timezone": row.timezone if row else None,
        "plan": row.plan if row else None,
        "country": row.country if row else None,
    }
    return {
        "id": user_id,
        **own,
        "custom": dict(row.custom) if row else {},
        "topics": topics,
        "effective": {"locale": own["locale"] or locale, "timezone": own["timezone"] or timezone},
        "devices": device_count,
        "created_at": format_time(row.created_at) if row else None,
        "updated_at": format_time(row.updated_at) if row else None,
    }


def delete_user(conn: sa.Connection, user_id: str) -> int | None:
    """Erase a user: row, attributes, topics and every device naming them (with their queued
    deliveries). Returns how many devices went, or None when nothing knew ``user_id``."""
    device_ids = list(conn.execute(sa.select(devices.c.id).where(devices.c.user_id == user_id)).scalars())
    for device_id in device_ids:
        device_store.remove_device(conn, device_id)
    conn.execute(user_attributes.delete().where(user_attributes.c.user_id == user_id))
    conn.execute(user_topics.delete().where(user_topics.c.user_id == user_id))
    gone = conn.execute(users.delete().where(users.c.id == user_id)).rowcount
    if not gone and not device_ids:
        return None
    return len(device_ids)


def profiles(conn: sa.Connection, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What templates see of each user (attributes and custom ones), by id; users without a row get
    an empty profile. One query for all."""
    wanted = set(user_ids)
    found = (
        {
            row.id: {
                "id": row.id,
                "locale": row.locale,
                "timezone": row.timezone,
                "plan": row.plan,
                "country": row.country,
                "custom": dict(row.custom),
            }
            for row in conn.execute(sa.select(users).where(users.c.id.in_(wanted)))
        }
        if wanted
        else {}
    )
    empty: dict[str, Any] = {"locale": None, "timezone": None, "plan": None, "country": None, "custom": {}}
    return {uid: found.get(uid, {"id": uid, **empty}) for uid in wanted}
