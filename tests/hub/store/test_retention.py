"""Retention (``store/retention.py`` and the hub's task) on SQLite and on a real PostgreSQL server:
expired events go with their tags, metadata and deliveries, in batches; per-channel ages; open
CRITICALs, heartbeats and young events stay."""

from __future__ import annotations

import asyncio
import datetime as _dt
import uuid
from pathlib import Path

import sqlalchemy as sa
from tests.hub.store.rows import VAULT

from pushlog._levels import Level
from pushlog.hub._retention import RetentionTask
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import heartbeats as heartbeat_store
from pushlog.hub.store._engine import sqlite_pragma
from pushlog.hub.store._tables import client_reports, deliveries, event_meta, event_tags, events, heartbeats
from pushlog.hub.store.retention import Policy, purge_batch
from pushlog.hub.store.stats import record_client_report

START = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
DAY = _dt.timedelta(days=1)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"


def _phone(conn: sa.Connection) -> None:
    device_store.register_webpush(
        conn,
        device_store.WebPushRegistration(
            name="phone",
            endpoint="https://push.example/1",
            p256dh=P256DH,
            auth="BTBZMqHH6r4Tts7J_aSIgg",
            min_level=Level.WARNING,
            channels=None,
        ),
        vault=VAULT,
        now=START,
    )


def _store(
    conn: sa.Connection, *, at: _dt.datetime, level: Level = Level.WARNING, channel: str | None = None
) -> str:
    """One pushed event with a tag and a metadata row, received at ``at``; returns its id."""
    item = event_store.NewEvent(
        id=str(uuid.uuid4()),
        ts=at,
        level=level,
        title="t",
        channel=channel,
        tags=["deploy"],
        metadata={"user": "42"},
        push=True,
    )
    event_store.insert_events(conn, [item], key_id=None, now=at, repeat=REPEAT)
    return item.id


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def _ids(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(events.c.id)).scalars())


def test_expired_events_go_with_everything_attached(engine: sa.Engine) -> None:
    policy = Policy.from_seconds(30 * 86400, {})
    with engine.begin() as conn:
        _phone(conn)
        old = [_store(conn, at=START) for _ in range(3)]
        young = _store(conn, at=START + 20 * DAY)
        assert _count(conn, deliveries) == 4
    now = START + 31 * DAY
    with engine.begin() as conn:
        purged = purge_batch(conn, policy=policy, now=now, limit=2)  # a batch is bounded
    assert (purged.events, purged.deliveries) == (2, 2)
    with engine.begin() as conn:
        assert purge_batch(conn, policy=policy, now=now).events == 1
        assert purge_batch(conn, policy=policy, now=now).events == 0
        assert _ids(conn) == {young}
        assert not set(old) & _ids(conn)
        # Nothing dangles: every side row belongs to the young event.
        assert _count(conn, deliveries) == _count(conn, event_tags) == _count(conn, event_meta) == 1


def test_open_criticals_stay_until_acknowledged_and_heartbeats_are_kept(engine: sa.Engine) -> None:
    policy = Policy.from_seconds(86400, {})
    with engine.begin() as conn:
        alarm = _store(conn, at=START, level=Level.CRITICAL)
        acked = _store(conn, at=START, level=Level.CRITICAL)
        event_store.acknowledge(conn, acked, by="test", now=START)
        heartbeat_store.record_checkin(
            conn, heartbeat_store.CheckIn(name="nightly", every_s=3600.0), key_id=None, now=START
        )
        record_client_report(conn, dropped=3, key_id=None, sdk="test", now=START)
    with engine.begin() as conn:
        purged = purge_batch(conn, policy=policy, now=START + 10 * DAY)
        assert purged.events == 1
        assert purged.client_reports == 1
        assert _ids(conn) == {alarm}
        assert _count(conn, heartbeats) == 1
        assert _count(conn, client_reports) == 0
        event_store.acknowledge(conn, alarm, by="test", now=START + 10 * DAY)
    with engine.begin() as conn:
        assert purge_batch(conn, policy=policy, now=START + 10 * DAY).events == 1
        assert _ids(conn) == set()


def test_channel_overrides(engine: sa.Engine) -> None:
    policy = Policy.from_seconds(7 * 86400, {"audit": 365 * 86400, "debug": 86400, "legal": None})
    with engine.begin() as conn:
        audit = _store(conn, at=START, channel="audit")
        legal = _store(conn, at=START, channel="legal")
        _store(conn, at=START, channel="ops")
        _store(conn, at=START, channel=None)
        debug_young = _store(conn, at=START + 8 * DAY, channel="debug")
        _store(conn, at=START + 6 * DAY, channel="debug")
    with engine.begin() as conn:
        purge_batch(conn, policy=policy, now=START + 8 * DAY + _dt.timedelta(hours=1))
        assert _ids(conn) == {audit, legal, debug_young}
    with engine.begin() as conn:
        purge_batch(conn, policy=policy, now=START + 400 * DAY)
        assert _ids(conn) == {legal}


def test_forever_keeps_everything(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        kept = _store(conn, at=START)
        purged = purge_batch(conn, policy=Policy.from_seconds(None, {}), now=START + 4000 * DAY)
        assert purged.events == 0
        assert _ids(conn) == {kept}


def test_task_runs_batches_to_the_end_and_gives_space_back(tmp_path: Path) -> None:
    """SQLite: a pass deletes in batches until nothing expired is left, and the file shrinks
    (auto_vacuum=INCREMENTAL is set on creation, the pass runs incremental_vacuum)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    assert sqlite_pragma(engine, "auto_vacuum") == "2"  # incremental
    with engine.begin() as conn:
        _phone(conn)
        batch = [
            event_store.NewEvent(
                id=str(uuid.uuid4()), ts=START, level=Level.WARNING, title="x" * 2000, push=True
            )
            for _ in range(1200)
        ]
        event_store.insert_events(conn, batch, key_id=None, now=START, repeat=REPEAT)
    pages_before = int(sqlite_pragma(engine, "page_count") or 0)
    task = RetentionTask(
        engine=engine,
        policy=Policy.from_seconds(86400, {}),
        clock=lambda: START + 2 * DAY,
        interval=60,
        batch=500,
    )
    purged = asyncio.run(task.run_pass())
    assert (purged.events, purged.deliveries) == (1200, 1200)
    assert int(sqlite_pragma(engine, "freelist_count") or 0) == 0
    assert int(sqlite_pragma(engine, "page_count") or 0) < pages_before / 5
    engine.dispose()


def test_task_pass_on_each_database(engine: sa.Engine) -> None:
    """The hub's task on SQLite and PostgreSQL: batches until nothing expired is left, on its clock."""
    with engine.begin() as conn:
        _phone(conn)
        old = [_store(conn, at=START) for _ in range(5)]
        young = _store(conn, at=START + 6 * DAY)
    clock_now = START + 8 * DAY
    task = RetentionTask(
        engine=engine,
        policy=Policy.from_seconds(7 * 86400, {}),
        clock=lambda: clock_now,
        interval=60,
        batch=2,
    )
    purged = asyncio.run(task.run_pass())
    assert (purged.events, purged.deliveries, task.passes) == (len(old), len(old), 1)
    with engine.begin() as conn:
        assert _ids(conn) == {young}
        assert _count(conn, deliveries) == 1
