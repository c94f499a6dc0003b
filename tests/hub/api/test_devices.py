"""/v1/devices: register, refresh, list, preferences, remove; endpoint and key validation."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub

LOCAL = "http://127.0.0.1:9/p"


def test_register_refresh_list_patch_remove(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client:
        created = client.post(
            "/v1/devices",
            json={
                "name": "phone",
                "subscription": subscription("http://127.0.0.1:9/push/1"),
                "preferences": {"min_level": "error", "channels": ["ops"]},
            },
        )
        assert created.status_code == 201
        device = created.json()
        assert device["kind"] == "webpush"
        assert device["preferences"] == {"min_level": "error", "channels": ["ops"]}
        assert "auth" not in device and "p256dh" not in device

        refreshed = client.post(
            "/v1/devices", json={"subscription": subscription("http://127.0.0.1:9/push/1")}
        )
        assert refreshed.status_code == 200
        assert refreshed.json()["id"] == device["id"]
        assert refreshed.json()["name"] == "phone"

        listed = client.get("/v1/devices").json()["devices"]
        assert [d["id"] for d in listed] == [device["id"]]

        patched = client.patch(
            f"/v1/devices/{device['id']}", json={"name": "tablet", "preferences": {"channels": None}}
        )
        assert patched.status_code == 200
        assert patched.json()["name"] == "tablet"
        assert patched.json()["preferences"]["channels"] is None

        assert client.delete(f"/v1/devices/{device['id']}").status_code == 204
        assert client.get("/v1/devices").json()["devices"] == []
        assert client.delete(f"/v1/devices/{device['id']}").status_code == 404
        assert client.patch("/v1/devices/nope", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/1",
        "https://[::1]/push/1",
        "https://10.0.0.7/push/1",
        "https://169.254.169.254/push/1",
        "http://push.example.com/push/1",
        "https://localhost:8443/push/1",
    ],
)
def test_ssrf_endpoints_are_refused_without_the_development_flag(hub_factory: Any, endpoint: str) -> None:
    running = hub_factory()
    with running.client(running.read_key) as client:
        answer = client.post("/v1/devices", json={"subscription": subscription(endpoint)})
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "invalid_endpoint"
        assert client.get("/v1/devices").json()["devices"] == []


def test_public_endpoint_is_accepted_with_an_injected_resolver(hub_factory: Any) -> None:
    running = hub_factory(resolver=lambda host, port: ["93.184.216.34"])
    with running.client(running.read_key) as client:
        answer = client.post(
            "/v1/devices", json={"subscription": subscription("https://push.example.com/w/1")}
        )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"subscription": subscription("http://127.0.0.1:9/p", p256dh="AAAA")}, "p256dh"),
        ({"subscription": subscription("http://127.0.0.1:9/p", auth="!!!")}, "auth"),
        ({"subscription": {"endpoint": "http://127.0.0.1:9/p"}}, "subscription.keys"),
        ({"subscription": "nope"}, "subscription"),
        ({"kind": "fcm", "subscription": subscription("http://127.0.0.1:9/p")}, "kind"),
        (
            {"subscription": subscription("http://127.0.0.1:9/p"), "preferences": {"min_level": "loud"}},
            "min_level",
        ),
        (
            {"subscription": subscription("http://127.0.0.1:9/p"), "preferences": {"channels": "ops"}},
            "channels",
        ),
    ],
)
def test_malformed_registrations_are_422(hub: ThreadHub, body: dict[str, Any], mentions: str) -> None:
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json=body)
    assert answer.status_code == 422, answer.text
    assert mentions in answer.json()["error"]["message"]


def test_publish_key_cannot_manage_devices(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key) as client:
        assert client.get("/v1/devices").status_code == 403
        answer = client.post("/v1/devices", json={"subscription": subscription("http://127.0.0.1:9/p")})
        assert answer.status_code == 403
