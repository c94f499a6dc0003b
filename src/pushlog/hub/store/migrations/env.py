"""Alembic environment for the hub's store.

Migrations run programmatically (:func:`pushlog.hub.store._engine.migrate`), which passes an open
connection in ``config.attributes["connection"]``. Run from the command line (for writing new
migrations) it builds an engine from ``sqlalchemy.url`` or ``PUSHLOG_DB_URL``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from pushlog.hub.store._tables import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ["PUSHLOG_DB_URL"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run(conn)
