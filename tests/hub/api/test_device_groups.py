"""``/v1/device-groups`` through a real hub: set, read, list and remove a group of team devices for
escalate rules; members are checked against registered team devices (an unknown one, or an app
user's device, is a 422 naming it); reading takes a read key, changing an admin key; the rows are
the ones an escalate rule's step pushes to, so a group a rule uses is not removed (409 naming it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub

from pushlog.hub.store import rules as rule_store


def register(hub: ThreadHub, name: str, endpoint: str) -> str:
    with hub.client(hub.read_key) as client:
        made = client.post("/v1/devices", json={"name": name, "subscription": subscription(endpoint)})
    assert made.status_code == 201, made.text
    device_id: str = made.json()["id"]
    return device_id


def put(hub: ThreadHub, name: str, body: Any, key: str | None = None) -> httpx.Response:
    with hub.client(key or hub.admin_key) as client:
        return client.put(f"/v1/device-groups/{name}", json=body)


def test_set_read_list_replace_and_remove_a_group(hub: ThreadHub) -> None:
    bob = register(hub, "bob-phone", "http://127.0.0.1:9/push/bob")
    carol = register(hub, "carol-phone", "http://127.0.0.1:9/push/carol")

    created = put(hub, "oncall-2", {"members": ["bob-phone", carol, "bob-phone"]})
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "oncall-2",
        "members": sorted(["bob-phone", carol]),
        "devices": [{"id": bob, "name": "bob-phone"}, {"id": carol, "name": "carol-phone"}],
    }
    replaced = put(hub, "oncall-2", {"members": [carol]})
    assert replaced.status_code == 200 and replaced.json()["devices"] == [
        {"id": carol, "name": "carol-phone"}
    ]
    assert put(hub, "managers", {"members": [bob]}).status_code == 201

    with hub.client(hub.read_key) as client:
        listed = client.get("/v1/device-groups").json()["groups"]
        one = client.get("/v1/device-groups/oncall-2").json()
        assert client.delete("/v1/device-groups/oncall-2").status_code == 403
        assert put(hub, "oncall-3", {"members": [bob]}, hub.read_key).status_code == 403
    assert [(g["name"], g["members"]) for g in listed] == [("managers", [bob]), ("oncall-2", [carol])]
    assert one["members"] == [carol]
    with hub.app.state.hub.require_engine().connect() as conn:  # what an escalate rule's step pushes to
        assert rule_store.group_devices(conn, "managers") == [bob]

    with hub.client(hub.admin_key) as client:
        assert client.delete("/v1/device-groups/oncall-2").status_code == 204
        gone = client.get("/v1/device-groups/oncall-2")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.delete("/v1/device-groups/oncall-2").status_code == 404
        assert [g["name"] for g in client.get("/v1/device-groups").json()["groups"]] == ["managers"]


def test_a_member_must_be_a_registered_team_device(hub: ThreadHub) -> None:
    register(hub, "bob-phone", "http://127.0.0.1:9/push/bob")
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "app backend", "scope": "users"})
    assert made.status_code == 201, made.text
    with hub.client(made.json()["secret"]) as app:
        user_device = app.post(
            "/v1/devices", json={"user_id": "u-1", "subscription": subscription("http://127.0.0.1:9/u/1")}
        )
    assert user_device.status_code == 201, user_device.text

    for member, index in (("alice-phone", 1), (user_device.json()["id"], 1)):
        refused = put(hub, "oncall", {"members": ["bob-phone", member]})
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        assert message.startswith(f"members[{index}]: no registered team device with id or name"), message
    with hub.client(hub.read_key) as client:
        assert client.get("/v1/device-groups").json()["groups"] == [], "nothing stored from a refusal"


@pytest.mark.parametrize(
    ("name", "body", "status", "says"),
    [
        ("oncall", {"members": []}, 422, "members"),
        ("oncall", {}, 422, "members"),
        ("oncall", {"members": ["x" * 201]}, 422, "members"),
        ("oncall", {"members": ["bob-phone"], "order": 1}, 422, "order"),
        ("oncall", {"members": "bob-phone"}, 422, "members"),
        ("on call", {"members": ["bob-phone"]}, 400, "name: 1-64 letters"),
        ("x" * 65, {"members": ["bob-phone"]}, 400, "name: 1-64 letters"),
    ],
)
def test_bad_input_is_a_clear_4xx(hub: ThreadHub, name: str, body: Any, status: int, says: str) -> None:
    register(hub, "bob-phone", "http://127.0.0.1:9/push/bob")
    answer = put(hub, name, body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]["message"]


def test_a_group_an_escalate_rule_uses_cannot_be_removed(hub: ThreadHub) -> None:
    """Removing it would leave the rules' steps pushing to nothing: 409 naming them, group kept."""
    register(hub, "bob-phone", "http://127.0.0.1:9/push/bob")
    assert put(hub, "oncall-2", {"members": ["bob-phone"]}).status_code == 201
    steps = [{"after": "10m", "group": "managers"}, {"after": "20m", "group": "oncall-2"}]
    with hub.client(hub.admin_key) as admin:
        for name, paused in (("page-oncall", False), ("night-oncall", True)):
            body = {"kind": "escalate", "match": {"level": "critical"}, "steps": steps, "paused": paused}
            made = admin.put(f"/v1/rules/{name}", json=body)
            assert made.status_code in (200, 201), made.text
        refused = admin.delete("/v1/device-groups/oncall-2")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == {
            "code": "group_in_use",
            "message": "device group 'oncall-2' is used by escalate rules 'night-oncall', 'page-oncall': "
            "change or remove those rules' steps first",
        }
        assert admin.get("/v1/device-groups/oncall-2").json()["members"] == ["bob-phone"]

        assert admin.delete("/v1/rules/night-oncall").status_code == 204
        steps[1]["group"] = "managers"
        changed = admin.put("/v1/rules/page-oncall", json={"kind": "escalate", "steps": steps})
        assert changed.status_code == 200, changed.text
        assert admin.delete("/v1/device-groups/oncall-2").status_code == 204
