"""Two dispatchers on one database (store/outbox.py): claims never overlap, a claim never waits for
another's rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a CRITICAL round is created once even
when both schedule it at the same moment."""

from __future__ import annotations

import datetime as _dt
import threading
import uuid

import sqlalchemy as sa
from tests.hub.store.rows import webpush_device
from tests.support.hub_server import wait_until

from pushlog._levels import Level
from pushlog.hub.store import events as event_store
from pushlog.hub.store import outbox
from pushlog.hub.store._tables import deliveries

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
LEASE = _dt.timedelta(seconds=120)
INTERVAL = _dt.timedelta(minutes=5)
REPEAT = event_store.Repeat(interval=INTERVAL, expiry=_dt.timedelta(hours=1))


def _devices(conn: sa.Connection, count: int) -> None:
    for n in range(count):
        webpush_device(conn, n)


def _events(conn: sa.Connection, count: int, level: Level = Level.ERROR) -> None:
    batch = [
        event_store.NewEvent(id=str(uuid.uuid4()), ts=NOW, level=level, title=f"e{n}", push=True)
        for n in range(count)
    ]
    event_store.insert_events(conn, batch, key_id=None, now=NOW, repeat=REPEAT)


def _claim(conn: sa.Connection, limit: int) -> set[str]:
    return {c.id for c in outbox.claim_due(conn, now=NOW, lease=LEASE, limit=limit)}


def test_two_claimers_get_disjoint_rows_without_waiting(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _devices(conn, 2)
        _events(conn, 10)  # 20 queued deliveries
    if engine.dialect.name == "postgresql":
        # both transactions open at once: the second skips the first's locked rows instead of waiting
        with engine.connect() as first, engine.connect() as second:
            first.begin()
            mine = _claim(first, 8)
            second.begin()
            second.execute(sa.text("SET LOCAL lock_timeout = '5s'"))  # waiting would fail, not hang
            theirs = _claim(second, 100)
            second.commit()
            first.commit()
    else:  # one writer at a time: the second claims after the first committed
        with engine.begin() as conn:
            mine = _claim(conn, 8)
        with engine.begin() as conn:
            theirs = _claim(conn, 100)
    assert len(mine) == 8
    assert len(theirs) == 12
    assert not mine & theirs
    with engine.begin() as conn:
        assert _claim(conn, 100) == set()  # everything is leased


def test_two_expanders_write_each_device_row_once_without_waiting(engine: sa.Engine) -> None:
    """Two dispatchers expanding fan-outs at once: on PostgreSQL the second takes the next fan-out
    (``SKIP LOCKED``) instead of waiting for the first's; either way every device gets one row."""
    with engine.begin() as conn:
        _devices(conn, 30)
        batch = [
            event_store.NewEvent(id=f"e{n}", ts=NOW, level=Level.ERROR, title=f"e{n}", push=True)
            for n in range(2)
        ]
        first = event_store.insert_events(conn, batch, key_id=None, now=NOW, repeat=REPEAT, lease=LEASE)
    claimed = {c.id for c in first.claimed}
    assert first.expanding == 2

    def expand(conn: sa.Connection, limit: int = 20) -> set[str]:
        return {c.id for c in outbox.expand_fanouts(conn, now=NOW, lease=LEASE, limit=limit)}

    if engine.dialect.name == "postgresql":
        with engine.connect() as one, engine.connect() as two:
            one.begin()
            mine = expand(one)
            two.begin()
            two.execute(sa.text("SET LOCAL lock_timeout = '5s'"))  # waiting would fail, not hang
            theirs = expand(two)
            two.commit()
            one.commit()
        assert len(mine) == len(theirs) == 20  # each took a chunk of its own fan-out
    else:  # one writer at a time
        with engine.begin() as conn:
            mine = expand(conn)
        with engine.begin() as conn:
            theirs = expand(conn)
    assert not mine & theirs and not (mine | theirs) & claimed
    with engine.begin() as conn:
        rest = expand(conn, 100)
        assert expand(conn) == set()
        rows = conn.execute(sa.select(deliveries.c.event_id, deliveries.c.device_id)).all()
    assert len(rows) == len(set(rows)) == 60  # 2 events x 30 devices, each once
    assert len(claimed | mine | theirs | rest) == 60


def _waiting_for_locks(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def test_a_critical_round_is_created_once_by_concurrent_schedulers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _devices(conn, 3)
        _events(conn, 4, level=Level.CRITICAL)
    due = NOW + INTERVAL
    created: list[int] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with engine.begin() as conn:
                created.append(outbox.schedule_repeats(conn, now=due, interval=INTERVAL))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with engine.connect() as conn:
        conn.begin()
        created.append(outbox.schedule_repeats(conn, now=due, interval=INTERVAL))
        other = threading.Thread(target=second)
        other.start()
        if engine.dialect.name == "postgresql":  # its UPDATE waits on this transaction's row locks
            wait_until(lambda: _waiting_for_locks(engine), timeout=30, what="the second scheduler to wait")
        conn.commit()
    other.join(timeout=60)
    assert not other.is_alive()
    assert errors == []
    assert sorted(created) == [0, 12]  # 4 events x 3 devices, by exactly one of the two
    with engine.begin() as conn:
        rounds = conn.execute(
            sa.select(deliveries.c.round, sa.func.count()).group_by(deliveries.c.round)
        ).all()
    assert sorted(tuple(r) for r in rounds) == [(0, 12), (1, 12)]
