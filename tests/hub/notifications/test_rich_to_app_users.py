"""A rich notification to one app user through a real hub: their Web Push, FCM and APNs devices,
registered with a ``users`` key, each get the notification's image, actions, link, data and category in
their transport's own fields (docs/hub.md, "Rich notifications"). The stand-ins decrypt the Web Push,
verify each native transport's auth and refuse rich parts of the wrong shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.apns_service import ApnsService
from tests.support.fcm_service import FcmService
from tests.support.hub_server import ThreadHub
from tests.support.push_service import PushService

IMAGE = "https://cdn.example.com/orders/A-1.png"
LINK = "https://shop.example.com/orders/A-1"
ACTIONS = [
    {"action": "track", "title": "Track", "url": "https://shop.example.com/track/A-1"},
    {"action": "later", "title": "Remind me later"},
]
DATA = {"order": "A-1", "items": 3}
CATEGORY = "orders.shipped"


@pytest.fixture
def hub(native: dict[str, Any], hub_factory: Callable[..., ThreadHub]) -> ThreadHub:
    return hub_factory(allow_private_endpoints=True, **native)


def users_key(hub: ThreadHub) -> str:
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "app backend", "scope": "users"})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def test_an_app_users_three_kinds_of_device_get_image_actions_and_link(
    hub: ThreadHub, push_service: PushService, fcm: FcmService, apns: ApnsService
) -> None:
    browser, android, iphone = push_service.subscribe(), fcm.register(), apns.register()
    with hub.client(users_key(hub)) as app:
        for device in (
            {"kind": "webpush", "subscription": browser.subscription()},
            {"kind": "fcm", "token": android, "platform": "android"},
            {"kind": "apns", "token": iphone, "platform": "ios"},
        ):
            made = app.post("/v1/devices", json={**device, "user_id": "u-7"})
            assert made.status_code == 201, made.text
        sent = app.post(
            "/v1/notifications",
            json={
                "audience": {"users": ["u-7"]},
                "title": "Your order shipped",
                "body": "A-1 is on its way",
                "image": IMAGE,
                "actions": ACTIONS,
                "link": LINK,
                "data": DATA,
                "category": CATEGORY,
            },
        )
    assert sent.status_code == 201, sent.text
    notification_id = sent.json()["id"]

    [web] = push_service.wait_for(1, status=201)
    assert web.payload["notification_id"] == notification_id and "event_id" not in web.payload
    assert (web.payload["title"], web.payload["body"]) == ("Your order shipped", "A-1 is on its way")
    assert (web.payload["image"], web.payload["link"], web.payload["actions"]) == (IMAGE, LINK, ACTIONS)
    assert (web.payload["data"], web.payload["category"]) == (DATA, CATEGORY)

    [fcm_push] = fcm.wait_for(1)
    message = fcm_push.message
    assert fcm_push.token == android
    assert message["notification"] == {
        "title": "Your order shipped",
        "body": "A-1 is on its way",
        "image": IMAGE,
    }
    assert message["android"]["notification"] == {"click_action": CATEGORY}
    assert message["apns"] == {"payload": {"aps": {"mutable-content": 1, "category": CATEGORY}}}
    data = fcm_push.data
    assert data["notification_id"] == notification_id and data["link"] == LINK
    assert json.loads(data["actions"]) == ACTIONS and json.loads(data["data"]) == DATA
    assert "image" not in data and "title" not in data  # once, in notification

    [apns_push] = apns.wait_for(1)
    assert apns_push.token == iphone
    assert apns_push.aps["alert"] == {"title": "Your order shipped", "body": "A-1 is on its way"}
    assert apns_push.aps["mutable-content"] == 1 and apns_push.aps["category"] == CATEGORY
    custom = apns_push.payload
    assert custom["notification_id"] == notification_id
    assert (custom["image"], custom["link"], custom["actions"]) == (IMAGE, LINK, ACTIONS)
    assert custom["data"] == DATA and "title" not in custom  # once, in aps.alert

    # what a tap opens is the notification's link on every transport
    assert web.payload["url"] == data["url"] == custom["url"] == LINK
