"""Saved audience filters (``/v1/segments``), by name. The filter text is checked by the API
(:mod:`pushlog.hub.audience`) before it is stored."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .._clock import format_time
from ._tables import segments


def _json(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "filter": row.filter,
        "description": row.description,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }


def put_segment(
    conn: sa.Connection, name: str, filter_text: str, description: str | None, *, now: _dt.datetime
) -> tuple[dict[str, Any], bool]:
    """Create or replace a segment. Returns (segment, created)."""
    values = {"filter": filter_text, "description": description, "updated_at": now}
    created = not conn.execute(segments.update().where(segments.c.name == name).values(**values)).rowcount
    if created:
        conn.execute(segments.insert().values(name=name, created_at=now, **values))
    found = get_segment(conn, name)
    assert found is not None
    return found, created


def get_segment(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(segments).where(segments.c.name == name)).first()
    return None if row is None else _json(row)


def list_segments(conn: sa.Connection) -> list[dict[str, Any]]:
    return [_json(row) for row in conn.execute(sa.select(segments).order_by(segments.c.name))]


def delete_segment(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(segments.delete().where(segments.c.name == name)).rowcount)
