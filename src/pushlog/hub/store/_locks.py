"""PostgreSQL advisory locks: what several hub processes on one database serialise, with every key
in one place.

Transaction-level locks (``pg_advisory_xact_lock``) end with the transaction that took them:

* :data:`INGEST` orders event inserts across processes. ``seq`` comes from a sequence, so without it a
  process could commit ``seq`` 100 after another committed 101; a live stream or a cursor that had
  read up to 101 would never see 100. Inside one process ``HubState.ingest_lock`` already serialises
  ingest; this lock extends that to every process (held from the first read of an insert to commit).
* :data:`MIGRATE` lets one process migrate the schema while others starting at the same time wait and
  then find it at head.

The session-level lock of the periodic duties (:data:`DUTIES`) is taken by ``hub/_duties.py`` on a
connection of its own. On SQLite every function here is a no-op: one process, one writer.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from ._prepared import Prepared

# Arbitrary 64-bit keys; the high bits spell "pushlog" so they do not collide with other applications'.
INGEST: Final = 0x70757368_6C6F6701
MIGRATE: Final = 0x70757368_6C6F6702
DUTIES: Final = 0x70757368_6C6F6703


def is_postgresql(conn: sa.Connection | sa.Engine) -> bool:
    return conn.dialect.name == "postgresql"


def hold_for_transaction(conn: sa.Connection, key: int) -> None:
    """Wait for the advisory lock ``key`` and hold it until the caller's transaction ends (PostgreSQL)."""
    if is_postgresql(conn):
        _XACT_LOCK.execute(conn, {"key": key})


#: Compiled once per connection: the ingest transaction takes :data:`INGEST` every time.
_XACT_LOCK: Final = Prepared(sa.text("SELECT pg_advisory_xact_lock(:key)"))
