"""Expanding notifications into the outbox on SQLite and PostgreSQL: once only, one delivery per
device, local-time schedules per recipient zone across daylight-saving changes (injected ``now``)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from pushlog.hub.notifications._runner import run_due
from pushlog.hub.notifications._schedule import local_time_of
from pushlog.hub.store import notifications as store
from pushlog.hub.store import users as user_store
from pushlog.hub.store._tables import deliveries, devices
from pushlog.hub.store.users import UserProfile

UTC = _dt.UTC


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> _dt.datetime:
    return _dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def _people(engine: sa.Engine, now: _dt.datetime) -> None:
    with engine.begin() as conn:
        user_store.put_user(conn, "ny", UserProfile(timezone="America/New_York"), now=now)
        user_store.put_user(conn, "berlin", UserProfile(timezone="Europe/Berlin"), now=now)
        user_store.put_user(conn, "nodevice", UserProfile(), now=now)
        for device_id, user_id, tz in (
            ("d1", "ny", None),
            ("d2", "ny", None),
            ("d3", "berlin", None),
            ("d4", "lost", "Nowhere/Zone"),
        ):
            conn.execute(
                devices.insert().values(
                    id=device_id,
                    kind="webpush",
                    endpoint=f"https://p.example/{device_id}",
                    p256dh="k",
                    auth="a",
                    created_at=now,
                    updated_at=now,
                    user_id=user_id,
                    timezone=tz,
                )
            )


def _notify(engine: sa.Engine, schedule: dict[str, Any], start_at: _dt.datetime, now: _dt.datetime) -> str:
    values = {
        "audience": {"filter": "id exists"},
        "content": {"title": "hi", "body": None},
        "options": {},
        "level": 20,
        "ttl": 60,
        "schedule": schedule,
        "start_at": start_at,
    }
    with engine.begin() as conn:
        made, _ = store.create(conn, values, now=now)
    return str(made["id"])


def _due_times(engine: sa.Engine, notification_id: str) -> dict[str, _dt.datetime]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.device_id, deliveries.c.next_attempt_at).where(
                deliveries.c.notification_id == notification_id
            )
        ).all()
    return {row.device_id: row.next_attempt_at for row in rows}


def test_local_nine_oclock_across_the_us_clock_change(engine: sa.Engine) -> None:
    now = _at(2026, 3, 7, 12)  # the US moves its clocks forward on Sunday 2026-03-08; Europe on 03-29
    _people(engine, now)
    schedule = {"local_time": "09:00", "date": "2026-03-08", "timezone": "Asia/Tokyo"}
    local = local_time_of(schedule)
    assert local is not None
    notification_id = _notify(engine, schedule, local.earliest, now)
    assert run_due(engine, now=now).notifications == 0  # not yet: 09:00 has reached no zone
    later = _at(2026, 3, 7, 19, 30)  # 09:00 in Kiribati (UTC+14) has come
    done = run_due(engine, now=later)
    assert (done.notifications, done.deliveries) == (1, 4)
    assert run_due(engine, now=later).notifications == 0  # expanded once
    assert _due_times(engine, notification_id) == {
        "d1": _at(2026, 3, 8, 13),  # 09:00 EDT (UTC-4, the day the clocks changed)
        "d2": _at(2026, 3, 8, 13),
        "d3": _at(2026, 3, 8, 8),  # 09:00 CET (UTC+1)
        "d4": _at(2026, 3, 8, 0),  # an unknown zone: the schedule's (Tokyo, UTC+9)
    }
    with engine.connect() as conn:
        shown = store.get(conn, notification_id)
    assert shown is not None and shown["status"] == "sending"
    assert shown["funnel"]["targeted"] == 4 and shown["funnel"]["skipped"] == {"no_device": 1}
    assert shown["funnel"]["queued"] == 4


def test_gaps_overlaps_and_times_already_past() -> None:
    ny = {"timezone": "America/New_York"}
    gap = local_time_of({"local_time": "02:30", "date": "2026-03-08", **ny})
    overlap = local_time_of({"local_time": "01:30", "date": "2026-11-01", **ny})
    assert gap is not None and overlap is not None
    early = _at(2026, 1, 1)
    assert gap.in_zone(None, now=early) == _at(2026, 3, 8, 7, 30)  # 02:30 does not exist: 03:30 EDT
    assert overlap.in_zone(None, now=early) == _at(2026, 11, 1, 5, 30)  # the first 01:30 (EDT)
    nine = local_time_of({"local_time": "09:00", "date": "2026-06-01"})
    assert nine is not None
    assert nine.in_zone(None, now=_at(2026, 6, 1, 10)) == _at(2026, 6, 2, 9)  # passed: the next day


def test_cancelled_before_it_is_due_queues_nothing(engine: sa.Engine) -> None:
    now = _at(2026, 1, 1, 12)
    _people(engine, now)
    notification_id = _notify(engine, {"delay_s": 60}, now + _dt.timedelta(minutes=1), now)
    with engine.begin() as conn:
        assert store.cancel(conn, notification_id, now=now) is not None
    assert run_due(engine, now=now + _dt.timedelta(hours=1)).notifications == 0
    assert _due_times(engine, notification_id) == {}
