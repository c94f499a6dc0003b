"""Backups of a SQLite hub database while the hub runs, and restoring one (``pushlog backup`` /
``pushlog restore``).

:func:`backup` copies the database with SQLite's online backup API (``sqlite3.Connection.backup``)
in one step, inside one read transaction: the copy is the database as of one commit, every event
answered 202 before the copy began included, and writers go on meanwhile (WAL readers block
nobody). The copy is one self-contained file (rollback journal mode, no ``-wal``), checked with
``PRAGMA quick_check``, mode 0600 (it holds the VAPID private key and key hashes), written beside the
destination and renamed into place.

:func:`restore` checks that a file is a pushlog database this version can open (its alembic revision
is one this version ships: an older one is migrated at the hub's next start, a newer one is refused)
and copies it into the data directory through the same backup API, so the target's WAL is handled by
SQLite. A running hub holds a shared lock on ``<data_dir>/hub.lock`` (:class:`DataDirLock`);
restore takes it exclusively and refuses while a hub holds it, unless forced.

PostgreSQL databases are backed up with ``pg_dump`` (docs/deploy.md); :func:`sqlite_file` says which.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from ._bootstrap import ensure_data_dir
from .config import HubConfig
from .store._engine import head_revision, known_revisions

LOCK_FILE: Final = "hub.lock"
PG_DUMP_RECIPE: Final = (
    "pg_dump --format=custom --file=pushlog.dump DATABASE_URL; "
    "restore with pg_restore --clean --if-exists --dbname=DATABASE_URL pushlog.dump (docs/deploy.md)"
)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    size: int
    revision: str


def sqlite_file(config: HubConfig) -> Path | None:
    """The hub's SQLite database file, or ``None`` when it runs on another database."""
    url = sa.make_url(config.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class DataDirLock:
    """``flock`` on ``<data_dir>/hub.lock``: hubs hold it shared while they run, restore exclusively."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def _open(self) -> int:
        ensure_data_dir(self.path.parent)  # created 0700 like the hub's first start makes it
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def hold_shared(self) -> None:
        """Taken by a starting hub (blocks only while a restore runs)."""
        self._fd = self._open()
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def try_exclusive(self) -> bool:
        """Taken by restore: False while any hub runs on this data directory."""
        self._fd = self._open()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _revision(conn: sqlite3.Connection, what: Path) -> str:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a pushlog database ({exc})") from None
    if row is None:
        raise BackupError(f"{what} is not a pushlog database (no schema revision)")
    return str(row[0])


def _check(conn: sqlite3.Connection, what: Path) -> None:
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a SQLite database ({exc})") from None
    if result is None or result[0] != "ok":
        raise BackupError(f"{what} failed SQLite's quick_check: {result[0] if result else 'no answer'}")


def backup(config: HubConfig, dest: Path, *, force: bool = False) -> Copied:
    """Copy the hub's SQLite database to ``dest`` (consistent while the hub runs; mode 0600)."""
    source = sqlite_file(config)
    if source is None:
        raise BackupError(f"the hub's database is not SQLite; back it up with {PG_DUMP_RECIPE}")
    if not source.is_file():
        raise BackupError(f"no hub database at {source}")
    dest = Path(dest)
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists (--force overwrites it)")
    partial = dest.with_name(f".{dest.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # every page in one step: one read transaction, one consistent state
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                _check(dst, dest)
                revision = _revision(dst, dest)
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return Copied(path=dest, size=dest.stat().st_size, revision=revision)


def restore(config: HubConfig, source: Path, *, force: bool = False) -> Copied:
    """Replace the hub's SQLite database with the backup ``source``; refuses while a hub runs on the
    data directory unless ``force``."""
    target = sqlite_file(config)
    if target is None:
        raise BackupError(f"the hub's database is not SQLite; restore it with {PG_DUMP_RECIPE}")
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    src = sqlite3.connect(source)
    lock = DataDirLock(Path(config.data_dir))
    try:
        _check(src, source)
        revision = _revision(src, source)
        if revision not in known_revisions():
            raise BackupError(
                f"{source} is at schema revision {revision}, which this pushlog does not know "
                f"(its newest is {head_revision()}): restore it with the pushlog that made it"
            )
        if not lock.try_exclusive() and not force:
            raise BackupError(
                f"a hub is running on {config.data_dir}: stop it first (--force restores anyway)"
            )
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
        os.chmod(target, 0o600)
    finally:
        src.close()
        lock.release()
    return Copied(path=target, size=target.stat().st_size, revision=revision)
