"""Notifications to app users through the attention gate, on SQLite and PostgreSQL: a user in quiet
hours is held and released when they end, a user who opted out of the category is skipped with the
reason, a user who chose nothing gets it at once; the funnel counts each by reason."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from pushlog.hub import audience
from pushlog.hub.attention import Category, PreferenceDocument, PushFacts, QuietHours
from pushlog.hub.notifications._runner import run_due
from pushlog.hub.store import notifications as store
from pushlog.hub.store import outbox
from pushlog.hub.store import preferences as pref_store
from pushlog.hub.store import users as user_store
from pushlog.hub.store._tables import deliveries, devices
from pushlog.hub.store.users import UserProfile

#: 23:30 in Berlin (UTC+1): inside 22:00-07:00; the night ends at 06:00 UTC.
NIGHT = _dt.datetime(2026, 1, 14, 22, 30, tzinfo=_dt.UTC)
MORNING = _dt.datetime(2026, 1, 15, 6, 0, tzinfo=_dt.UTC)
QUIET = PreferenceDocument(timezone="Europe/Berlin", quiet_hours=[QuietHours(start="22:00", end="07:00")])
OPTED_OUT = PreferenceDocument(categories={"offers": "off"})


def _users(engine: sa.Engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            user_store.put_user(conn, name, UserProfile(), now=NIGHT)
            conn.execute(
                devices.insert().values(
                    id=f"d-{name}",
                    kind="webpush",
                    endpoint=f"https://p.example/{name}",
                    p256dh="k",
                    auth="a",
                    created_at=NIGHT,
                    updated_at=NIGHT,
                    user_id=name,
                )
            )


def _choose(engine: sa.Engine, user: str, document: PreferenceDocument) -> None:
    with engine.begin() as conn:
        pref_store.put_document(conn, pref_store.USER, user, document, now=NIGHT)


def _notify(engine: sa.Engine, **options: Any) -> str:
    values = {
        "audience": {"filter": "id exists"},
        "content": {"title": "hi", "body": None},
        "options": options,
        "level": 20,
        "ttl": 60,
        "schedule": {},
        "start_at": NIGHT,
    }
    with engine.begin() as conn:
        made, _ = store.create(conn, values, now=NIGHT)
    return str(made["id"])


def _rows(engine: sa.Engine, notification_id: str) -> dict[str, tuple[str, str | None, Any]]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(
                deliveries.c.device_id, deliveries.c.status, deliveries.c.reason, deliveries.c.next_attempt_at
            ).where(deliveries.c.notification_id == notification_id)
        ).all()
    return {r.device_id: (r.status, r.reason, r.next_attempt_at) for r in found}


def _funnel(engine: sa.Engine, notification_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        shown = store.get(conn, notification_id)
    assert shown is not None
    return shown


def test_quiet_hours_hold_an_opt_out_skips_and_no_choice_delivers_at_once(engine: sa.Engine) -> None:
    _users(engine, "sleeper", "optout", "plain")
    _choose(engine, "sleeper", QUIET)
    _choose(engine, "optout", OPTED_OUT)
    notification_id = _notify(engine, category="offers")
    assert run_due(engine, now=NIGHT).notifications == 1
    assert _rows(engine, notification_id) == {
        "d-sleeper": ("held", "quiet_hours", MORNING),
        "d-optout": ("skipped", "category_off", None),
        "d-plain": ("queued", None, NIGHT),
    }
    shown = _funnel(engine, notification_id)
    assert shown["status"] == "sending"  # a held row still waits
    funnel = shown["funnel"]
    assert (funnel["deliveries"], funnel["queued"], funnel["held"]) == (3, 1, 1)
    assert funnel["held_reasons"] == {"quiet_hours": 1}
    assert funnel["skipped_reasons"] == {"category_off": 1}

    with engine.begin() as conn:  # not yet: the night is not over
        assert outbox.release_held(conn, now=MORNING - _dt.timedelta(minutes=1)).queued == 0
    with engine.begin() as conn:
        assert outbox.release_held(conn, now=MORNING).queued == 1
    with engine.begin() as conn:  # released once
        assert outbox.release_held(conn, now=MORNING).seen == 0
    assert _rows(engine, notification_id)["d-sleeper"] == ("queued", "quiet_hours", MORNING)
    assert _funnel(engine, notification_id)["funnel"]["held"] == 0


def test_time_sensitive_goes_through_quiet_hours_but_not_past_an_opt_out(engine: sa.Engine) -> None:
    _users(engine, "sleeper", "optout")
    _choose(engine, "sleeper", QUIET)
    _choose(engine, "optout", OPTED_OUT)
    notification_id = _notify(engine, category="offers", time_sensitive=True)
    run_due(engine, now=NIGHT)
    assert _rows(engine, notification_id) == {
        "d-sleeper": ("queued", None, NIGHT),
        "d-optout": ("skipped", "category_off", None),
    }


def test_an_apps_category_default_applies_to_users_who_chose_nothing(engine: sa.Engine) -> None:
    _users(engine, "keen", "plain")
    _choose(engine, "keen", PreferenceDocument(categories={"offers": "push"}))
    with engine.begin() as conn:
        pref_store.put_category(conn, "offers", Category(default="off"), now=NIGHT)
    notification_id = _notify(engine, category="offers")
    run_due(engine, now=NIGHT)
    assert _rows(engine, notification_id) == {
        "d-keen": ("queued", None, NIGHT),
        "d-plain": ("skipped", "category_off", None),
    }


def test_recipients_with_documents_are_decided_in_pages_each_once(engine: sa.Engine) -> None:
    names = [f"u{i}" for i in range(7)]
    _users(engine, *names)
    for name in names[:5]:
        _choose(engine, name, QUIET)
    notification_id = _notify(engine)
    where = audience.audience_condition({"filter": "id exists"}, now=NIGHT)
    with engine.begin() as conn:
        outbox.enqueue_notification(
            conn,
            notification_id,
            audience.device_rows(where),
            facts=PushFacts(level=20),
            due=NIGHT,
            now=NIGHT,
            batch=2,
        )
    rows = _rows(engine, notification_id)
    assert sorted(rows) == sorted(f"d-{n}" for n in names)
    assert [rows[f"d-{n}"][0] for n in names] == ["held"] * 5 + ["queued"] * 2


def test_cancelling_fails_held_rows_too(engine: sa.Engine) -> None:
    _users(engine, "sleeper")
    _choose(engine, "sleeper", QUIET)
    notification_id = _notify(engine)
    run_due(engine, now=NIGHT)
    with engine.begin() as conn:
        store.cancel(conn, notification_id, now=NIGHT)
        assert outbox.release_held(conn, now=MORNING).queued == 0
    assert _rows(engine, notification_id)["d-sleeper"][0] == "failed"
