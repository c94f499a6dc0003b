"""The whole hub under uvicorn with all three transports: one WARNING reaches a Web Push, an FCM and an
APNs team device in one run, each stand-in having verified its auth (VAPID; the service-account
assertion and bearer; the ES256 provider token over HTTP/2) and the payload. Dead native tokens are
removed by the transports' answers, and tokens are stored only encrypted."""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.apns_service import ApnsService
from tests.support.clock import utc_clock
from tests.support.fcm_service import FcmService
from tests.support.hub_server import ThreadHub, publish, wait_until
from tests.support.push_service import PushService


@pytest.fixture
def hub(native: dict[str, Any], hub_factory: Callable[..., ThreadHub]) -> ThreadHub:
    return hub_factory(allow_private_endpoints=True, **native)


def register(hub: ThreadHub, body: dict[str, Any]) -> dict[str, Any]:
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json=body)
    assert answer.status_code == 201, answer.text
    device: dict[str, Any] = answer.json()
    return device


def device_ids(hub: ThreadHub) -> set[str]:
    with hub.client(hub.read_key) as client:
        return {d["id"] for d in client.get("/v1/devices").json()["devices"]}


def test_a_warning_reaches_web_push_fcm_and_apns_devices(
    hub: ThreadHub, push_service: PushService, fcm: FcmService, apns: ApnsService, tmp_path: Path
) -> None:
    browser = push_service.subscribe()
    android, iphone = fcm.register(), apns.register()
    register(hub, {"kind": "webpush", "subscription": browser.subscription()})
    fcm_device = register(hub, {"kind": "fcm", "token": android, "name": "pixel"})
    apns_device = register(hub, {"kind": "apns", "token": iphone, "name": "iphone"})
    assert fcm_device["kind"] == "fcm" and apns_device["kind"] == "apns"
    assert "token" not in fcm_device and fcm_device["endpoint"] is None

    publish(
        hub, {"level": "warning", "title": "Disk almost full", "body": "92% on /var", "fingerprint": "disk"}
    )

    [web] = push_service.wait_for(1, status=201)
    assert web.payload["title"] == "Disk almost full"
    [sent_fcm] = fcm.wait_for(1)
    assert sent_fcm.token == android and len(fcm.exchanges) == 1  # assertion verified, bearer checked
    assert sent_fcm.message["notification"]["title"] == "Disk almost full"
    assert sent_fcm.message["android"]["priority"] == "NORMAL"
    assert sent_fcm.message["android"]["collapse_key"] == "disk"
    [sent_apns] = apns.wait_for(1)
    assert sent_apns.token == iphone and sent_apns.http_version == "2" and len(apns.provider_tokens) == 1
    assert sent_apns.aps["alert"]["title"] == "Disk almost full"
    assert sent_apns.aps["interruption-level"] == "active" and sent_apns.headers["apns-collapse-id"] == "disk"
    # all three share the pushlog payload: the receipt token and the link to the event in the feed
    assert web.payload["url"] == sent_fcm.data["url"] == sent_apns.payload["url"]

    # tokens at rest: only ciphertext and a keyed hash; the key file is private to the hub's user
    database = sqlite3.connect(tmp_path / "hub0" / "pushlog.db")
    try:
        rows = database.execute("SELECT * FROM devices WHERE kind IN ('fcm', 'apns')").fetchall()
    finally:
        database.close()
    dump = repr(rows)
    assert len(rows) == 2 and android not in dump and iphone not in dump
    key_file = tmp_path / "hub0" / "device-token.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_dead_native_tokens_remove_their_devices(hub: ThreadHub, fcm: FcmService, apns: ApnsService) -> None:
    android, iphone = fcm.register(), apns.register()
    fcm_device = register(hub, {"kind": "fcm", "token": android})
    apns_device = register(hub, {"kind": "apns", "token": iphone})
    fcm.unregister(android)
    apns.unregister(iphone, at=time.time())  # the app was removed after it registered: the 410 stands

    publish(hub, {"level": "error", "title": "Queue stuck"})

    wait_until(
        lambda: not device_ids(hub) & {fcm_device["id"], apns_device["id"]} or None,
        timeout=20,
        what="both devices removed after UNREGISTERED and 410 Unregistered",
    )
    assert (404, "UNREGISTERED") in [
        (s, json.loads(b)["error"]["details"][0]["errorCode"]) for s, b in fcm.refused
    ]
    assert (410, "Unregistered") in apns.refused


