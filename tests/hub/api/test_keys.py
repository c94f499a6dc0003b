"""/v1/keys and scopes: publish < read < admin; keys stored hashed."""

from __future__ import annotations

import datetime as _dt
import sqlite3

from tests.support.hub_server import ThreadHub, wait_until

from pushlog.hub._keycache import KEY_CACHE_SECONDS
from pushlog.hub.store import create_engine
from pushlog.hub.store import keys as key_store


def test_admin_creates_lists_and_revokes_keys(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as admin:
        created = admin.post("/v1/keys", json={"name": "billing app", "scope": "publish"})
        assert created.status_code == 201
        made = created.json()
        assert made["secret"].startswith("pl_publish_") and len(made["secret"]) == len("pl_publish_") + 32
        assert made["prefix"] == made["secret"][len("pl_publish_") :][:8]
        listed = admin.get("/v1/keys").json()["keys"]
        assert {k["name"] for k in listed} >= {"billing app", "bootstrap admin", "bootstrap read"}
        assert all("secret" not in k and "hash" not in k for k in listed)
        with hub.client(made["secret"]) as app:
            assert app.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 202
        revoked = admin.delete(f"/v1/keys/{made['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        with hub.client(made["secret"]) as app:
            assert app.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 401
        assert admin.delete("/v1/keys/key_nope").status_code == 404
        bad = admin.post("/v1/keys", json={"name": "x", "scope": "root"})
        assert bad.status_code == 422


def test_scope_matrix(hub: ThreadHub) -> None:
    cases = {
        ("POST", "/v1/events"): {"publish": 202, "read": 202, "admin": 202},
        ("GET", "/v1/events"): {"publish": 403, "read": 200, "admin": 200},
        ("GET", "/v1/devices"): {"publish": 403, "read": 200, "admin": 200},
        ("GET", "/v1/keys"): {"publish": 403, "read": 403, "admin": 200},
    }
    keys = {"publish": hub.publish_key, "read": hub.read_key, "admin": hub.admin_key}
    for (method, path), expected in cases.items():
        for scope, status in expected.items():
            with hub.client(keys[scope]) as client:
                body = {"events": [{"title": "scope check"}]} if method == "POST" else None
                answer = client.request(method, path, json=body)
            assert answer.status_code == status, (method, path, scope, answer.text)


def test_only_hashes_are_stored(hub: ThreadHub) -> None:
    connection = sqlite3.connect(hub.data_dir / "pushlog.db")
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    for secret in (hub.admin_key, hub.publish_key, hub.read_key):
        assert secret not in dump


def test_the_key_cache_keeps_digests_never_secrets(hub: ThreadHub) -> None:
    """Keys in use are kept by the digest the key store looks them up by: no raw secret is held."""
    secrets_used = (hub.admin_key, hub.publish_key, hub.read_key)
    for secret in secrets_used:
        with hub.client(secret) as client:
            assert client.get("/v1/devices").status_code in (200, 403)
    found = hub.app.state.hub.keys._found
    assert set(found) >= {key_store.hash_secret(s) for s in secrets_used}
    held = repr(found)
    assert not any(secret in held for secret in secrets_used)


def test_a_key_revoked_outside_this_process_is_refused_within_the_key_cache_time(hub: ThreadHub) -> None:
    """A key in use is kept for KEY_CACHE_SECONDS (no database read per request); revoked by another
    process (``pushlog keys revoke`` writes the database directly) it is refused once that passed."""
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "elsewhere", "scope": "publish"}).json()
    with hub.client(made["secret"]) as app:
        assert app.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 202
        engine = create_engine(f"sqlite:///{hub.data_dir / 'pushlog.db'}")
        try:
            with engine.begin() as conn:
                key_store.revoke_key(conn, made["id"], now=_dt.datetime.now(_dt.UTC))
        finally:
            engine.dispose()
        wait_until(
            lambda: app.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 401 or None,
            timeout=KEY_CACHE_SECONDS + 10,
            what="the revoked key refused",
        )
