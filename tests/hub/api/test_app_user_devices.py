"""App users' devices and the ``users`` key scope, against a real hub: registration with the user's
fields, the scope's branch (users never reads the team's feed, devices or stream; read never manages
users' devices), lifecycle (refresh, an installation's new token, many devices per user), and that an
app user's device never gets a log event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.support.clock import utc_clock
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, wait_until

PROFILE: dict[str, Any] = {
    "user_id": "u-42",
    "platform": "android",
    "app_version": "3.2.1",
    "locale": "pt-BR",
    "timezone": "America/Sao_Paulo",
    "attributes": {"plan": "pro", "seats": 3, "beta": True, "referrer": None},
    "installation_id": "inst-1",
}


def users_key(hub: ThreadHub) -> str:
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "app backend", "scope": "users"})
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert made.json()["scope"] == "users" and secret.startswith("pl_users_")
    return str(secret)


def register(client: httpx.Client, endpoint: str, **fields: Any) -> httpx.Response:
    return client.post("/v1/devices", json={"subscription": subscription(endpoint), **fields})


def test_a_users_key_registers_and_lists_an_app_users_devices(hub: ThreadHub) -> None:
    with hub.client(users_key(hub)) as app:
        created = register(app, "http://127.0.0.1:9/u/1", **PROFILE)
        assert created.status_code == 201, created.text
        device = created.json()
        assert {name: device[name] for name in PROFILE} == PROFILE
        assert device["last_seen_at"] == device["created_at"]
        listed = app.get("/v1/users/u-42/devices")
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["devices"]] == [device["id"]]
        assert app.get("/v1/users/nobody/devices").json() == {"devices": []}
    with hub.client(hub.read_key) as team:
        assert team.get("/v1/devices").json()["devices"] == []  # not a team device
    with hub.client(hub.admin_key) as admin:
        assert [d["id"] for d in admin.get("/v1/users/u-42/devices").json()["devices"]] == [device["id"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/events"),
        ("GET", "/v1/stream"),
        ("GET", "/v1/devices"),
        ("GET", "/v1/stats"),
        ("GET", "/v1/heartbeats"),
        ("GET", "/v1/keys"),
        ("POST", "/v1/events"),
        ("POST", "/v1/heartbeats/nightly"),
    ],
)
def test_a_users_key_never_reads_the_team_or_publishes(hub: ThreadHub, method: str, path: str) -> None:
    with hub.client(users_key(hub)) as app:
        answer = app.request(method, path, json={"events": []} if method == "POST" else None)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"


def test_read_and_publish_keys_never_manage_app_users_devices(hub: ThreadHub) -> None:
    with hub.client(users_key(hub)) as app:
        device_id = register(app, "http://127.0.0.1:9/u/1", **PROFILE).json()["id"]
    for key in (hub.read_key, hub.publish_key):
        with hub.client(key) as other:
            assert other.get("/v1/users/u-42/devices").status_code == 403
            refused = register(other, "http://127.0.0.1:9/u/2", user_id="u-42")
            assert refused.status_code == 403, refused.text
    with hub.client(hub.read_key) as team:
        # the other branch's device is invisible: as if it did not exist
        assert team.patch(f"/v1/devices/{device_id}", json={"name": "x"}).status_code == 404
        assert team.delete(f"/v1/devices/{device_id}").status_code == 404
        team_device = register(team, "http://127.0.0.1:9/team/1").json()["id"]
    with hub.client(users_key(hub)) as app:
        assert app.delete(f"/v1/devices/{team_device}").status_code == 404
        assert app.patch(f"/v1/devices/{device_id}", json={"name": "pixel"}).json()["name"] == "pixel"
        assert app.delete(f"/v1/devices/{device_id}").status_code == 204
    with hub.client(hub.admin_key) as admin:  # admin manages both
        assert admin.delete(f"/v1/devices/{team_device}").status_code == 204


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({}, "user_id"),  # a users key registers only app users' devices
        ({"user_id": "u-1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"user_id": "u-1", "timezone": "../../etc/passwd"}, "timezone"),
        ({"user_id": "u-1", "attributes": {"nested": {"no": 1}}}, "attributes"),
        ({"user_id": "u-1", "attributes": {"list": [1, 2]}}, "attributes"),
        ({"user_id": "u-1", "attributes": {f"k{i}": i for i in range(33)}}, "attributes"),
        ({"user_id": "u-1", "attributes": {"long": "x" * 257}}, "attributes"),
        ({"user_id": "a/b"}, "user_id"),
        ({"user_id": "u-1", "locale": "not a locale"}, "locale"),
    ],
)
def test_app_user_fields_are_checked(hub: ThreadHub, fields: dict[str, Any], where: str) -> None:
    with hub.client(users_key(hub)) as app:
        answer = register(app, "http://127.0.0.1:9/u/1", **fields)
    assert answer.status_code == 422, answer.text
    assert where in answer.json()["error"]["message"]


def test_team_devices_take_no_app_user_fields(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as team:
        answer = register(team, "http://127.0.0.1:9/team/1", platform="ios")
    assert answer.status_code == 422 and "platform" in answer.json()["error"]["message"]


def test_lifecycle_refresh_installation_replacement_and_many_devices(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    clock = utc_clock()
    hub = hub_factory(allow_private_endpoints=True, clock=clock)
    with hub.client(users_key(hub)) as app:
        first = register(app, "http://127.0.0.1:9/u/1", **PROFILE).json()

        clock.advance(3600)
        again = register(app, "http://127.0.0.1:9/u/1", user_id="u-42", app_version="3.3.0")
        assert again.status_code == 200
        refreshed = again.json()
        assert refreshed["id"] == first["id"]
        assert refreshed["last_seen_at"] > first["last_seen_at"]
        assert refreshed["app_version"] == "3.3.0" and refreshed["locale"] == "pt-BR"  # others kept

        # the same install got a new subscription: it replaces the old one, same device id
        moved = register(app, "http://127.0.0.1:9/u/1-new", user_id="u-42", installation_id="inst-1")
        assert moved.status_code == 200 and moved.json()["id"] == first["id"]
        assert moved.json()["endpoint"] == "http://127.0.0.1:9/u/1-new"

        # another install of the same user is another device; another user's install-1 is theirs
        tablet = register(app, "http://127.0.0.1:9/u/2", user_id="u-42", installation_id="inst-2")
        other = register(app, "http://127.0.0.1:9/u/3", user_id="u-7", installation_id="inst-1")
        assert tablet.status_code == 201 and other.status_code == 201
        mine = app.get("/v1/users/u-42/devices").json()["devices"]
        assert sorted(d["endpoint"] for d in mine) == ["http://127.0.0.1:9/u/1-new", "http://127.0.0.1:9/u/2"]


def test_an_app_users_device_never_gets_log_events(hub: ThreadHub) -> None:
    with hub.client(users_key(hub)) as app:
        register(app, "http://127.0.0.1:9/u/1", **PROFILE)
    with hub.client(hub.read_key) as team:
        team_device = register(team, "http://127.0.0.1:9/team/1").json()["id"]
    with hub.client(hub.publish_key) as publisher:
        accepted = publisher.post("/v1/events", json={"events": [{"level": "critical", "title": "db down"}]})
    assert accepted.status_code == 202, accepted.text
    with hub.client(hub.read_key) as team:
        event_id = team.get("/v1/events").json()["events"][0]["id"]

        def devices_reached() -> set[str]:
            rows = team.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
            return {row["device_id"] for row in rows}

        wait_until(lambda: bool(devices_reached()), timeout=10, what="deliveries")
        assert devices_reached() == {team_device}


def test_rotating_the_users_key_keeps_the_audience(hub: ThreadHub) -> None:
    first = users_key(hub)
    with hub.client(first) as app:
        device_id = register(app, "http://127.0.0.1:9/u/1", **PROFILE).json()["id"]
    with hub.client(hub.read_key) as team:
        team_device = register(team, "http://127.0.0.1:9/team/1").json()["id"]
    with hub.client(hub.admin_key) as admin:
        first_id = next(k["id"] for k in admin.get("/v1/keys").json()["keys"] if k["scope"] == "users")
        assert admin.delete(f"/v1/keys/{first_id}").status_code == 200
    with hub.client(first) as revoked:
        assert revoked.get("/v1/users/u-42/devices").status_code == 401
    with hub.client(users_key(hub)) as app:
        assert [d["id"] for d in app.get("/v1/users/u-42/devices").json()["devices"]] == [device_id]
    with hub.client(hub.read_key) as team:  # the team device of a live key is untouched too
        assert [d["id"] for d in team.get("/v1/devices").json()["devices"]] == [team_device]
