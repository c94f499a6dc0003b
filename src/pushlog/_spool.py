"""Optional durable spool (``spool="path"``): undelivered events in SQLite, surviving outages and restarts.

The worker moves every event it takes from the queue into the spool (already redacted, in wire form)
and deletes rows only when the hub accepted them (or refused them with a 4xx). Transient failures are
retried for as long as it takes; at the next start, rows left by an earlier process are sent first.
Several processes may share one file (SQLite locking; event ids keep the hub free of duplicates).
When the spool holds ``max_events`` rows it takes no more, so the queue fills and drops as usual.
"""

from __future__ import annotations

import json
import os
import sqlite3

from ._event import Event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_events (
    id TEXT PRIMARY KEY,
    pushed INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    wire TEXT NOT NULL
)
"""


class Spool:
    """A :class:`pushlog._worker.Backlog` in SQLite. Used from the worker thread only."""

    def __init__(self, path: str | os.PathLike[str], *, max_events: int = 100_000) -> None:
        self.path = os.fspath(path)
        self.max_events = max_events
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._count = self._recount()

    def _recount(self) -> int:
        row = self._db.execute("SELECT count(*) FROM spooled_events").fetchone()
        return int(row[0])

    def room(self) -> int:
        return max(0, self.max_events - self._count)

    def add(self, events: list[Event]) -> int:
        """Store ``events``; returns how many did not fit (0 unless ``max_events`` was reached)."""
        fit = events[: self.room()]
        rows = [(e.id, int(e.pushed), json.dumps(e.to_wire(), ensure_ascii=False, default=str)) for e in fit]
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO spooled_events (id, pushed, wire) VALUES (?, ?, ?)", rows
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

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()
