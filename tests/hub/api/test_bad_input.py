"""Every kind of bad input gets a clear JSON 4xx and the hub keeps serving."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from tests.support.devices import AUTH, P256DH
from tests.support.hub_server import ThreadHub

GOOD = {"events": [{"title": "still alive", "level": "info"}]}


def assert_error(answer: Any, status: int, code: str, *, mentions: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"] and "\n" not in error["message"]
    assert mentions in error["message"]


def assert_still_serving(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key) as client:
        assert client.post("/v1/events", json=GOOD).status_code == 202


@pytest.mark.parametrize(
    ("body", "code", "mentions"),
    [
        (b'{"events": [{"title": "x"', "malformed_json", "malformed JSON"),
        (b"", "malformed_json", "empty"),
        (b'{"events": [{"title": "caf\xe9"}]}', "invalid_utf8", "UTF-8"),
    ],
)
def test_undecodable_bodies_are_400(hub: ThreadHub, body: bytes, code: str, mentions: str) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert_error(answer, 400, code, mentions=mentions)
    assert_still_serving(hub)


@pytest.mark.parametrize(
    ("events", "mentions"),
    [
        ([{"level": "warning"}], "events[0].title: required"),
        ([{"title": ""}], "events[0].title"),
        ([{"title": "   "}], "events[0].title"),
        ([{"title": 42}], "events[0].title: must be a string"),
        ([{"title": "ok"}, {"title": "t", "tags": "a,b"}], "events[1].tags"),
        ([{"title": "t", "count": "3"}], "events[0].count"),
        ([{"title": "t", "count": 0}], "events[0].count"),
        ([{"title": "t", "level": "loud"}], "events[0].level"),
        ([{"title": "t", "metadata": [1, 2]}], "events[0].metadata"),
        ([{"title": "t", "ts": 12345}], "events[0].ts"),
        ([{"title": "t", "link": "javascript:alert(1)"}], "events[0].link"),
        ([{"title": "t" * 300}], "events[0].title: longer than"),
        ([{"title": "t", "metadata": {"blob": "x" * 2000}}], "events[0].metadata.blob"),
        ([{"title": "t", "metadata": {"nested": {"a": ["y" * 600, "z" * 600]}}}], "metadata.nested"),
        ([{"title": "t", "metadata": {"deep": [[[[["five levels"]]]]]}}], "metadata.deep: nested deeper"),
        ([{"title": "t", "id": 7}], "events[0].id"),
        ([{"title": "t", "push": "yes"}], "events[0].push"),
        ("not an object", "events[0]: must be an object"),
    ],
)
def test_a_bad_event_is_rejected_alone_naming_the_field(hub: ThreadHub, events: Any, mentions: str) -> None:
    items = events if isinstance(events, list) else [events]
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [*items, {"title": "good neighbour"}]})
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert result["accepted"] == len(items)  # the bad one is out, the good neighbour (and others) in
    [rejected] = result["rejected"]
    assert rejected["error"]["code"] == "invalid"
    assert mentions in rejected["error"]["message"], rejected
    assert "\n" not in rejected["error"]["message"]
    assert_still_serving(hub)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"events": {"title": "t"}}, "events: must be an array"),
        ({"title": "no envelope"}, "events: required"),
        ([1, 2, 3], "body: must be an object"),
        ({"events": [], "client": {"dropped": -1}}, "client.dropped"),
        ({"events": [], "client": "me"}, "client: must be an object"),
    ],
)
def test_a_bad_envelope_is_422_naming_the_field(hub: ThreadHub, body: Any, mentions: str) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json=body)
    assert_error(answer, 422, "invalid", mentions=mentions)
    assert_still_serving(hub)


def test_a_10_mb_body_is_413_with_json_error(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key, timeout=60) as client:
        answer = client.post(
            "/v1/events", content=b"x" * (10 * 1024 * 1024), headers={"content-type": "application/json"}
        )
    assert_error(answer, 413, "request_too_large", mentions="limit")
    assert_still_serving(hub)


def test_a_huge_declared_length_is_refused_before_any_body_is_sent(hub: ThreadHub) -> None:
    """Only the headers are sent: beyond what the hub is willing to drain (64 MB) it answers at once."""
    request = (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hub.publish_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
        sock.sendall(request)
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
    assert "application/json" in head
    assert_still_serving(hub)


def test_chunked_body_over_the_limit_is_413(hub_factory: Any) -> None:
    running = hub_factory(max_request_bytes=10_000)

    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 1000

    with running.client(running.publish_key) as client:
        answer = client.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert_error(answer, 413, "request_too_large")
    assert_still_serving(running)


def test_missing_unknown_and_revoked_keys_are_401(hub: ThreadHub) -> None:
    with hub.client() as client:
        assert_error(client.post("/v1/events", json=GOOD), 401, "unauthorized", mentions="missing")
    with hub.client("pl_publish_" + "x" * 32) as client:
        assert_error(client.post("/v1/events", json=GOOD), 401, "unauthorized", mentions="unknown")
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "short-lived", "scope": "publish"}).json()
        assert admin.delete(f"/v1/keys/{made['id']}").status_code == 200
    with hub.client(made["secret"]) as client:
        assert_error(client.post("/v1/events", json=GOOD), 401, "unauthorized", mentions="revoked")
    assert_still_serving(hub)


def test_a_publish_key_reading_the_feed_is_403(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key) as client:
        assert_error(client.get("/v1/events"), 403, "forbidden", mentions="publish key")
    assert_still_serving(hub)


def test_a_subscription_pointing_at_127_0_0_1_is_refused_by_a_normal_hub(hub_factory: Any) -> None:
    running = hub_factory()  # production defaults: allow_private_endpoints=False
    body = {
        "subscription": {
            "endpoint": "https://127.0.0.1:8443/push/x",
            "keys": {
                "p256dh": P256DH,
                "auth": AUTH,
            },
        }
    }
    with running.client(running.read_key) as client:
        assert_error(client.post("/v1/devices", json=body), 422, "invalid_endpoint", mentions="loopback")
    assert_still_serving(running)


def test_unknown_route_and_wrong_method_are_json_errors(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client:
        assert_error(client.get("/v1/nothing-here"), 404, "not_found")
        assert_error(client.put("/v1/events"), 405, "method_not_allowed")


def test_an_internal_error_is_a_json_500_and_the_hub_keeps_serving(hub_factory: Any) -> None:
    def broken_dns(host: str, port: int) -> list[str]:
        raise RuntimeError("resolver bug")

    running = hub_factory(resolver=broken_dns)
    body = {
        "subscription": {
            "endpoint": "https://push.example.com/w/1",
            "keys": {"p256dh": P256DH, "auth": AUTH},
        }
    }
    with running.client(running.read_key) as client:
        answer = client.post("/v1/devices", json=body)
    assert_error(answer, 500, "internal_error")
    assert_still_serving(running)
