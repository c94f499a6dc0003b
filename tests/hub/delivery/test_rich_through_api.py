"""Rich notifications through the whole hub: an event's image, own actions and link reach a Web Push, an
FCM and an APNs device, each in its transport's fields (the FCM and APNs stand-ins refuse a message whose
rich parts have the wrong shape), and an oversize event is cut per transport keeping title and link."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.apns_service import ApnsService
from tests.support.fcm_service import FcmService
from tests.support.hub_server import ThreadHub, publish
from tests.support.push_service import PushService

from pushlog._event import TRUNCATION_MARKER

IMAGE = "https://cdn.example.com/graphs/disk.png"
LINK = "https://grafana.example.com/d/disk"
OWN = [{"action": "runbook", "title": "Runbook", "url": "https://wiki.example.com/disk"}]


@pytest.fixture
def hub(native: dict[str, Any], hub_factory: Callable[..., ThreadHub]) -> ThreadHub:
    return hub_factory(allow_private_endpoints=True, **native)


@pytest.fixture
def devices(hub: ThreadHub, push_service: PushService, fcm: FcmService, apns: ApnsService) -> None:
    bodies = [
        {"kind": "webpush", "subscription": push_service.subscribe().subscription()},
        {"kind": "fcm", "token": fcm.register()},
        {"kind": "apns", "token": apns.register()},
    ]
    with hub.client(hub.read_key) as client:
        for body in bodies:
            answer = client.post("/v1/devices", json=body)
            assert answer.status_code == 201, answer.text


@pytest.mark.usefixtures("devices")
def test_image_actions_and_link_reach_every_transport_in_its_own_fields(
    hub: ThreadHub, push_service: PushService, fcm: FcmService, apns: ApnsService
) -> None:
    event_id = "e-rich-1"
    publish(
        hub,
        {"id": event_id, "level": "error", "title": "Disk almost full", "body": "92% on /var"}
        | {"image": IMAGE, "link": LINK, "actions": OWN},
    )
    buttons = [
        {"action": "runbook", "title": "Runbook", "url": "https://wiki.example.com/disk"},
        {"action": "open", "title": "Open"},
        {"action": "ack", "title": "Acknowledge"},
    ]

    [web] = push_service.wait_for(1, status=201)
    assert web.payload["event_id"] == event_id
    assert (web.payload["image"], web.payload["link"], web.payload["actions"]) == (IMAGE, LINK, buttons)
    assert web.payload["category"] == "pushlog.event"

    [android] = fcm.wait_for(1)
    message = android.message
    assert message["notification"] == {"title": "Disk almost full", "body": "92% on /var", "image": IMAGE}
    assert message["android"]["notification"] == {"click_action": "pushlog.event"}
    assert message["android"]["priority"] == "HIGH"
    assert message["apns"] == {"payload": {"aps": {"mutable-content": 1, "category": "pushlog.event"}}}
    assert android.data["link"] == LINK and json.loads(android.data["actions"]) == buttons
    assert android.data["event_id"] == event_id and "image" not in android.data  # once, in notification

    [iphone] = apns.wait_for(1)
    assert iphone.aps["alert"] == {"title": "Disk almost full", "body": "92% on /var"}
    assert iphone.aps["mutable-content"] == 1 and iphone.aps["category"] == "pushlog.event"
    assert iphone.aps["interruption-level"] == "time-sensitive"
    assert (iphone.payload["image"], iphone.payload["link"], iphone.payload["actions"]) == (
        IMAGE,
        LINK,
        buttons,
    )

    # the three carry the same receipt-bearing references back to the hub
    assert web.payload["url"] == android.data["url"] == iphone.payload["url"]


@pytest.mark.usefixtures("devices")
def test_an_oversize_event_is_cut_per_transport_keeping_title_link_and_actions(
    hub: ThreadHub, push_service: PushService, fcm: FcmService, apns: ApnsService
) -> None:
    body = "disk usage by directory: " + "/var/log/app 12G; " * 450  # ~8 KB, the wire's limit
    publish(
        hub,
        {"level": "critical", "title": "Disk full", "body": body[:8192], "image": IMAGE, "link": LINK}
        | {"actions": OWN},
    )
    [web] = push_service.wait_for(1, status=201)
    [android] = fcm.wait_for(1)
    [iphone] = apns.wait_for(1)
    cut = {
        "webpush": (web.payload["title"], web.payload["body"], web.payload["link"], web.payload["actions"]),
        "fcm": (
            android.message["notification"]["title"],
            android.message["notification"]["body"],
            android.data["link"],
            json.loads(android.data["actions"]),
        ),
        "apns": (
            iphone.aps["alert"]["title"],
            iphone.aps["alert"]["body"],
            iphone.payload["link"],
            iphone.payload["actions"],
        ),
    }
    for transport, (title, text, link, actions) in cut.items():
        assert title == "Disk full" and link == LINK, transport
        assert [a["action"] for a in actions] == ["ack", "runbook", "open"], transport  # CRITICAL: ack first
        assert text.startswith("disk usage by directory: ") and text.endswith(TRUNCATION_MARKER), transport
    assert len(web.body) <= 4096 and iphone.size <= 4096
    assert len(json.dumps(android.message, separators=(",", ":")).encode()) <= 4096
    assert web.payload["truncated"] is True and iphone.payload["truncated"] is True
    assert android.data["truncated"] == "true"
