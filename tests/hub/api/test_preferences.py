"""Preferences over the API on a real hub: a device's and a user's document, categories, the signed
preference link (valid, expired, tampered), and pushes held through a restart of the hub (released
once, as one summary, when quiet hours end)."""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from tests.hub.delivery.outbox_support import FakeSender
from tests.support.clock import FakeClock
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, wait_until

from pushlog.hub.store._tables import deliveries

#: 23:30 in Berlin; the quiet night (22:00-07:00) ends at 06:00 UTC.
NIGHT = _dt.datetime(2026, 1, 14, 22, 30, tzinfo=_dt.UTC)
MORNING = _dt.datetime(2026, 1, 15, 6, 0, tzinfo=_dt.UTC)
QUIET = {"timezone": "Europe/Berlin", "quiet_hours": [{"start": "22:00", "end": "07:00"}]}


def _register(hub: ThreadHub, n: int = 1) -> str:
    with hub.client(hub.read_key) as client:
        answer = client.post(
            "/v1/devices",
            json={"kind": "webpush", "subscription": subscription(f"http://127.0.0.1:9/push/{n}")},
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _publish(hub: ThreadHub, *events: dict[str, Any]) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": list(events)})
    assert answer.status_code == 202, answer.text


def test_a_devices_preferences_round_trip_with_its_level_and_channels(hub: ThreadHub) -> None:
    device = _register(hub)
    with hub.client(hub.read_key) as client:
        fresh = client.get(f"/v1/devices/{device}/preferences").json()
        assert fresh["custom"] is False
        assert fresh["preferences"]["min_level"] == "warning"
        assert fresh["preferences"]["critical_bypass"] is True
        chosen = {**QUIET, "min_level": "error", "channels": ["ops"], "caps": [{"max": 5, "per": "hour"}]}
        put = client.put(f"/v1/devices/{device}/preferences", json=chosen)
        assert put.status_code == 200, put.text
        got = client.get(f"/v1/devices/{device}/preferences").json()
        listed = client.get("/v1/devices").json()["devices"][0]
    assert got["custom"] is True
    assert got["preferences"]["quiet_hours"] == [
        {"start": "22:00", "end": "07:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
    ]
    assert got["preferences"]["caps"] == [{"max": 5, "per": "hour", "category": None}]
    assert listed["preferences"] == {"min_level": "error", "channels": ["ops"]}  # the device row changed too


def test_bad_preferences_are_422_naming_the_field(hub: ThreadHub) -> None:
    device = _register(hub)
    with hub.client(hub.read_key) as client:
        zone = client.put(f"/v1/devices/{device}/preferences", json={"timezone": "Mars/Olympus"})
        clock = client.put(
            f"/v1/devices/{device}/preferences", json={"quiet_hours": [{"start": "25:00", "end": "07:00"}]}
        )
        unknown = client.put("/v1/devices/dev_nope/preferences", json={})
    assert zone.status_code == 422 and "timezone" in zone.json()["error"]["message"]
    assert clock.status_code == 422 and "quiet_hours[0].start" in clock.json()["error"]["message"]
    assert unknown.status_code == 404


def test_user_preferences_and_categories_need_the_app_backends_key(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as reader:
        assert reader.put("/v1/users/42/preferences", json=QUIET).status_code == 403
    with hub.client(hub.admin_key) as admin:
        assert (
            admin.put("/v1/categories/promo", json={"default": "off", "description": "Offers"}).status_code
            == 200
        )
        put = admin.put("/v1/users/42/preferences", json={**QUIET, "categories": {"promo": "digest"}})
        assert put.status_code == 200, put.text
        got = admin.get("/v1/users/42/preferences").json()
        categories = admin.get("/v1/categories").json()
    assert got["subject"] == "user" and got["custom"] is True
    assert got["preferences"]["categories"] == {"promo": "digest"}
    assert categories == {"categories": {"promo": {"default": "off", "description": "Offers"}}}


def test_the_signed_preference_link_valid_expired_and_tampered(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = FakeClock(NIGHT)
    hub = hub_factory(clock=clock.as_utc())
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/users/u-7/preferences/link", json={"expires_in_s": 3600})
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"].startswith(f"{hub.base_url}/preferences.html#token=")
    token = link["token"]
    with hub.client() as page:  # no key: the link is the credential
        valid = page.get("/v1/link/preferences", headers={"X-Pushlog-Link": token})
        changed = page.put("/v1/link/preferences", headers={"X-Pushlog-Link": token}, json=QUIET)
        payload, _, signature = token.partition(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        tampered = page.get("/v1/link/preferences", headers={"X-Pushlog-Link": f"{payload}.{flipped}"})
        missing = page.get("/v1/link/preferences")
        clock.advance(3600)
        expired = page.get("/v1/link/preferences", headers={"X-Pushlog-Link": token})
    assert valid.status_code == 200, valid.text
    assert valid.json()["user"] == {
        "subject": "user",
        "id": "u-7",
        "custom": False,
        "preferences": valid.json()["user"]["preferences"],
    }
    assert changed.status_code == 200 and changed.json()["preferences"]["timezone"] == "Europe/Berlin"
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (401, "invalid_link")
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "invalid_link")
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, "link_expired")
    with hub.client(hub.admin_key) as admin:  # what the page changed is the user's document
        assert admin.get("/v1/users/u-7/preferences").json()["preferences"]["timezone"] == "Europe/Berlin"


def _statuses(hub: ThreadHub) -> list[tuple[str, str | None]]:
    with hub.app.state.hub.require_engine().connect() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.status, deliveries.c.reason).order_by(deliveries.c.event_seq)
        )
        return [(r.status, r.reason) for r in rows]


def test_pushes_held_overnight_survive_a_restart_and_go_out_once_as_a_summary(
    hub_factory: Callable[..., ThreadHub], tmp_path: Any
) -> None:
    data_dir = tmp_path / "hub"
    clock = FakeClock(NIGHT)
    night_sender = FakeSender()
    hub = hub_factory(
        data_dir=data_dir,
        clock=clock.as_utc(),
        senders={"webpush": night_sender},
        allow_private_endpoints=True,
    )
    device = _register(hub)
    with hub.client(hub.read_key) as client:
        assert client.put(f"/v1/devices/{device}/preferences", json=QUIET).status_code == 200
    _publish(
        hub,
        {"title": "disk 91%", "level": "warning", "channel": "ops"},
        {"title": "disk 92%", "level": "warning", "channel": "ops"},
        {"title": "card declined", "level": "error", "channel": "billing"},
        {"title": "db down", "level": "critical", "channel": "ops"},
    )
    wait_until(lambda: night_sender.sent, timeout=10, what="the CRITICAL push")
    assert [m.payload["title"] for _, m in night_sender.sent] == ["db down"]  # bypasses quiet hours
    # The push leaves before its row is recorded as sent: wait for the record, then stop the hub.
    wait_until(
        lambda: Counter(_statuses(hub)) == {("held", "quiet_hours"): 3, ("sent", None): 1},
        timeout=10,
        what="three held rows and the CRITICAL recorded as sent",
    )
    hub.stop()

    clock.set(MORNING)
    morning_sender = FakeSender()
    again = hub_factory(
        data_dir=data_dir,
        clock=clock.as_utc(),
        senders={"webpush": morning_sender},
        allow_private_endpoints=True,
    )
    wait_until(lambda: morning_sender.sent, timeout=10, what="the morning summary")
    summary = morning_sender.sent[0][1].payload
    assert summary["title"] == "3 notifications during quiet hours"
    assert summary["count"] == 3
    assert "#ops 2" in summary["body"] and "#billing 1" in summary["body"]
    assert summary["url"].startswith(f"{again.base_url}/#/?since=")
    task = again.app.state.attention
    passes = task.passes
    again.app.state.attention.request_pass()
    wait_until(lambda: task.passes > passes, timeout=10, what="another release pass")
    assert len(morning_sender.sent) == 1  # nothing doubled
    assert Counter(_statuses(again)) == {
        ("sent", "quiet_hours"): 1,
        ("skipped", "summarized"): 2,
        ("sent", None): 1,
    }
