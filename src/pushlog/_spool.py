"""Optional durable spool (``spool="path"``): undelivered events in SQLite, surviving outages and restarts.

The worker moves every event it takes from the queue into the spool (already redacted, in wire form)
and deletes rows only when the hub accepted them (or refused them with a 4xx). Transient failures are
retried for as long as it takes; at the next start, rows left by an earlier process are sent first.
Several processes may share one file (SQLite locking; event ids keep the hub free of duplicates).
When the spool holds ``max_events`` rows it takes no more, so the queue fills and drops as usual.

Each row remembers which process wrote it (``origin``): events an earlier process left behind are
counted as *recovered* when they are sent, and that count travels in the request's envelope
(``"client": {"recovered": n}``). A drop count that could not reach the hub (the process never got
through) is kept in ``spool_counters`` at exit and reported by the next process that opens the spool.
The file (and SQLite's ``-wal``/``-shm`` files, which take its mode) is created ``0600``: it holds
event text and metadata.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections import Counter
from typing import Final

from ._event import Event
from ._levels import Level, parse_level

#: Distinguishes this process's rows from those an earlier process left (pid alone may be reused).
_BOOT: Final = secrets.token_hex(4)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_events (
    id TEXT PRIMARY KEY,
    pushed INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    wire TEXT NOT NULL,
    origin TEXT
)
"""
_COUNTERS = "CREATE TABLE IF NOT EXISTS spool_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"


def _create_private(path: str) -> None:
    """Create ``path`` (and its directory) readable by the owner only, if it does not exist yet."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Spool:
    """A :class:`pushlog._worker.Backlog` in SQLite. One instance per thread (the worker's; the exit
    path opens its own)."""

    durable = True

    def __init__(self, path: str | os.PathLike[str], *, max_events: int = 100_000) -> None:
        self.path = os.fspath(path)
        self.max_events = max_events
        self.origin = f"{_BOOT}-{os.getpid()}"
        _create_private(self.path)
        self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.execute(_COUNTERS)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(spooled_events)")}
        if "origin" not in columns:  # a spool written by an older pushlog
            self._db.execute("ALTER TABLE spooled_events ADD COLUMN origin TEXT")
        self._count = self._recount()

    def _recount(self) -> int:
        row = self._db.execute("SELECT count(*) FROM spooled_events").fetchone()
        return int(row[0])

    def room(self) -> int:
        self._count = self._recount()  # another connection (the spooler, another process) may write
        return max(0, self.max_events - self._count)

    def add(self, events: list[Event]) -> int:
        """Store ``events``; returns how many did not fit (0 unless ``max_events`` was reached)."""
        fit = events[: self.room()]
        rows = [
            (e.id, int(e.pushed), json.dumps(e.to_wire(), ensure_ascii=False, default=str), self.origin)
            for e in fit
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO spooled_events (id, pushed, wire, origin) VALUES (?, ?, ?, ?)", rows
            )
        self._count = self._recount()
        return len(events) - len(fit)

    def peek(self, limit: int) -> list[Event]:
        """The next events to send: pushed first, then oldest first."""
        rows = self._db.execute(
            "SELECT wire FROM spooled_events ORDER BY pushed DESC, rowid LIMIT ?", (limit,)
        ).fetchall()
        return [Event.from_wire(json.loads(row[0])) for row in rows]

    def remove(self, ids: list[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM spooled_events WHERE id = ?", [(i,) for i in ids])
        self._count = self._recount()

    def failed(self, ids: list[str]) -> int:
        """Count an attempt; the spool never gives events up on transient failures."""
        with self._db:
            self._db.executemany(
                "UPDATE spooled_events SET attempts = attempts + 1 WHERE id = ?", [(i,) for i in ids]
            )
        return 0

    def recovered(self, ids: list[str]) -> int:
        """How many of ``ids`` an earlier process left in the spool."""
        found = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            row = self._db.execute(
                f"SELECT count(*) FROM spooled_events WHERE id IN ({marks}) AND origin IS NOT ?",
                [*chunk, self.origin],
            ).fetchone()
            found += int(row[0])
        return found

    def levels(self) -> Counter[Level]:
        """How many log calls the spooled events stand for (``count``), by level."""
        counts: Counter[Level] = Counter()
        for name, n in self._db.execute(
            "SELECT json_extract(wire, '$.level'), sum(max(1, coalesce(json_extract(wire, '$.count'), 1))) "
            "FROM spooled_events GROUP BY 1"
        ):
            try:
                counts[parse_level(name)] += int(n)
            except ValueError:
                counts[Level.INFO] += int(n)
        return counts

    def carry_dropped(self, n: int) -> None:
        """Keep a drop count the hub has not heard of, for the next process that opens the spool."""
        if n > 0:
            with self._db:
                self._db.execute(
                    "INSERT INTO spool_counters (name, value) VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (n,),
                )

    def take_carried(self) -> int:
        """The drop count earlier processes left (and forget it: the caller reports it now)."""
        with self._db:
            row = self._db.execute("SELECT value FROM spool_counters WHERE name = 'dropped'").fetchone()
            self._db.execute("DELETE FROM spool_counters WHERE name = 'dropped'")
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        self._count = self._recount()
        return self._count

    def close(self) -> None:
        self._db.close()
