"""Rows kept by a unique ``name`` and replaced whole: saved segments and templates.

:class:`NamedRows` owns the create-or-replace, read, list and delete of such a table, so each store
module only says which columns it writes and how a row reads as JSON.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True, slots=True)
class NamedRows:
    """A table with ``name`` (unique), ``created_at`` and ``updated_at`` columns, and ``to_json``
    turning one of its rows into the API's shape."""

    table: sa.Table
    to_json: Callable[[Any], dict[str, Any]]

    def put(
        self, conn: sa.Connection, name: str, values: Mapping[str, Any], *, now: _dt.datetime
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace the row ``name`` with ``values``; returns (row as JSON, created)."""
        name_column = self.table.c.name
        changed = {**values, "updated_at": now}
        created = not conn.execute(self.table.update().where(name_column == name).values(**changed)).rowcount
        if created:
            conn.execute(self.table.insert().values(name=name, created_at=now, **changed))
        found = self.get(conn, name)
        assert found is not None
        return found, created

    def get(self, conn: sa.Connection, name: str) -> dict[str, Any] | None:
        row = conn.execute(sa.select(self.table).where(self.table.c.name == name)).first()
        return None if row is None else self.to_json(row)

    def list(self, conn: sa.Connection) -> list[dict[str, Any]]:
        return [self.to_json(row) for row in conn.execute(sa.select(self.table).order_by(self.table.c.name))]

    def delete(self, conn: sa.Connection, name: str) -> bool:
        return bool(conn.execute(self.table.delete().where(self.table.c.name == name)).rowcount)
