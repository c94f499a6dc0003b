"""The heartbeat state machine and overdue monitor, stepped deterministically with ``check(now)``
on a real SQLite database migrated by the hub's own alembic migrations."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pushlog.hub.heartbeats import HeartbeatMonitor
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store._tables import deliveries, devices, events
from pushlog.hub.store.heartbeats import CheckIn, default_grace, get_heartbeat, record_checkin

T0 = _dt.datetime(2026, 11, 21, 6, 0, tzinfo=_dt.UTC)
HOUR = _dt.timedelta(hours=1)
MIN = _dt.timedelta(minutes=1)


def _engine(path: Path) -> sa.Engine:
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = _engine(tmp_path / "hub.db")
    yield eng
    eng.dispose()


class Rig:
    """A monitor over ``engine`` with a recorded ``on_events`` hook."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.woken: list[int] = []

        async def run_db(fn: Any, **kwargs: Any) -> Any:
            with engine.begin() as conn:
                return fn(conn, **kwargs)

        async def on_events(n: int) -> None:
            self.woken.append(n)

        self.monitor = HeartbeatMonitor(run_db=run_db, clock=lambda: T0, on_events=on_events)

    def checkin(self, name: str, at: _dt.datetime, **fields: Any) -> dict[str, Any]:
        with self.engine.begin() as conn:
            return record_checkin(conn, CheckIn(name=name, **fields), now=at).heartbeat

    def events(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(events).order_by(events.c.seq)).all())

    def heartbeat(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = get_heartbeat(conn, name)
        assert found is not None
        return found


async def test_overdue_exactly_at_the_deadline_and_only_once(engine: sa.Engine) -> None:
    rig = Rig(engine)
    beat = rig.checkin("backup", T0, every_s=3600, grace_s=600)
    assert beat["status"] == "up"
    assert beat["due_at"] == "2026-11-21T07:10:00.000000Z"
    assert await rig.monitor.check(T0 + HOUR + 10 * MIN - _dt.timedelta(seconds=1)) == []
    assert rig.events() == []
    assert await rig.monitor.check(T0 + HOUR + 10 * MIN) == ["backup"]
    (alert,) = rig.events()
    assert (alert.level, alert.title, alert.channel, alert.push) == (
        40,
        "backup is overdue",
        "heartbeats",
        True,
    )
    assert alert.metadata["heartbeat"] == "backup"
    assert "expected every 1h (+10m grace)" in alert.body
    assert rig.heartbeat("backup")["status"] == "overdue"
    assert rig.woken == [0]
    # still overdue an hour later: no second alert
    assert await rig.monitor.check(T0 + 3 * HOUR) == []
    assert len(rig.events()) == 1


async def test_success_recovers_with_an_info_event_and_a_new_deadline(engine: sa.Engine) -> None:
    rig = Rig(engine)
    rig.checkin("backup", T0, every_s=3600, grace_s=600)
    await rig.monitor.check(T0 + 2 * HOUR)
    beat = rig.checkin("backup", T0 + 5 * HOUR, status="success", duration_s=12.5)
    assert beat["status"] == "up"
    assert beat["overdue_since"] is None
    assert beat["due_at"] == "2026-11-21T12:10:00.000000Z"
    assert beat["last_duration_s"] == 12.5
    recovered = rig.events()[-1]
    assert (recovered.level, recovered.title, recovered.push) == (20, "backup recovered", False)
    assert "overdue for 3h" in recovered.body
    # the next outage alerts again
    assert await rig.monitor.check(T0 + 6 * HOUR + 10 * MIN) == ["backup"]
    assert [e.title for e in rig.events()] == ["backup is overdue", "backup recovered", "backup is overdue"]


async def test_start_and_failure_do_not_move_the_deadline(engine: sa.Engine) -> None:
    rig = Rig(engine)
    rig.checkin("sync", T0, every_s=600, grace_s=60)  # success at T0: due at T0+11m
    rig.checkin("sync", T0 + 9 * MIN, status="start")
    beat = rig.checkin("sync", T0 + 10 * MIN, status="failure", exit_code=2, message="disk full")
    assert beat["due_at"] == "2026-11-21T06:11:00.000000Z"
    assert beat["last_exit_code"] == 2 and beat["last_start_at"] is not None
    assert await rig.monitor.check(T0 + 11 * MIN) == ["sync"]
    assert "last failure: 2026-11-21T06:10:00.000000Z (disk full)" in rig.events()[0].body
    # a failure while overdue does not recover it
    assert rig.checkin("sync", T0 + 12 * MIN, status="failure")["status"] == "overdue"
    assert len(rig.events()) == 1


async def test_first_deadline_counts_from_the_first_check_in(engine: sa.Engine) -> None:
    rig = Rig(engine)
    beat = rig.checkin("nightly", T0, status="start", every_s=86400)
    assert beat["last_success_at"] is None
    assert beat["grace_s"] == default_grace(86400) == 8640
    assert await rig.monitor.check(T0 + _dt.timedelta(days=1)) == []
    assert await rig.monitor.check(T0 + _dt.timedelta(days=1, seconds=8640)) == ["nightly"]
    assert "last success: never" in rig.events()[0].body
    assert default_grace(120) == 60


async def test_without_every_it_is_only_a_record(engine: sa.Engine) -> None:
    rig = Rig(engine)
    beat = rig.checkin("adhoc", T0, status="success", exit_code=0)
    assert beat["status"] == "unmonitored" and beat["due_at"] is None
    assert await rig.monitor.check(T0 + 1000 * HOUR) == []
    # a later check-in with every starts monitoring; grace keeps its value when not repeated
    rig.checkin("adhoc", T0 + HOUR, every_s=3600, grace_s=120)
    assert rig.checkin("adhoc", T0 + 2 * HOUR)["grace_s"] == 120


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    first = _engine(path)
    rig = Rig(first)
    rig.checkin("a", T0, every_s=3600, grace_s=60)
    rig.checkin("b", T0, every_s=7200, grace_s=60)
    assert await rig.monitor.check(T0 + HOUR + MIN) == ["a"]
    first.dispose()

    second = _engine(path)  # "restarted hub": a new engine and monitor over the same file
    try:
        again = Rig(second)
        assert again.heartbeat("a")["status"] == "overdue"
        # "a" stays alerted once; "b" went due while the hub was down and alerts on the first check
        assert await again.monitor.check(T0 + 5 * HOUR) == ["b"]
        assert [e.title for e in again.events()] == ["a is overdue", "b is overdue"]
        again.checkin("a", T0 + 6 * HOUR)
        assert again.events()[-1].title == "a recovered"
    finally:
        second.dispose()


async def test_overdue_alert_is_pushed_like_any_event(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            devices.insert().values(
                id="dev_1",
                kind="webpush",
                endpoint="https://push.example/1",
                p256dh="p",
                auth="a",
                min_level=40,
                created_at=T0,
                updated_at=T0,
            )
        )
    rig = Rig(engine)
    rig.checkin("backup", T0, every_s=60, grace_s=60)
    assert await rig.monitor.check(T0 + 2 * MIN) == ["backup"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(deliveries)).all()
    assert [(r.device_id, r.status, r.round) for r in rows] == [("dev_1", "queued", 0)]
    assert rig.woken == [1], "the delivery service is woken for the new delivery"
    # the INFO recovery is feed-only; it resolves the overdue alert, whose push is replaced in place:
    # one more round of the alert itself (built as "Resolved: ..." when sent), nothing for the recovery
    rig.checkin("backup", T0 + 3 * MIN)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(deliveries).order_by(deliveries.c.round)).all()
        alert = conn.execute(sa.select(events).where(events.c.title == "backup is overdue")).one()
    assert [(r.event_id, r.round) for r in rows] == [(alert.id, 0), (alert.id, 1)]
    assert alert.resolved_at == T0 + 3 * MIN
    assert alert.resolved_by.startswith("event:")
