"""The hub's store: SQLAlchemy Core tables, alembic migrations and one query module per resource.

``_engine`` opens databases (SQLite durability settings, migrations); ``_tables`` defines every table;
``events``, ``keys``, ``devices``, ``deliveries`` and ``settings`` hold the API's queries; the delivery
side keeps its outbox queries in ``outbox``.
"""

from ._engine import READ_ONLY, create_engine, migrate

__all__ = ["READ_ONLY", "create_engine", "migrate"]
