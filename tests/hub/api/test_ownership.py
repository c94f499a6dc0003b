"""Ownership: a device belongs to the key that registered it, ``repeat_of`` merges only into the same
key's events, and the last admin key cannot be revoked."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub


def new_key(hub: ThreadHub, scope: str) -> dict[str, Any]:
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": f"{scope}-{uuid.uuid4().hex[:6]}", "scope": scope})
    assert made.status_code == 201, made.text
    return dict(made.json())


def register(hub: ThreadHub, key: str, endpoint: str) -> str:
    with hub.client(key) as client:
        answer = client.post("/v1/devices", json={"name": endpoint, "subscription": subscription(endpoint)})
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


def publish_one(hub: ThreadHub, key: str, **fields: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "title": "disk full", "level": "error", **fields}
    with hub.client(key) as client:
        assert client.post("/v1/events", json={"events": [event]}).status_code == 202
    return event


def devices_and_deliveries(hub: ThreadHub, event_id: str) -> tuple[set[str], set[str]]:
    with hub.client(hub.read_key) as client:
        devices = {d["id"] for d in client.get("/v1/devices").json()["devices"]}
        rows = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    return devices, {row["device_id"] for row in rows}


def test_revoking_a_key_removes_the_devices_it_registered_and_their_pushes_stop(hub: ThreadHub) -> None:
    laptop = new_key(hub, "read")
    theirs = register(hub, laptop["secret"], "http://127.0.0.1:9/push/laptop")
    ours = register(hub, hub.read_key, "http://127.0.0.1:9/push/ours")
    before = publish_one(hub, hub.publish_key)
    assert devices_and_deliveries(hub, before["id"]) == ({theirs, ours}, {theirs, ours})

    with hub.client(hub.admin_key) as admin:
        assert admin.delete(f"/v1/keys/{laptop['id']}").status_code == 200

    after = publish_one(hub, hub.publish_key)
    assert devices_and_deliveries(hub, after["id"]) == ({ours}, {ours})


def test_a_refreshed_registration_belongs_to_the_key_that_refreshed_it(hub: ThreadHub) -> None:
    first, second = new_key(hub, "read"), new_key(hub, "read")
    device = register(hub, first["secret"], "http://127.0.0.1:9/push/moved")
    assert register(hub, second["secret"], "http://127.0.0.1:9/push/moved") == device
    with hub.client(hub.admin_key) as admin:
        assert admin.delete(f"/v1/keys/{first['id']}").status_code == 200
        assert device in {d["id"] for d in admin.get("/v1/devices").json()["devices"]}
        assert admin.delete(f"/v1/keys/{second['id']}").status_code == 200
        assert device not in {d["id"] for d in admin.get("/v1/devices").json()["devices"]}


def test_repeat_of_never_merges_into_another_keys_event(hub: ThreadHub) -> None:
    other_app = new_key(hub, "publish")
    first = publish_one(hub, hub.publish_key, fingerprint="fp")
    hostile = {
        **first,
        "id": str(uuid.uuid4()),
        "count": 1_000_000_000,
        "push": False,
        "repeat_of": first["id"],
    }
    with hub.client(other_app["secret"]) as client:
        assert client.post("/v1/events", json={"events": [hostile]}).status_code == 202
    own = {**first, "id": str(uuid.uuid4()), "count": 4, "push": False, "repeat_of": first["id"]}
    with hub.client(hub.publish_key) as client:
        assert client.post("/v1/events", json={"events": [own]}).status_code == 202
    with hub.client(hub.read_key) as client:
        lines = {e["id"]: e["count"] for e in client.get("/v1/events").json()["events"]}
    assert lines == {first["id"]: 5, hostile["id"]: 1_000_000_000}  # the other key's stays a line of its own


def test_the_last_admin_key_cannot_be_revoked(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as admin:
        keys = admin.get("/v1/keys").json()["keys"]
        (bootstrap_admin,) = [k for k in keys if k["scope"] == "admin"]
        refused = admin.delete(f"/v1/keys/{bootstrap_admin['id']}")
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "last_admin_key",
            "message": f"key {bootstrap_admin['id']} is the last admin key: create another admin key first,"
            " then revoke this one",
        }
        assert admin.get("/v1/keys").status_code == 200  # still usable

    spare = new_key(hub, "admin")
    with hub.client(spare["secret"]) as admin:
        assert admin.delete(f"/v1/keys/{bootstrap_admin['id']}").status_code == 200
        assert admin.delete(f"/v1/keys/{spare['id']}").status_code == 409
