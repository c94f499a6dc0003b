"""Notifications through a real hub: POST /v1/notifications -> expansion -> outbox -> the Web Push
stand-in, which decrypts what each user's phone got, and through the attention gate (quiet hours
hold a notification until they end under an injected clock, an opted-out category skips it). App
users' devices are registered as devices and then given their ``user_id``/``locale`` in the database
(what the devices API does for a ``users`` key)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, publish, wait_until
from tests.support.push_service import PushService

from pushlog._levels import Level
from pushlog.hub.store._tables import deliveries, notifications
from pushlog.hub.store.device_tokens import open_vault
from pushlog.hub.store.devices import Profile as DeviceProfile
from pushlog.hub.store.devices import WebPushRegistration, add_webpush_devices
from pushlog.hub.store.users import UserProfile, add_users

TEMPLATE = {
    "default_locale": "en",
    "locales": {
        "en": {"title": "Hi {{ user.custom.name }}", "body": "Order {{ data.order }} shipped"},
        "de": {"title": "Hallo {{ user.custom.name }}", "body": "Bestellung {{ data.order }} ist unterwegs"},
    },
}


#: 23:30 in Berlin; the quiet night (22:00-07:00) ends at 06:00 UTC.
NIGHT = _dt.datetime(2026, 1, 14, 22, 30, tzinfo=_dt.UTC)
MORNING = _dt.datetime(2026, 1, 15, 6, 0, tzinfo=_dt.UTC)
QUIET = {"timezone": "Europe/Berlin", "quiet_hours": [{"start": "22:00", "end": "07:00"}]}


def app_user_device(hub: ThreadHub, push: PushService, user_id: str, **fields: Any) -> Any:
    """A phone subscribed on the stand-in, registered as ``user_id``'s device (what the app's backend
    does with a users key; admin may too)."""
    phone = push.subscribe()
    body = {"kind": "webpush", "subscription": phone.subscription(), "user_id": user_id, **fields}
    with hub.client(hub.admin_key) as http:
        made = http.post("/v1/devices", json=body)
    assert made.status_code == 201, made.text
    return phone


def funnel_of(hub: ThreadHub, notification_id: str) -> dict[str, Any]:
    with hub.client(hub.admin_key) as http:
        shown: dict[str, Any] = http.get(f"/v1/notifications/{notification_id}").json()
    return shown


def test_each_user_gets_their_own_text_and_the_funnel_says_what_happened(
    hub: ThreadHub, push_service: PushService
) -> None:
    with hub.client(hub.admin_key) as http:
        assert http.put("/v1/templates/shipped", json=TEMPLATE).status_code == 201
        http.put("/v1/users/anna", json={"locale": "de", "plan": "pro", "custom": {"name": "Anna"}})
        http.put("/v1/users/bob", json={"plan": "pro", "custom": {"name": "Bob"}})
        http.put("/v1/users/cleo", json={"plan": "pro"})  # no name: her text cannot be rendered
        http.put("/v1/users/dan", json={"plan": "pro", "custom": {"name": "Dan"}})  # no device
        http.put("/v1/users/free", json={"plan": "free", "custom": {"name": "F"}})
    anna = app_user_device(hub, push_service, "anna")
    bob = app_user_device(hub, push_service, "bob", locale="en-GB")
    app_user_device(hub, push_service, "cleo")
    app_user_device(hub, push_service, "free")
    with hub.client(hub.admin_key) as http:
        sent = http.post(
            "/v1/notifications",
            json={
                "audience": {"filter": 'plan = "pro"'},
                "template": "shipped",
                "data": {"order": "A-1"},
                "category": "orders",
                "idempotency_key": "k1",
            },
        )
        assert sent.status_code == 201, sent.text
        again = http.post(
            "/v1/notifications", json={"audience": {"users": ["free"]}, "title": "x", "idempotency_key": "k1"}
        )
        assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    notification_id = sent.json()["id"]
    received = push_service.wait_for(2)
    texts = {r.subscription_id: (r.payload["title"], r.payload["body"]) for r in received}
    for push in received:  # one content shape with team pushes; refs name the notification
        assert push.payload["notification_id"] == notification_id and "event_id" not in push.payload
        assert push.payload["data"] == {"order": "A-1"} and push.payload["category"] == "orders"
    assert texts == {
        anna.endpoint.rsplit("/", 1)[1]: ("Hallo Anna", "Bestellung A-1 ist unterwegs"),
        bob.endpoint.rsplit("/", 1)[1]: ("Hi Bob", "Order A-1 shipped"),
    }
    wait_until(
        lambda: funnel_of(hub, notification_id)["status"] == "sent", timeout=10, what="the send to finish"
    )
    with hub.client() as phone:  # receipts as the service worker (or a native app) sends them
        first, second = (r.payload for r in received)
        for payload, status in ((first, "delivered"), (second, "opened")):
            answer = phone.post(
                f"/v1/deliveries/{payload['delivery_id']}/receipt",
                json={"token": payload["receipt"], "status": status},
            )
            assert answer.status_code == 200, answer.text
    funnel = funnel_of(hub, notification_id)["funnel"]
    assert (funnel["delivered"], funnel["opened"]) == (2, 1)
    assert funnel["targeted"] == 4 and funnel["skipped"] == {"no_device": 1}
    assert (funnel["deliveries"], funnel["sent"], funnel["failed"], funnel["queued"]) == (3, 2, 1, 0)
    assert funnel["failed_reasons"] == {"render error": 1}
    assert funnel["by_transport"]["webpush"]["sent"] == 2
    with hub.client(hub.admin_key) as http:
        listed = http.get("/v1/notifications").json()["notifications"]
    assert [n["id"] for n in listed] == [notification_id]


def test_a_too_costly_render_fails_that_users_delivery_not_the_send(
    hub: ThreadHub, push_service: PushService
) -> None:
    """The template loops as often as a user's attribute says: within the render budget for one user,
    beyond it for the other, whose delivery fails with the reason while the first gets the push."""
    stars = {
        "locales": {
            "en": {"title": "{% for i in range(user.custom.n) %}{% endfor %}{{ user.custom.n }} for you"}
        }
    }
    with hub.client(hub.admin_key) as http:
        assert http.put("/v1/templates/stars", json=stars).status_code == 201
        http.put("/v1/users/few", json={"custom": {"n": 3}})
        http.put("/v1/users/many", json={"custom": {"n": 99999}})
    few = app_user_device(hub, push_service, "few")
    app_user_device(hub, push_service, "many")
    with hub.client(hub.admin_key) as http:
        sent = http.post(
            "/v1/notifications", json={"audience": {"users": ["few", "many"]}, "template": "stars"}
        )
    assert sent.status_code == 201, sent.text
    (push,) = push_service.wait_for(1)
    assert (push.subscription_id, push.payload["title"]) == (_sub(few), "3 for you")
    wait_until(
        lambda: funnel_of(hub, sent.json()["id"])["status"] == "sent", timeout=10, what="the send to finish"
    )
    funnel = funnel_of(hub, sent.json()["id"])["funnel"]
    assert (funnel["sent"], funnel["failed"], funnel["failed_reasons"]) == (1, 1, {"render error": 1})
    with hub.app.state.hub.engine.connect() as conn:
        (error,) = conn.execute(
            sa.select(deliveries.c.last_error).where(deliveries.c.status == "failed")
        ).scalars()
    # the step budget, or on a very loaded machine the render's deadline, whichever comes first
    assert error.startswith("render error: en.title: SecurityError: the template ")
    assert len(push_service.received) == 1


def test_a_cancelled_send_sends_nothing_and_a_scheduled_one_survives_a_restart(
    hub_factory: Callable[..., ThreadHub], push_service: PushService, tmp_path: Path
) -> None:
    clock = FakeClock(_dt.datetime.now(_dt.UTC))
    data_dir = tmp_path / "hub"
    hub = hub_factory(data_dir=data_dir, clock=clock.as_utc(), allow_private_endpoints=True)
    with hub.client(hub.admin_key) as http:
        http.put("/v1/users/u1", json={})
    app_user_device(hub, push_service, "u1")
    with hub.client(hub.admin_key) as http:
        later = {"audience": {"users": ["u1"]}, "schedule": {"delay": "1h"}}
        cancelled = http.post("/v1/notifications", json={**later, "title": "cancelled"}).json()
        kept = http.post("/v1/notifications", json={**later, "title": "kept"}).json()
        assert http.post(f"/v1/notifications/{cancelled['id']}/cancel").json()["status"] == "cancelled"
        assert kept["status"] == "scheduled"
    hub.stop()
    clock.advance(2 * 3600)
    again = hub_factory(data_dir=data_dir, clock=clock.as_utc(), allow_private_endpoints=True)
    received = push_service.wait_for(1)
    assert [r.payload["title"] for r in received] == ["kept"]
    wait_until(lambda: funnel_of(again, kept["id"])["status"] == "sent", timeout=10, what="the kept send")
    assert funnel_of(again, cancelled["id"])["funnel"] is None  # never expanded: no delivery exists


def test_a_trigger_turns_a_log_event_into_its_users_notification_once_per_key(
    hub: ThreadHub, push_service: PushService
) -> None:
    shipped = {"locales": {"en": {"title": "Order {{ data.order }} shipped", "body": "Hi {{ user.id }}"}}}
    with hub.client(hub.admin_key) as http:
        assert http.put("/v1/templates/order_shipped", json=shipped).status_code == 201
        trigger = {
            "channel": "orders",
            "title": "Order shipped",
            "template": "order_shipped",
            "once_key": "order",
        }
        made = http.put("/v1/triggers/shipped", json=trigger)
        assert made.status_code == 201, made.text
        assert http.put("/v1/triggers/x", json={"template": "nope"}).status_code == 422
    app_user_device(hub, push_service, "u7")
    event = {"channel": "orders", "title": "Order shipped", "level": "info"}
    publish(hub, {**event, "metadata": {"user_id": "u7", "order": "A-1"}})
    publish(hub, {**event, "metadata": {"user_id": "u7", "order": "A-1"}})  # the same key: nothing more
    publish(hub, {**event, "title": "Order packed", "metadata": {"user_id": "u7", "order": "A-3"}})
    publish(hub, {**event, "metadata": {"user_id": "u7", "order": "A-2"}})
    received = push_service.wait_for(2)
    assert sorted(r.payload["title"] for r in received) == ["Order A-1 shipped", "Order A-2 shipped"]
    assert {r.payload["body"] for r in received} == {"Hi u7"}
    with hub.client(hub.admin_key) as http:
        listed = http.get("/v1/notifications").json()["notifications"]
    assert [(n["trigger"], n["audience"]) for n in listed] == [("shipped", {"users": ["u7"]})] * 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"audience": {"users": ["u"]}}, "body: give a template or a title"),
        (
            {"audience": {}, "title": "x"},
            "audience.filter: an audience needs users, segment, filter or topic",
        ),
        ({"audience": {"filter": "plan ="}, "title": "x"}, "audience.filter: column 7: expected a value"),
        ({"audience": {"segment": "none"}, "title": "x"}, "audience.segment: no segment named 'none'"),
        ({"audience": {"users": ["u"]}, "template": "none"}, "template: no template named 'none'"),
        (
            {
                "audience": {"users": ["u"]},
                "title": "x",
                "schedule": {"delay": "2h", "at": "2030-01-01T00:00:00Z"},
            },
            "schedule: give one of at, delay and local_time, not at and delay",
        ),
        (
            {"audience": {"users": ["u"]}, "title": "x", "schedule": {"local_time": "09:00"}},
            "schedule.date: required",
        ),
        (
            {
                "audience": {"users": ["u"]},
                "title": "x",
                "schedule": {"local_time": "25:00", "date": "2027-01-01"},
            },
            "schedule: not a date and time",
        ),
        (
            {
                "audience": {"users": ["u"]},
                "title": "x",
                "schedule": {"local_time": "09:00", "date": "0001-01-01"},
            },
            "schedule",
        ),
        (
            {
                "audience": {"users": ["u"]},
                "title": "x",
                "schedule": {"local_time": "09:00", "date": "2027-01-01", "timezone": "Mars/Base"},
            },
            "schedule.timezone: unknown IANA time zone",
        ),
        ({"audience": {"users": ["u"]}, "title": "x", "link": "javascript://%0aalert(1)"}, "link"),
        ({"audience": {"users": ["u"]}, "title": "x", "link": "DATA://text/html,x"}, "link"),
    ],
)
def test_bad_notifications_are_refused_with_the_reason(
    hub: ThreadHub, body: dict[str, Any], message: str
) -> None:
    with hub.client(hub.admin_key) as http:
        answer = http.post("/v1/notifications", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"].startswith(message)


def test_an_app_deep_link_is_what_a_tap_opens(hub: ThreadHub, push_service: PushService) -> None:
    app_user_device(hub, push_service, "dora")
    with hub.client(hub.admin_key) as http:
        sent = http.post(
            "/v1/notifications",
            json={"audience": {"users": ["dora"]}, "title": "Shipped", "link": "myshop://orders/42"},
        )
        assert sent.status_code == 201, sent.text
    (push,) = push_service.wait_for(1)
    assert push.payload["link"] == "myshop://orders/42"


#: Users of the large send; seeded through the store in chunks (one transaction each, so the running
#: hub's own writers are never locked out for long).
MANY_USERS = 10_000
SEED_CHUNK = 1_000


def seed_app_users(hub: ThreadHub, push: PushService, count: int) -> dict[str, tuple[Any, str, str]]:
    """``count`` app users with a name and (every third one) German, each with one phone subscribed on
    the stand-in, written with the store's bulk inserts (devices sealed by the hub's vault, as
    ``POST /v1/devices`` does). Returns the text each phone must show, by stand-in subscription id:
    (phone, title, body)."""
    state = hub.app.state.hub
    vault = open_vault(state.config.data_dir, state.config.device_token_key)
    now = _dt.datetime.now(_dt.UTC)
    expected: dict[str, tuple[Any, str, str]] = {}
    for first in range(0, count, SEED_CHUNK):
        numbers = range(first, min(first + SEED_CHUNK, count))
        phones = {n: push.subscribe() for n in numbers}
        profiles = {
            f"u{n}": UserProfile(locale="de" if n % 3 == 0 else None, custom={"name": f"Name{n}"})
            for n in numbers
        }
        registrations = [
            WebPushRegistration(
                name=None,
                endpoint=phone.endpoint,
                p256dh=phone.p256dh,
                auth=phone.auth,
                min_level=Level.DEBUG,
                channels=None,
                profile=DeviceProfile(user_id=f"u{n}"),
            )
            for n, phone in phones.items()
        ]
        with state.engine.begin() as conn:
            add_users(conn, profiles, now=now)
            add_webpush_devices(conn, registrations, vault=vault, now=now)
        for n, phone in phones.items():
            title, body = (
                (f"Hallo Name{n}", f"Bestellung A-{n} ist unterwegs")
                if n % 3 == 0
                else (f"Hi Name{n}", f"Order A-{n} shipped")
            )
            expected[_sub(phone)] = (phone, title, body)
    return expected


@pytest.mark.timeout(600)
def test_ten_thousand_users_each_get_their_own_text(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    """One send to 10,000 users, expanded by the hub, every push encrypted for its own phone and
    decrypted by the stand-in: each shows its own user's name in their language (and the send's data
    rendered per user through the template's filters)."""
    hub = hub_factory(
        allow_private_endpoints=True, rate_limit_per_second=1_000_000, rate_limit_burst=1_000_000
    )
    expected = seed_app_users(hub, push_service, MANY_USERS)
    per_user = {
        "default_locale": "en",
        "locales": {
            "en": {"title": "Hi {{ user.custom.name }}", "body": "Order A-{{ user.id[1:] }} shipped"},
            "de": {
                "title": "Hallo {{ user.custom.name }}",
                "body": "Bestellung A-{{ user.id[1:] }} ist unterwegs",
            },
        },
    }
    with hub.client(hub.admin_key) as http:
        assert http.put("/v1/templates/many", json=per_user).status_code == 201
        sent = http.post("/v1/notifications", json={"audience": {"filter": "id exists"}, "template": "many"})
    assert sent.status_code == 201, sent.text
    received = push_service.wait_for(MANY_USERS, timeout=540)
    assert len(received) == MANY_USERS and all(r.status == 201 for r in received)
    shown = {r.subscription_id: (r.payload["title"], r.payload["body"]) for r in received}
    assert shown == {sub: (title, body) for sub, (_, title, body) in expected.items()}
    wait_until(
        lambda: funnel_of(hub, sent.json()["id"])["status"] == "sent", timeout=60, what="the send to finish"
    )
    funnel = funnel_of(hub, sent.json()["id"])["funnel"]
    assert (funnel["targeted"], funnel["sent"], funnel["failed"]) == (MANY_USERS, MANY_USERS, 0)


