"""Retention of notifications to app users on SQLite and PostgreSQL (the hub's retention task, its
clock injected): finished ones (sent, cancelled) go with their deliveries once idle for the default
age, in batches; scheduled ones, ones still sending and ones a receipt touched lately stay."""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Any

import sqlalchemy as sa

from pushlog.hub._retention import RetentionTask
from pushlog.hub.notifications._runner import run_due
from pushlog.hub.store import notifications as store
from pushlog.hub.store import outbox
from pushlog.hub.store import users as user_store
from pushlog.hub.store._tables import deliveries, devices, notifications
from pushlog.hub.store.outbox import DeliveryStatus
from pushlog.hub.store.retention import Policy

START = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
DAY = _dt.timedelta(days=1)
LEASE = _dt.timedelta(minutes=2)
USERS = ("u1", "u2", "u3")


def _people(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for user_id in USERS:
            user_store.put_user(conn, user_id, user_store.UserProfile(), now=START)
            conn.execute(
                devices.insert().values(
                    id=f"d_{user_id}",
                    kind="webpush",
                    endpoint=f"https://p.example/{user_id}",
                    p256dh="k",
                    auth="a",
                    created_at=START,
                    updated_at=START,
                    user_id=user_id,
                )
            )


def _notify(
    engine: sa.Engine, title: str, *, users: tuple[str, ...] = USERS, start_at: _dt.datetime = START
) -> str:
    values: dict[str, Any] = {
        "audience": {"users": list(users)},
        "content": {"title": title, "body": None},
        "options": {},
        "level": 20,
        "ttl": 60,
        "schedule": {},
        "start_at": start_at,
    }
    with engine.begin() as conn:
        made, _ = store.create(conn, values, now=START)
    return str(made["id"])


def _send_all(engine: sa.Engine, now: _dt.datetime) -> list[outbox.Claimed]:
    """What the dispatcher does with every queued delivery: lease it, the push service accepts it."""
    with engine.begin() as conn:
        claims = outbox.claim_due(conn, now=now, lease=LEASE, limit=100)
        outbox.record_sent_many(conn, claims, now=now, status_code=201)
    return claims


def _deliveries_of(engine: sa.Engine, notification_id: str) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(deliveries.c.notification_id == notification_id)
        ).scalar()
    return int(count or 0)


def _titles(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {row["title"] for row in conn.execute(sa.select(notifications.c.content)).scalars()}


def test_finished_notifications_go_with_their_deliveries_and_others_stay(engine: sa.Engine) -> None:
    _people(engine)
    sent = _notify(engine, "sent")
    run_due(engine, now=START)
    _send_all(engine, START)
    touched = _notify(engine, "receipt later")
    run_due(engine, now=START)
    (first, *_) = _send_all(engine, START)
    with engine.begin() as conn:  # the app reports an open 25 days later: the send is not idle yet
        assert outbox.record_receipt(conn, first.id, DeliveryStatus.OPENED, now=START + 25 * DAY)
    sending = _notify(engine, "still sending")
    run_due(engine, now=START)  # expanded, never sent: its deliveries stay queued
    cancelled = _notify(engine, "cancelled", start_at=START + DAY)
    with engine.begin() as conn:
        assert store.cancel(conn, cancelled, now=START) is not None
    scheduled = _notify(engine, "scheduled", start_at=START + 90 * DAY)
    assert _deliveries_of(engine, sent) == _deliveries_of(engine, sending) == len(USERS)

    moment = START + 31 * DAY
    task = RetentionTask(
        engine=engine, policy=Policy.from_seconds(30 * 86400, {}), clock=lambda: moment, interval=60, batch=2
    )
    purged = asyncio.run(task.run_pass())
    assert (purged.notifications, purged.notification_deliveries) == (2, len(USERS))
    assert purged.deliveries == len(USERS)
    assert _titles(engine) == {"receipt later", "still sending", "scheduled"}
    with engine.connect() as conn:
        assert store.get(conn, sent) is None and store.get(conn, cancelled) is None
        assert store.get(conn, scheduled)["status"] == "scheduled"  # type: ignore[index]
        assert store.get(conn, sending)["status"] == "sending"  # type: ignore[index]
    assert _deliveries_of(engine, sent) == 0 and _deliveries_of(engine, sending) == len(USERS)

    moment = START + 56 * DAY  # 31 days after the last receipt
    purged = asyncio.run(task.run_pass())
    assert (purged.notifications, purged.notification_deliveries) == (1, len(USERS))
    assert _titles(engine) == {"still sending", "scheduled"}
    assert _deliveries_of(engine, touched) == 0


def test_forever_keeps_finished_notifications(engine: sa.Engine) -> None:
    _people(engine)
    sent = _notify(engine, "sent")
    run_due(engine, now=START)
    _send_all(engine, START)
    task = RetentionTask(
        engine=engine, policy=Policy.from_seconds(None, {}), clock=lambda: START + 900 * DAY, interval=60
    )
    purged = asyncio.run(task.run_pass())
    assert purged.notifications == 0 and _deliveries_of(engine, sent) == len(USERS)
