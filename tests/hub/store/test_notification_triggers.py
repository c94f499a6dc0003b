"""Trigger rounds of the notifications runner (``hub/notifications/_runner.py``) on SQLite and
PostgreSQL: a round with nothing to do takes no write transaction, a trigger still fires for the
first event committed after it was made, and a wake by events alone reads no due notifications
before the deadline the runner computed (``wake()`` and that deadline do)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from tests.support.clock import FakeClock

from pushlog.hub._broker import Broker
from pushlog.hub.notifications._runner import MAX_IDLE, NotificationRunner, run_due
from pushlog.hub.store import events as event_store
from pushlog.hub.store import notifications as notification_store
from pushlog.hub.store import templates as template_store
from pushlog.hub.store import triggers as trigger_store
from pushlog.hub.store._engine import is_read_only
from pushlog.hub.store._tables import notifications

from .rows import NOW, REPEAT, new_event

TRIGGER = {
    "channel": "orders",
    "title": None,
    "user_key": "user",
    "template": "shipped",
    "delay_s": None,
    "once_key": None,
    "level": 20,
}


@contextmanager
def transactions(engine: sa.Engine) -> Iterator[dict[str, int]]:
    """Counts the transactions begun on ``engine`` meanwhile: ``write`` and ``read`` (read-only)."""
    seen = {"write": 0, "read": 0}

    def on_begin(conn: sa.Connection) -> None:
        seen["read" if is_read_only(conn) else "write"] += 1

    event.listen(engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)


def commit_event(engine: sa.Engine, **fields: Any) -> None:
    with engine.begin() as conn:
        event_store.insert_events(conn, [new_event("shipped", **fields)], key_id=None, now=NOW, repeat=REPEAT)


def made(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return [row.audience for row in conn.execute(sa.select(notifications.c.audience))]


def test_events_without_a_trigger_cost_a_round_no_write_transaction(engine: sa.Engine) -> None:
    for n in range(3):
        commit_event(engine, channel="orders", metadata={"user": f"u{n}"})
    with transactions(engine) as seen:
        assert run_due(engine, now=NOW, due=False).triggered == 0
    assert seen == {"write": 0, "read": 1}  # one look: is there a trigger cursor with events after it?
    with transactions(engine) as seen:
        assert run_due(engine, now=NOW).notifications == 0
    assert seen == {"write": 0, "read": 2}  # and the due notifications, on a read-only connection


def test_a_trigger_fires_for_the_event_committed_right_after_it(engine: sa.Engine) -> None:
    commit_event(engine, channel="orders", metadata={"user": "before"})  # before the trigger: not its
    with engine.begin() as conn:
        template_store.put_template(conn, "shipped", {"en": {"title": "Shipped"}}, "en", now=NOW)
        trigger_store.put_trigger(conn, "shipped", TRIGGER, now=NOW)
    with transactions(engine) as seen:  # the cursor is at the newest event: nothing to read yet
        assert run_due(engine, now=NOW, due=False).triggered == 0
    assert seen["write"] == 0
    commit_event(engine, channel="orders", metadata={"user": "u7"})
    with transactions(engine) as seen:
        assert run_due(engine, now=NOW, due=False).triggered == 1
    assert seen["write"] == 1
    assert made(engine) == [{"users": ["u7"]}]
    with transactions(engine) as seen:  # the cursor moved past it: once only, and no write again
        assert run_due(engine, now=NOW, due=False).triggered == 0
    assert seen["write"] == 0
    assert made(engine) == [{"users": ["u7"]}]


async def until(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``probe`` (the runner's rounds run in a worker thread) until true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def status_of(engine: sa.Engine, notification_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(notifications.c.status).where(notifications.c.id == notification_id)
            ).scalar()
        )


async def test_an_event_wake_reads_no_notifications_before_the_deadline(engine: sa.Engine) -> None:
    clock, broker = FakeClock(NOW), Broker()
    runner = NotificationRunner(engine=engine, clock=clock.as_utc(), on_queued=lambda: None, broker=broker)
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    runner.start()
    try:
        await until(lambda: runner.rounds == 1, "the first round")
        statements.clear()
        with transactions(engine) as seen:
            commit_event(engine, channel="orders", metadata={"user": "u1"})
            await broker.changed()
            await until(lambda: runner.rounds == 2, "the round of the event")
        assert seen["write"] == 1  # the event's own commit; the round took none
        assert not [s for s in statements if "notifications" in s]
        values = {
            "audience": {"users": ["nobody"]},
            "content": {"title": "hi", "body": None},
            "options": {},
            "level": 20,
            "ttl": 60,
            "schedule": {},
            "start_at": NOW,
        }
        with engine.begin() as conn:  # as another hub process would: no wake() here
            made, _ = notification_store.create(conn, values, now=NOW)
        commit_event(engine, channel="orders", metadata={"user": "u2"})
        await broker.changed()
        await until(lambda: runner.rounds == 3, "the round of the second event")
        assert status_of(engine, made["id"]) == "scheduled"  # the deadline (MAX_IDLE ahead) has not come
        clock.advance(MAX_IDLE)
        commit_event(engine, channel="orders", metadata={"user": "u3"})
        await broker.changed()
        await until(lambda: status_of(engine, made["id"]) == "expanded", "the look at the deadline")
        with engine.begin() as conn:
            again, _ = notification_store.create(conn, {**values, "start_at": clock.utc()}, now=clock.utc())
        runner.wake()  # what POST /v1/notifications does
        await until(lambda: status_of(engine, again["id"]) == "expanded", "the look on wake()")
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        await runner.aclose()
        await broker.close()