def _sub(phone: Any) -> str:
    """The stand-in's subscription id of a phone."""
    return str(phone.endpoint).rsplit("/", 1)[1]


def test_quiet_hours_hold_an_opt_out_skips_and_the_funnel_says_why(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    clock = FakeClock(NIGHT)
    hub = hub_factory(clock=clock.as_utc(), allow_private_endpoints=True)
    with hub.client(hub.admin_key) as http:
        for user in ("sleeper", "optout", "plain"):
            assert http.put(f"/v1/users/{user}", json={}).status_code in (200, 201)
        assert http.put("/v1/users/sleeper/preferences", json=QUIET).status_code == 200
        chosen = http.put("/v1/users/optout/preferences", json={"categories": {"offers": "off"}})
        assert chosen.status_code == 200, chosen.text
    sleeper = app_user_device(hub, push_service, "sleeper")
    app_user_device(hub, push_service, "optout")
    plain = app_user_device(hub, push_service, "plain")
    with hub.client(hub.admin_key) as http:
        sent = http.post(
            "/v1/notifications",
            json={"audience": {"filter": "id exists"}, "title": "Sale", "category": "offers"},
        )
    assert sent.status_code == 201, sent.text
    notification_id = sent.json()["id"]
    night = push_service.wait_for(1)
    assert [r.subscription_id for r in night] == [_sub(plain)]
    wait_until(
        lambda: funnel_of(hub, notification_id)["funnel"]["sent"] == 1, timeout=10, what="the night's send"
    )
    shown = funnel_of(hub, notification_id)
    assert shown["status"] == "sending"  # one is still held
    funnel = shown["funnel"]
    assert (funnel["deliveries"], funnel["held"], funnel["queued"]) == (3, 1, 0)
    assert funnel["held_reasons"] == {"quiet_hours": 1}
    assert funnel["skipped_reasons"] == {"category_off": 1}

    clock.set(MORNING)
    task = hub.app.state.attention
    task.request_pass()
    morning = push_service.wait_for(2)
    assert morning[1].subscription_id == _sub(sleeper) and morning[1].payload["title"] == "Sale"
    wait_until(lambda: funnel_of(hub, notification_id)["status"] == "sent", timeout=10, what="the release")
    funnel = funnel_of(hub, notification_id)["funnel"]
    assert (funnel["sent"], funnel["held"], funnel["held_reasons"]) == (2, 0, {})
    assert funnel["skipped_reasons"] == {"category_off": 1}
    assert len(push_service.wait_for(2)) == 2  # the opted-out user never got it


def test_the_list_pages_through_every_notification_even_when_one_is_deleted_meanwhile(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as http:
        later = {"audience": {"users": ["u1"]}, "schedule": {"delay": "1h"}}
        made = [
            http.post("/v1/notifications", json={**later, "title": f"n{i}"}).json()["id"] for i in range(5)
        ]
        first = http.get("/v1/notifications", params={"limit": 2}).json()
        assert [n["title"] for n in first["notifications"]] == ["n4", "n3"]
        # Retention (or anyone) removes the row the cursor was taken at: the next page still follows it.
        engine = sa.create_engine(f"sqlite:///{hub.data_dir / 'pushlog.db'}")
        with engine.begin() as conn:
            conn.execute(sa.delete(notifications).where(notifications.c.id == made[3]))
        engine.dispose()
        seen = [n["title"] for n in first["notifications"]]
        cursor = first["next_cursor"]
        while cursor:
            page = http.get("/v1/notifications", params={"limit": 2, "cursor": cursor}).json()
            seen += [n["title"] for n in page["notifications"]]
            cursor = page["next_cursor"]
        assert seen == ["n4", "n3", "n2", "n1", "n0"]
        for bad in ["%%%", "bm90IG91cnM", made[0], "c3Mx"]:  # garbage, "not ours", a bare id, an event cursor
            answer = http.get("/v1/notifications", params={"cursor": bad})
            assert answer.status_code == 400, (bad, answer.text)
            assert answer.json()["error"] == {
                "code": "invalid_query",
                "message": "query parameter cursor: not a cursor this hub gave",
            }
