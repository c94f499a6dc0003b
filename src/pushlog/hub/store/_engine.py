"""Opening the database: engine creation, SQLite durability settings, migrations.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit returns only after the WAL is fsynced, so
an event answered 202 survives a crash of the process or the machine. Write transactions on SQLite
start with ``BEGIN IMMEDIATE`` (taking the write lock up front) so that concurrent writers wait on
``busy_timeout`` instead of failing with "database is locked" when a read transaction tries to become
a write transaction. Pure readers can opt into a deferred ``BEGIN`` with :data:`READ_ONLY`, which lets
them run beside a writer (WAL readers never block). Everything SQLite-specific sits behind a dialect
check here; other backends get their driver's defaults.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Final

import msgspec
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event

from ._locks import MIGRATE, hold_for_transaction
from ._prepared import begin

#: Execution option for connections that only read (deferred BEGIN on SQLite).
READ_ONLY: Final = {"pushlog_read_only": True}


def connect_read_only(engine: sa.Engine) -> sa.Connection:
    """A connection with :data:`READ_ONLY`: its transactions never take SQLite's write lock, so
    they run beside ingest (on an older snapshot where a write is in progress)."""
    return engine.connect().execution_options(**READ_ONLY)


#: Execution option holding :func:`engine_memo`'s dict, given to every engine :func:`create_engine` makes.
_MEMO: Final = "pushlog_memo"


def engine_memo(conn: sa.Connection) -> dict[str, Any] | None:
    """A dict that lives as long as ``conn``'s engine, for what a store module keeps of the whole
    database between transactions (each under its own key); ``None`` for an engine not made by
    :func:`create_engine`, whose callers read every time. Kept on the engine, not in module state."""
    memo = conn.get_execution_options().get(_MEMO)
    return memo if isinstance(memo, dict) else None


def is_read_only(conn: sa.Connection) -> bool:
    """Whether ``conn`` runs with :data:`READ_ONLY`: on SQLite, every other transaction holds the
    write lock from its start (``BEGIN IMMEDIATE``), so no two of them overlap."""
    return bool(conn.get_execution_options().get("pushlog_read_only", False))


MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS: Final = 10_000


_ENCODE: Final = msgspec.json.Encoder().encode
_DECODE: Final = msgspec.json.Decoder().decode


def json_text(value: Any) -> str:
    """How JSON columns are written: msgspec's encoder (several times faster than ``json.dumps``,
    which ingest paid four times per event), ``json.dumps`` for what it refuses (integers beyond 64
    bits, lone surrogates)."""
    try:
        return _ENCODE(value).decode("utf-8")
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """How JSON columns are read: msgspec's decoder, ``json.loads`` for text it refuses (``NaN`` an
    older hub may have stored)."""
    try:
        return _DECODE(text)
    except (msgspec.DecodeError, UnicodeError):
        return json.loads(text)


#: JSON column (de)serialisers every engine is made with.
_JSON_CODEC: Final = {"json_serializer": json_text, "json_deserializer": json_value}


def create_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> sa.Engine:
    """An engine for ``url`` with the hub's connection settings applied.

    ``busy_timeout`` (seconds, SQLite only) is how long a transaction waits for the write lock.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_ms=int(busy_timeout * 1000))
    return sa.create_engine(parsed, pool_pre_ping=True, execution_options={_MEMO: {}}, **_JSON_CODEC)


def _sqlite_engine(url: sa.URL, *, busy_ms: int) -> sa.Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        pool_size=8,
        max_overflow=8,
        # The connection returned last is taken next. In WAL mode a connection's page cache stays
        # valid only while no other connection has written: handing the pool's connections out in
        # turn (FIFO) made each ingest transaction re-read the index pages the previous one, on
        # another connection, had just written (about 1-2 ms of CPU per 100-event batch).
        pool_use_lifo=True,
        execution_options={_MEMO: {}},
        **_JSON_CODEC,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Takes effect only on a database with no tables yet (a new one): freed pages can then be
            # returned to the file system by ``reclaim_space``. Existing databases: docs/deploy.md.
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        begin(conn, "BEGIN" if is_read_only(conn) else "BEGIN IMMEDIATE")

    return engine


def alembic_config() -> Config:
    """An alembic :class:`Config` pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this version of pushlog."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_revision(conn: sa.Connection) -> str | None:
    """The migration a database is at (``None``: not a pushlog database, or never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    """Every revision this version of pushlog knows (a database at one of them can be migrated)."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def migrate(engine: sa.Engine) -> None:
    """Bring the schema up to the newest migration (idempotent; safe on every start)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        hold_for_transaction(conn, MIGRATE)  # several processes starting at once: one migrates
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def reclaim_space(engine: sa.Engine, *, max_pages: int = 10_000) -> int:
    """SQLite with ``auto_vacuum=INCREMENTAL``: give up to ``max_pages`` free pages back to the file
    system (after retention deleted rows); returns the pages freed. A no-op elsewhere (PostgreSQL's
    autovacuum reuses the space)."""
    if engine.dialect.name != "sqlite":
        return 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        before = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
        # The pragma frees one page per step; executescript steps it to the end (execute() would
        # stop after the first page and leave the statement holding the table). It runs as its own
        # transaction (the connection is in autocommit: no BEGIN is pending here).
        cursor.executescript(f"PRAGMA incremental_vacuum({int(max_pages)});")
        after = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
        cursor.close()
    finally:
        raw.close()
    return before - after


def sqlite_pragma(engine: sa.Engine, name: str) -> str | None:
    """Read a PRAGMA value (for tests and ``healthz`` details); ``None`` on other backends."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        value = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
        conn.rollback()
    return None if value is None else str(value)
