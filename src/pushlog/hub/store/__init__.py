"""The hub's store: SQLAlchemy Core tables, alembic migrations and one query module per resource.

``_engine`` opens databases (SQLite durability settings, migrations); ``_tables`` defines every table;
``events``, ``keys``, ``devices``, ``deliveries``, ``heartbeats``, ``stats`` and ``settings`` hold the
queries; ``retention`` deletes expired events; ``outbox`` is the only writer of ``deliveries``
(statuses, enqueue, claims, receipts).
"""

from ._engine import connect_read_only, create_engine, migrate, reclaim_space

__all__ = ["connect_read_only", "create_engine", "migrate", "reclaim_space"]
