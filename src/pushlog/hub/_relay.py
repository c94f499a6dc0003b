"""Live streams across hub processes: PostgreSQL LISTEN/NOTIFY carries the broker's changes.

Several hub processes on one PostgreSQL each have their own :class:`~pushlog.hub._broker.Broker`. The
relay sends every local change to the others and wakes the local broker on theirs:

* after a local commit that added events the broker calls :meth:`PgRelay.publish` with
  ``{"k": "e"}``; after an acknowledgement with ``{"k": "a", "p": {"id", "acknowledged_at"}}``; for each
  resolved alert line with ``{"k": "r", "p": {"id", "seq", "resolved_at", ...}}``. A
  publisher task sends them with ``pg_notify`` on a connection of its own (autocommit, so each is
  delivered at once); changes that arrive while one is being sent are folded into the next.
* a listener task holds a second connection in ``LISTEN`` and, for each notification from another
  process, bumps the broker's generation (streams read the database again) or adds the ack or the
  resolved line to its log.
  New events also call ``on_events`` (the app wakes its dispatcher: the events may have queued
  deliveries, and every process's dispatcher takes a share of a large fan-out).

The payload is small and carries no events: streams always read the database, so a notification that
is lost (a connection drop, a process killed between its commit and its NOTIFY) only delays a stream
until the next change or its keep-alive re-read (``Tail.expire``). After the listener reconnects it
wakes the broker once, for whatever it may have missed. Each process tags its notifications with a
random origin and ignores its own (its broker already knew).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa

from ._broker import Broker

log = logging.getLogger("pushlog.hub.relay")

#: The NOTIFY channel every hub process on one database listens on.
CHANNEL: Final = "pushlog_changes"
_RECONNECT_MAX: Final = 5.0


def psycopg_conninfo(url: str | sa.URL, role: str) -> str:
    """A libpq connection URI for a SQLAlchemy ``postgresql+psycopg://`` URL (password included),
    named ``pushlog-<role>-<pid>`` in ``pg_stat_activity`` (which process leads, which listens)."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    parsed = parsed.update_query_dict({"application_name": f"pushlog-{role}-{os.getpid()}"})
    return parsed.render_as_string(hide_password=False)


class PgRelay:
    """Connects ``broker`` to the other hub processes on the database at ``url``; see the module
    docstring. :meth:`start` before use, :meth:`aclose` at shutdown."""

    def __init__(
        self, url: str | sa.URL, broker: Broker, *, on_events: Callable[[], None] | None = None
    ) -> None:
        self._conninfo = psycopg_conninfo(url, "relay")
        self._broker = broker
        self._on_events = on_events
        self.origin = secrets.token_hex(8)
        self._pending_change = False
        #: Acknowledgements and resolved lines to send, in order: (kind, payload).
        self._pending_notes: list[tuple[str, dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        #: Notifications from other processes handled (tests wait for this to move).
        self.received = 0

    async def start(self) -> None:
        """Start listening (returns once ``LISTEN`` is in place) and publishing."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="pushlog-relay-listen"),
            asyncio.create_task(self._publish_loop(), name="pushlog-relay-publish"),
        ]
        with contextlib.suppress(TimeoutError):  # not up yet: the listener keeps trying
            async with asyncio.timeout(10):
                await self._listening.wait()

    def publish(self, message: dict[str, Any]) -> None:
        """Send a change to the other processes (called on the event loop; never blocks)."""
        if message.get("k") in ("a", "r"):
            self._pending_notes.append((message["k"], message["p"]))
        else:
            self._pending_change = True
        self._wake.set()

    async def _publish_loop(self) -> None:
        import psycopg

        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                messages = [{"o": self.origin, "k": kind, "p": note} for kind, note in self._pending_notes]
                if self._pending_change:
                    messages.insert(0, {"o": self.origin, "k": "e"})
                self._pending_notes, self._pending_change = [], False
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                    for message in messages:
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps(message)))
                except psycopg.Error as exc:  # the others see it at their next change or re-read
                    log.warning("could not notify other hub processes: %s", exc)
                    if conn is not None:
                        await conn.close()
                    conn = None
        finally:
            if conn is not None:
                await conn.close()

    async def _listen(self) -> None:
        import psycopg

        delay = 0.2
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    if not first:  # notifications may have been lost while disconnected
                        self._broker.remote_changed()
                    first, delay = False, 0.2
                    async for note in conn.notifies():
                        self._handle(note.payload)
            except psycopg.Error as exc:
                log.warning("listening for other hub processes failed (retrying in %.1f s): %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(_RECONNECT_MAX, delay * 2)

    def _handle(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("o") == self.origin:
            return
        self.received += 1
        if message.get("k") == "a" and isinstance(message.get("p"), dict):
            self._broker.remote_acknowledged(message["p"])
        elif message.get("k") == "r" and isinstance(message.get("p"), dict):
            self._broker.remote_resolved([message["p"]])
        else:
            self._broker.remote_changed()
            if self._on_events is not None:
                self._on_events()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
