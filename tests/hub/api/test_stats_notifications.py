"""``GET /v1/stats`` per notification and per template, through a real hub on SQLite and on PostgreSQL:
the funnels it shows are the ones ``GET /v1/notifications/{id}`` shows (one counting), a template's
funnel sums its notifications', the period filter applies, and the event counts read through the
hourly rollups match what was published across several hours."""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.postgres import new_database
from tests.support.push_service import PushService

TEMPLATE = {"default_locale": "en", "locales": {"en": {"title": "Order {{ data.order }}", "body": "shipped"}}}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_hub(request: pytest.FixtureRequest, hub_factory: Callable[..., ThreadHub]) -> ThreadHub:
    if request.param == "sqlite":
        return hub_factory(allow_private_endpoints=True)
    return hub_factory(allow_private_endpoints=True, db_url=new_database(request.getfixturevalue("pg_url")))


def _get(hub: ThreadHub, path: str, **params: str) -> Any:
    with hub.client(hub.admin_key) as http:
        answer = http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _send(hub: ThreadHub, body: dict[str, Any]) -> str:
    with hub.client(hub.admin_key) as http:
        made = http.post("/v1/notifications", json=body)
    assert made.status_code == 201, made.text
    notification_id: str = made.json()["id"]
    wait_until(
        lambda: _get(hub, f"/v1/notifications/{notification_id}")["status"] == "sent",
        timeout=15,
        what="the send to finish",
    )
    return notification_id


def test_funnels_per_notification_and_per_template(db_hub: ThreadHub, push_service: PushService) -> None:
    hub = db_hub
    with hub.client(hub.admin_key) as http:
        assert http.put("/v1/templates/shipped", json=TEMPLATE).status_code == 201
        for user in ("anna", "bob", "cleo"):
            assert http.put(f"/v1/users/{user}", json={"plan": "pro"}).status_code in (200, 201)
        for user in ("anna", "bob"):  # cleo has no device: skipped as no_device
            phone = push_service.subscribe()
            body = {"kind": "webpush", "subscription": phone.subscription(), "user_id": user}
            assert http.post("/v1/devices", json=body).status_code == 201
    first = _send(
        hub, {"audience": {"users": ["anna", "bob", "cleo"]}, "template": "shipped", "data": {"order": 1}}
    )
    second = _send(hub, {"audience": {"users": ["anna"]}, "template": "shipped", "data": {"order": 2}})
    ad_hoc = _send(hub, {"audience": {"users": ["bob"]}, "title": "hello"})
    received = push_service.wait_for(4)
    opened = next(r.payload for r in received if r.payload["notification_id"] == first)
    with hub.client() as phone:
        answer = phone.post(
            f"/v1/deliveries/{opened['delivery_id']}/receipt",
            json={"token": opened["receipt"], "status": "opened"},
        )
        assert answer.status_code == 200, answer.text

    shown = _get(hub, "/v1/stats", since="1h")["notifications"]
    own = {n: _get(hub, f"/v1/notifications/{n}")["funnel"] for n in (first, second, ad_hoc)}
    assert shown["total"] == 3
    assert [item["id"] for item in shown["items"]] == [ad_hoc, second, first]  # newest first
    for item in shown["items"]:
        assert item["funnel"] == own[item["id"]] and item["status"] == "sent"
    assert own[first]["opened"] == 1 and own[first]["skipped"] == {"no_device": 1}
    templates = {row["template"]: row for row in shown["by_template"]}
    assert set(templates) == {"shipped", None}
    shipped = templates["shipped"]
    assert shipped["notifications"] == 2
    assert shipped["funnel"]["targeted"] == 4 and shipped["funnel"]["sent"] == 3
    assert shipped["funnel"]["opened"] == 1 and shipped["funnel"]["skipped"] == {"no_device": 1}
    assert shipped["funnel"]["by_transport"]["webpush"]["sent"] == 3
    assert templates[None]["funnel"] == own[ad_hoc]

    before = (_dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=2)).isoformat()
    earlier = _get(hub, "/v1/stats", since="3h", until=before)["notifications"]
    assert earlier == {"total": 0, "items": [], "by_template": []}


def test_event_counts_over_several_hours_on_each_database(db_hub: ThreadHub) -> None:
    hub = db_hub
    now = _dt.datetime.now(_dt.UTC)
    stamps = [now - _dt.timedelta(hours=h, minutes=7) for h in (0, 1, 1, 5, 30)]
    levels = ["info", "warning", "info", "error", "info"]
    events = [
        {
            "id": str(uuid.uuid4()),
            "ts": ts.isoformat(),
            "level": level,
            "title": "t",
            "channel": "api",
            "fingerprint": "fp",
            "count": 2,
        }
        for ts, level in zip(stamps, levels, strict=True)
    ]
    with hub.client(hub.publish_key) as http:
        assert http.post("/v1/events", json={"events": events}).status_code == 202
    day = _get(hub, "/v1/stats", since="24h")
    assert (day["events"]["total"], day["events"]["occurrences"]) == (4, 8)
    assert day["events"]["by_level"] == {"debug": 0, "info": 2, "warning": 1, "error": 1, "critical": 0}
    assert day["channels"]["by_channel"] == {"api": 4}
    assert [(f["fingerprint"], f["lines"], f["occurrences"]) for f in day["noisiest"]] == [("fp", 4, 8)]
    week = _get(hub, "/v1/stats", since="7d", bucket="day")
    assert (
        week["events"]["total"] == 5
        and sum(sum(b["channels"].values()) for b in week["channels"]["buckets"]) == 5
    )
