"""Notification templates (``/v1/templates``), by name: Jinja2 sources per locale and a default
locale. The API checks their syntax before they are stored (hub/notifications/_render.py)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .._clock import format_time
from ._named import NamedRows
from ._tables import templates


def _json(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "default_locale": row.default_locale,
        "locales": dict(row.locales),
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }


_ROWS = NamedRows(templates, _json)


def put_template(
    conn: sa.Connection,
    name: str,
    locales: dict[str, dict[str, str]],
    default_locale: str,
    *,
    now: _dt.datetime,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a template. Returns (template, created)."""
    return _ROWS.put(conn, name, {"locales": locales, "default_locale": default_locale}, now=now)


def get_template(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    return _ROWS.get(conn, name)


def list_templates(conn: sa.Connection) -> list[dict[str, Any]]:
    return _ROWS.list(conn)


def delete_template(conn: sa.Connection, name: str) -> bool:
    return _ROWS.delete(conn, name)
