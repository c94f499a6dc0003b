"""A notification to app users through a real hub and the attention gate: the user in quiet hours
gets it when they end (an injected clock moves the night on), the user who opted out of its category
never does, the user who chose nothing at once; the funnel says which and why."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.hub.notifications.test_notifications_through_api import app_user_device, funnel_of
from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.push_service import PushService

#: 23:30 in Berlin; the quiet night (22:00-07:00) ends at 06:00 UTC.
NIGHT = _dt.datetime(2026, 1, 14, 22, 30, tzinfo=_dt.UTC)
MORNING = _dt.datetime(2026, 1, 15, 6, 0, tzinfo=_dt.UTC)
QUIET = {"timezone": "Europe/Berlin", "quiet_hours": [{"start": "22:00", "end": "07:00"}]}


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as svc:
        yield svc


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
