"""Migration steps for the store tests: go down to a revision, and what differs between the database
and the declared tables (``store/_tables.py``) for the objects a migration made."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pushlog.hub.store._engine import alembic_config
from pushlog.hub.store._tables import metadata


def downgrade_to(engine: sa.Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` (``migrate(engine)`` goes back up to head)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def differences(engine: sa.Engine, *names: str) -> list[object]:
    """Alembic's differences between the database and the declared tables that mention one of
    ``names`` (a migration's tables, columns or indexes); empty when they agree."""
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in found if any(name in repr(d) for name in names)]
