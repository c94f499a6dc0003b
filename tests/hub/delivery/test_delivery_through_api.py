"""The whole hub under uvicorn: API ingest -> outbox -> real Web Push -> receipts and acknowledgement.

Pushes go to the RFC 8030 stand-in, which verifies VAPID and decrypts with each phone's private key.
The hub runs on a manual clock, so CRITICAL re-push rounds are driven by advancing it and waking the
dispatcher; "nothing more was sent" is proven by a marker event that goes out in the same step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.support.clock import utc_clock
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.push_service import IDLE_KEEPALIVE_SECONDS, PushService, ReceivedPush, Subscriber

from pushlog.hub.delivery.webpush._sender import KEEPALIVE_SECONDS


def register(hub: ThreadHub, phone: Subscriber) -> str:
    with hub.client(hub.read_key) as client:
        answer = client.post(
            "/v1/devices",
            json={
                "kind": "webpush",
                "subscription": phone.subscription(),
                "preferences": {"min_level": "warning"},
            },
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def publish(hub: ThreadHub, level: str, title: str) -> str:
    event_id = str(uuid.uuid4())
    event: dict[str, Any] = {"id": event_id, "ts": "2026-01-01T12:00:00Z", "level": level, "title": title}
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [event]})
    assert answer.status_code == 202, answer.text
    return event_id


def deliveries(hub: ThreadHub, event_id: str) -> list[dict[str, Any]]:
    with hub.client(hub.read_key) as client:
        answer = client.get(f"/v1/events/{event_id}/deliveries").json()
    return list(answer["deliveries"] if isinstance(answer, dict) else answer)


def statuses(hub: ThreadHub, event_id: str) -> list[str]:
    return [row["status"] for row in deliveries(hub, event_id)]


def wake(hub: ThreadHub) -> None:
    hub.app.state.hub.delivery.wake()


def titles(pushes: list[ReceivedPush]) -> list[str]:
    return [p.payload["title"] for p in pushes if p.status == 201]


def test_critical_repush_receipts_and_ack_through_the_api(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    clock = utc_clock()
    hub = hub_factory(
        allow_private_endpoints=True, clock=clock, critical_repeat_interval=300, critical_expiry=3600
    )
    phones = [push_service.subscribe(), push_service.subscribe()]
    for phone in phones:
        register(hub, phone)

    event_id = publish(hub, "critical", "Payments failing")
    first = push_service.wait_for(2)
    assert titles(first) == ["Payments failing"] * 2
    assert {p.payload["round"] for p in first} == {0}
    assert all(p.headers["urgency"] == "high" and p.payload["require_interaction"] for p in first)

    # The service worker's receipt, with the token from the payload.
    payload = first[0].payload
    with hub.client() as client:
        receipt = client.post(
            f"/v1/deliveries/{payload['delivery_id']}/receipt",
            json={"token": payload["receipt"], "status": "delivered"},
        )
    assert receipt.status_code == 200, receipt.text

    clock.advance(300)
    wake(hub)
    second = push_service.wait_for(4)[2:]
    assert {p.payload["round"] for p in second} == {1}
    assert {p.subscription_id for p in second} == {p.subscription_id for p in first}

    # Round 2 meets a busy push service: both stay queued, to be retried in 600 s.
    push_service.respond_with(503, retry_after="600", times=2)
    clock.advance(300)
    wake(hub)
    push_service.wait_for(2, status=503)

    with hub.client(hub.read_key) as client:
        ack = client.post(f"/v1/events/{event_id}/ack")
    assert ack.status_code == 200, ack.text

    # Well past the retry and several re-push intervals: only the marker event goes out.
    clock.advance(1200)
    marker = publish(hub, "warning", "marker")
    push_service.wait_for(8)
    # The step that sent the marker records all its sends together: once the marker shows "sent",
    # everything that step sent has arrived.
    wait_until(lambda: statuses(hub, marker) == ["sent", "sent"], timeout=10, what="marker recorded")
    assert len(push_service.received) == 8
    assert titles(push_service.received[6:]) == ["marker", "marker"]

    rows = deliveries(hub, event_id)
    by_round: dict[int, set[str]] = {}
    for row in rows:
        by_round.setdefault(row["round"], set()).add(row["status"])
    assert sorted(by_round) == [0, 1, 2]
    assert by_round[2] == {"acknowledged"}
    assert "delivered" not in by_round[1]
    assert any(row["delivered_at"] for row in rows if row["round"] == 0)


def test_gone_subscription_removes_the_device(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    hub = hub_factory(allow_private_endpoints=True)
    dead, alive = push_service.subscribe(), push_service.subscribe()
    dead_id, alive_id = register(hub, dead), register(hub, alive)
    push_service.expire(dead)
    publish(hub, "error", "Disk full")
    push_service.wait_for(2)

    def devices() -> list[str]:
        with hub.client(hub.read_key) as client:
            listed = client.get("/v1/devices").json()
        items = listed["devices"] if isinstance(listed, dict) else listed
        return [d["id"] for d in items]

    wait_until(lambda: devices() == [alive_id], timeout=10, what="the dead device to be removed")
    assert dead_id not in devices()


def test_the_stand_in_keeps_idle_connections_longer_than_the_sender() -> None:
    # The cause of a once-flaky run above: the stand-in (uvicorn, 5 s by default) closed an idle
    # keep-alive connection just as the sender reused it; the send became a RETRY due on the hub's
    # manual clock, which the test never advanced that far, so the push never came.
    assert IDLE_KEEPALIVE_SECONDS > KEEPALIVE_SECONDS