def test_registering_the_same_token_again_refreshes_the_device(hub: ThreadHub, fcm: FcmService) -> None:
    token = fcm.register()
    first = register(hub, {"kind": "fcm", "token": token, "preferences": {"min_level": "error"}})
    with hub.client(hub.read_key) as client:
        again = client.post("/v1/devices", json={"kind": "fcm", "token": token})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["name"] is None and again.json()["preferences"]["min_level"] == "warning"


def delivery_statuses(hub: ThreadHub, event_id: str) -> list[tuple[int, str]]:
    with hub.client(hub.read_key) as client:
        rows = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    return sorted((row["round"], row["status"]) for row in rows)


def test_critical_rounds_and_acknowledgement_on_fcm_and_apns(
    native: dict[str, Any], hub_factory: Callable[..., ThreadHub], fcm: FcmService, apns: ApnsService
) -> None:
    clock = utc_clock()
    hub = hub_factory(clock=clock, critical_repeat_interval=300, critical_expiry=3600, **native)
    register(hub, {"kind": "fcm", "token": fcm.register()})
    register(hub, {"kind": "apns", "token": apns.register()})

    event_id = str(uuid.uuid4())
    publish(hub, {"id": event_id, "level": "critical", "title": "Payments failing"})
    [first_fcm], [first_apns] = fcm.wait_for(1), apns.wait_for(1)
    assert first_fcm.data["round"] == "0" and first_fcm.message["android"]["priority"] == "HIGH"
    assert first_apns.payload["round"] == 0 and first_apns.aps["interruption-level"] == "time-sensitive"

    clock.advance(300)
    hub.app.state.hub.delivery.wake()
    assert fcm.wait_for(2)[1].data["round"] == "1" and apns.wait_for(2)[1].payload["round"] == 1

    # The app acknowledges with the receipt token its push carried, no key needed.
    with hub.client() as client:
        ack = client.post(f"/v1/events/{event_id}/ack", json={"token": first_apns.payload["receipt"]})
    assert ack.status_code == 200, ack.text

    clock.advance(1200)
    marker = str(uuid.uuid4())
    publish(hub, {"id": marker, "level": "warning", "title": "marker"})
    hub.app.state.hub.delivery.wake()
    wait_until(
        lambda: delivery_statuses(hub, marker) == [(0, "sent"), (0, "sent")] or None,
        timeout=15,
        what="marker sent on both transports",
    )
    assert [m.message["notification"]["title"] for m in fcm.received] == ["Payments failing"] * 2 + ["marker"]
    assert [n.aps["alert"]["title"] for n in apns.received] == ["Payments failing"] * 2 + ["marker"]


def test_fcm_quota_exceeded_waits_at_least_a_minute_on_the_hubs_clock(
    native: dict[str, Any], hub_factory: Callable[..., ThreadHub], fcm: FcmService
) -> None:
    clock = utc_clock()
    hub = hub_factory(clock=clock, **native)
    register(hub, {"kind": "fcm", "token": fcm.register()})
    fcm.fail_next("QUOTA_EXCEEDED", retry_after="1")
    event_id = str(uuid.uuid4())
    publish(hub, {"id": event_id, "level": "error", "title": "Queue stuck"})
    wait_until(lambda: fcm.refused or None, timeout=10, what="the 429")
    wait_until(
        lambda: delivery_statuses(hub, event_id) == [(0, "queued")] or None, timeout=10, what="retry recorded"
    )
    with hub.client(hub.read_key) as client:
        [row] = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    assert row["last_status_code"] == 429 and row["attempts"] == 1
    due = _dt.datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
    assert (due - clock()).total_seconds() >= 60  # FCM said 1 s; quota errors wait at least 60
    clock.advance(61)
    hub.app.state.hub.delivery.wake()
    fcm.wait_for(1)
