"""Saved audience filters (``/v1/segments``), by name. The filter text is checked by the API
(:mod:`pushlog.hub.audience`) before it is stored."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .._clock import format_time
from ._named import NamedRows
from ._tables import segments


def _json(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "filter": row.filter,
        "description": row.description,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }


_ROWS = NamedRows(segments, _json)


def put_segment(
    conn: sa.Connection, name: str, filter_text: str, description: str | None, *, now: _dt.datetime
) -> tuple[dict[str, Any], bool]:
    """Create or replace a segment. Returns (segment, created)."""
    return _ROWS.put(conn, name, {"filter": filter_text, "description": description}, now=now)


def get_segment(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    return _ROWS.get(conn, name)


def list_segments(conn: sa.Connection) -> list[dict[str, Any]]:
    return _ROWS.list(conn)


def delete_segment(conn: sa.Connection, name: str) -> bool:
    return _ROWS.delete(conn, name)
