"""``GET /v1/stats`` against the real hub under uvicorn, on a manual clock, with real Web Push deliveries
to the RFC 8030 stand-in, receipts with the payload's tokens, an acknowledgement and client drop reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.clock import utc_clock
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.push_service import PushService

ZERO = {"debug": 0, "info": 0, "warning": 0, "error": 0, "critical": 0}


def event(level: str, title: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "ts": ts, "level": level, "title": title, **fields}


def publish(hub: ThreadHub, *events: dict[str, Any], client: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"events": list(events)}
    if client is not None:
        body["client"] = client
    with hub.client(hub.publish_key) as http:
        answer = http.post("/v1/events", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


def stats(hub: ThreadHub, **params: str) -> dict[str, Any]:
    with hub.client(hub.read_key) as http:
        answer = http.get("/v1/stats", params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def delivery_rows(hub: ThreadHub, event_id: str) -> list[dict[str, Any]]:
    with hub.client(hub.read_key) as http:
        return list(http.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"])


def receipt(hub: ThreadHub, payload: dict[str, Any], status: str) -> None:
    with hub.client() as http:
        answer = http.post(
            f"/v1/deliveries/{payload['delivery_id']}/receipt",
            json={"token": payload["receipt"], "status": status},
        )
    assert answer.status_code == 200, answer.text


def test_events_deliveries_and_pushes_in_the_window(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    clock = utc_clock()  # 2026-01-01T12:00:00Z
    hub = hub_factory(allow_private_endpoints=True, clock=clock)
    phones = [push_service.subscribe(), push_service.subscribe()]
    device_ids = []
    with hub.client(hub.read_key) as http:
        for n, phone in enumerate(phones):
            made = http.post(
                "/v1/devices",
                json={"kind": "webpush", "name": f"phone {n}", "subscription": phone.subscription()},
            )
            assert made.status_code == 201, made.text
            device_ids.append(made.json()["id"])

    publish(
        hub,
        event("info", "signup", "2026-01-01T09:10:00Z"),
        event("info", "signup", "2026-01-01T09:20:00Z", count=5),
        event("info", "signup", "2026-01-01T09:59:59Z"),
        event("info", "yesterday's news", "2025-12-31T10:00:00Z"),  # before the default 24 h
        event("info", "fast client clock", "2026-01-01T12:20:00Z"),  # after now: open-ended window
    )
    warning = event("warning", "disk 80%", "2026-01-01T11:30:00Z")
    publish(hub, warning)
    pushed = push_service.wait_for(2)
    wait_until(
        lambda: [r["status"] for r in delivery_rows(hub, warning["id"])] == ["sent", "sent"],
        timeout=10,
        what="both warning deliveries recorded as sent",
    )
    clock.advance(2)
    receipt(hub, pushed[0].payload, "delivered")
    clock.advance(2)
    receipt(hub, pushed[1].payload, "delivered")
    receipt(hub, pushed[0].payload, "opened")

    push_service.respond_with(413, times=1)  # one phone's push is refused for good
    error = event("error", "payments failing", "2026-01-01T11:45:00Z")
    publish(hub, error)
    push_service.wait_for(1, status=413)
    wait_until(
        lambda: sorted(r["status"] for r in delivery_rows(hub, error["id"])) == ["failed", "sent"],
        timeout=10,
        what="error deliveries recorded",
    )
    with hub.client(hub.read_key) as http:
        assert http.post(f"/v1/events/{error['id']}/ack").status_code == 200

    got = stats(hub)
    assert (got["since"], got["until"], got["bucket"]) == (
        "2025-12-31T12:00:04.000000Z",
        "2026-01-01T12:00:04.000000Z",
        "hour",
    )
    assert got["events"]["total"] == 6
    assert got["events"]["occurrences"] == 10
    assert got["events"]["by_level"] == {**ZERO, "info": 4, "warning": 1, "error": 1}
    buckets = {
        b["start"]: {k: v for k, v in b.items() if k != "start" and v} for b in got["events"]["buckets"]
    }
    assert len(buckets) == 25  # 2025-12-31T12:00 ... 2026-01-01T12:00, every hour present
    assert (
        next(iter(buckets)) == "2025-12-31T12:00:00.000000Z"
        and list(buckets)[-1] == "2026-01-01T12:00:00.000000Z"
    )
    assert {start: counts for start, counts in buckets.items() if counts} == {
        "2026-01-01T09:00:00.000000Z": {"info": 3},
        "2026-01-01T11:00:00.000000Z": {"warning": 1, "error": 1},
        "2026-01-01T12:00:00.000000Z": {"info": 1},
    }

    assert got["deliveries"]["total"] == 4
    assert got["deliveries"]["by_status"] == {
        "queued": 0,
        "sent": 0,
        "failed": 1,
        "delivered": 1,
        "opened": 1,
        "acknowledged": 1,
        "held": 0,
        "skipped": 0,
    }
    per_device = {d["device_id"]: d for d in got["deliveries"]["by_device"]}
    assert set(per_device) == set(device_ids)
    assert all(d["total"] == 2 and not d["removed"] for d in per_device.values())
    assert {d["name"] for d in per_device.values()} == {"phone 0", "phone 1"}
    opens = [(b["sent"], b["opened"], b["open_rate"]) for b in got["pushes"].pop("buckets") if b["sent"]]
    assert opens == [(3, 1, 0.3333)]  # every push of this test was created in the 12:00 hour
    assert got["pushes"] == {
        "sent": 3,
        "failed": 1,
        "delivered": 2,
        "opened": 1,
        "acknowledged": 1,
        "median_delivery_latency_s": 3.0,  # 2 s and 4 s
    }
    assert got["clients"]["dropped"] == 0

    # An explicit until closes the window: the fast clock's event drops out.
    closed = stats(hub, since="2026-01-01T00:00:00Z", until="2026-01-01T12:00:00Z")
    assert closed["events"]["total"] == 5
    assert len(closed["events"]["buckets"]) == 12
    # Day buckets over two days see yesterday's event too.
    days = stats(hub, since="2025-12-31T00:00:00Z", until="2026-01-02T00:00:00Z", bucket="day")
    assert [(b["start"], b["info"]) for b in days["events"]["buckets"]] == [
        ("2025-12-31T00:00:00.000000Z", 1),
        ("2026-01-01T00:00:00.000000Z", 4),
    ]
    # A relative since counts back from the hub's clock.
    assert stats(hub, since="3h")["events"]["by_level"] == {**ZERO, "info": 4, "warning": 1, "error": 1}
    assert stats(hub, since="2h")["events"]["by_level"] == {**ZERO, "info": 1, "warning": 1, "error": 1}


def test_client_drop_reports_are_counted_once_per_batch(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = utc_clock()
    hub = hub_factory(clock=clock)
    first = [event("info", "a", "2026-01-01T11:00:00Z")]
    assert publish(hub, *first, client={"dropped": 7, "sdk": "pushlog/test"})["accepted"] == 1
    # The client's retry of the same batch (its first answer was lost) is not a second report.
    assert publish(hub, *first, client={"dropped": 7, "sdk": "pushlog/test"})["duplicates"] == 1
    clock.advance(3600)
    publish(hub, event("info", "b", "2026-01-01T13:00:00Z"), client={"dropped": 3})
    publish(hub, event("info", "c", "2026-01-01T13:00:01Z"), client={"dropped": 0})

    got = stats(hub, since="2026-01-01T00:00:00Z")
    assert got["clients"]["dropped"] == 10
    assert [(k["key_name"], k["dropped"], k["reports"]) for k in got["clients"]["by_key"]] == [
        ("bootstrap publish", 10, 2)
    ]
    assert [(b["start"], b["dropped"]) for b in got["clients"]["buckets"] if b["dropped"]] == [
        ("2026-01-01T12:00:00.000000Z", 7),
        ("2026-01-01T13:00:00.000000Z", 3),
    ]
    # Reports outside the window are not counted.
    assert stats(hub, since="2026-01-01T12:30:00Z")["clients"]["dropped"] == 3

    with hub.client(hub.publish_key) as http:
        bad = http.post(
            "/v1/events",
            json={"events": [event("info", "d", "2026-01-01T13:00:00Z")], "client": {"dropped": -1}},
        )
    assert bad.status_code == 422
    assert "client.dropped" in bad.json()["error"]["message"]
    assert stats(hub, since="2026-01-01T00:00:00Z")["events"]["total"] == 3  # nothing of the bad batch


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-01T00:00:00Z"}, "since"),
        ({"until": "24h"}, "until"),
        ({"bucket": "minute"}, "bucket"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "before until"),
        ({"since": "365d"}, "bucket=day"),
    ],
)
def test_bad_queries_are_400(hub: ThreadHub, params: dict[str, str], mentions: str) -> None:
    with hub.client(hub.read_key) as http:
        answer = http.get("/v1/stats", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_query"
    assert mentions in answer.json()["error"]["message"]


def test_stats_need_a_read_key(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key) as http:
        assert http.get("/v1/stats").status_code == 403
    with hub.client() as http:
        assert http.get("/v1/stats").status_code == 401


def test_recovered_counts_are_shown_next_to_dropped(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = utc_clock()
    hub = hub_factory(clock=clock)
    spooled = [event("info", "from the spool", "2026-01-01T11:00:00Z")]
    publish(hub, *spooled, client={"recovered": 1, "dropped": 2})
    publish(hub, *spooled, client={"recovered": 1})  # a retry of the same batch is not counted twice
    publish(hub, event("info", "only recovered", "2026-01-01T11:00:01Z"), client={"recovered": 4})
    got = stats(hub, since="2026-01-01T00:00:00Z")["clients"]
    assert (got["dropped"], got["recovered"]) == (2, 5)
    assert [(k["dropped"], k["recovered"], k["reports"]) for k in got["by_key"]] == [(2, 5, 2)]
    assert [(b["dropped"], b["recovered"]) for b in got["buckets"] if b["recovered"]] == [(2, 5)]
    with hub.client(hub.publish_key) as http:
        bad = http.post(
            "/v1/events",
            json={"events": [event("info", "d", "2026-01-01T13:00:00Z")], "client": {"recovered": "x"}},
        )
    assert bad.status_code == 422 and "client.recovered" in bad.json()["error"]["message"]
