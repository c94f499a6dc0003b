"""Audiences as queries: who a notification's audience names, counted and sampled in the database.

An audience (``POST /v1/notifications``, ``POST /v1/audiences/preview``) is any of ``users`` (ids),
``segment`` (a saved filter's name), ``filter`` (a filter text) and ``topic`` (a topic's name); when
several are given a recipient must match all of them. :func:`audience_node` turns one into a syntax
tree, :func:`audience_condition` into the SQL condition over recipient rows
(:data:`._compile.RECIPIENTS`). Nothing here loads users into Python except the bounded sample.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from ..store._tables import devices
from ._compile import RECIPIENTS, USER_ID, compile_filter
from ._parse import And, Compare, FilterError, In, Node, parse_filter

#: Most explicit user ids one audience may list.
MAX_USER_IDS: Final = 10_000


def audience_node(audience: Mapping[str, Any]) -> Node:
    """The syntax tree of an audience whose segment was already resolved into ``filter`` text
    (``segment_filter``); :class:`FilterError` when the filter is not one."""
    parts: list[Node] = []
    if audience.get("users") is not None:
        parts.append(In("id", tuple(str(u) for u in audience["users"]), 0))
    if audience.get("topic") is not None:
        parts.append(Compare("topic", "=", str(audience["topic"]), 0))
    for key in ("segment_filter", "filter"):
        if audience.get(key) is not None:
            parts.append(parse_filter(str(audience[key])))
    if not parts:
        raise FilterError(0, "an audience needs users, segment, filter or topic")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def audience_condition(audience: Mapping[str, Any], *, now: _dt.datetime) -> sa.ColumnElement[bool]:
    """The SQL condition of an audience over recipient rows (``now`` anchors ``within``)."""
    return compile_filter(audience_node(audience), now=now)


@dataclass(frozen=True, slots=True)
class Reach:
    """What an audience reaches: ``users`` (with or without a device), ``users_with_devices`` and
    ``devices`` (one delivery each)."""

    users: int
    users_with_devices: int
    devices: int


def count(conn: sa.Connection, condition: sa.ColumnElement[bool]) -> Reach:
    """Who the condition reaches, in one query."""
    with_device = sa.case((devices.c.id.is_not(None), USER_ID))
    row = conn.execute(
        sa.select(
            sa.func.count(sa.distinct(USER_ID)),
            sa.func.count(sa.distinct(with_device)),
            sa.func.count(devices.c.id),
        )
        .select_from(RECIPIENTS)
        .where(condition)
    ).one()
    return Reach(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def sample(conn: sa.Connection, condition: sa.ColumnElement[bool], limit: int) -> list[str]:
    """Up to ``limit`` user ids the condition reaches, in id order."""
    return list(
        conn.execute(
            sa.select(USER_ID)
            .select_from(RECIPIENTS)
            .where(condition)
            .distinct()
            .order_by(USER_ID)
            .limit(limit)
        ).scalars()
    )


def device_rows(condition: sa.ColumnElement[bool], *extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """``SELECT devices.id, *extra`` of the recipient rows with a device: what a notification's
    deliveries are made from (``store/outbox.enqueue_notification``)."""
    return sa.select(devices.c.id, *extra).select_from(RECIPIENTS).where(condition, devices.c.id.is_not(None))
