"""Notification templates (``/v1/templates``), by name: Jinja2 sources per locale and a default
locale. The API checks their syntax before they are stored (hub/notifications/_render.py)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .._clock import format_time
from ._tables import templates


def _json(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "default_locale": row.default_locale,
        "locales": dict(row.locales),
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }


def put_template(
    conn: sa.Connection,
    name: str,
    locales: dict[str, dict[str, str]],
    default_locale: str,
    *,
    now: _dt.datetime,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a template. Returns (template, created)."""
    values = {"locales": locales, "default_locale": default_locale, "updated_at": now}
    created = not conn.execute(templates.update().where(templates.c.name == name).values(**values)).rowcount
    if created:
        conn.execute(templates.insert().values(name=name, created_at=now, **values))
    found = get_template(conn, name)
    assert found is not None
    return found, created


def get_template(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(templates).where(templates.c.name == name)).first()
    return None if row is None else _json(row)


def list_templates(conn: sa.Connection) -> list[dict[str, Any]]:
    return [_json(row) for row in conn.execute(sa.select(templates).order_by(templates.c.name))]


def delete_template(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(templates.delete().where(templates.c.name == name)).rowcount)
