"""Device secrets at rest and the device lifecycle in the store, on SQLite and PostgreSQL: nothing a
device can be pushed with is readable without the key, rows from before encryption are sealed by the
reseal pass, key rotation re-encrypts and re-hashes, inactive devices are pruned, and an app user's
device gets no log event."""

from __future__ import annotations

import datetime as _dt
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tests.hub.store.rows import NOW, REPEAT, VAULT, new_event
from tests.support.devices import AUTH, P256DH
from tests.support.hub_server import start_hub_thread, wait_until

from pushlog._levels import Level
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store._tables import deliveries, devices
from pushlog.hub.store.device_tokens import DeviceTokenVault

ENDPOINT = "https://fcm.googleapis.com/fcm/send/secret-capability-1"
FCM_TOKEN = "fcm-token-secret:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZuJAEcl7B338"
NEW_VAULT = DeviceTokenVault(bytes(range(1, 33)), bytes(range(32)))  # rotated: new key first, old kept


def webpush(
    endpoint: str = ENDPOINT, *, profile: device_store.Profile | None = None
) -> device_store.WebPushRegistration:
    return device_store.WebPushRegistration(
        name=None,
        endpoint=endpoint,
        p256dh=P256DH,
        auth=AUTH,
        min_level=Level.WARNING,
        channels=None,
        profile=profile or device_store.Profile(),
    )


def native(token: str = FCM_TOKEN) -> device_store.NativeRegistration:
    return device_store.NativeRegistration(
        kind="fcm", name=None, token=token, min_level=Level.WARNING, channels=None
    )


def raw_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(devices)).all()]


def test_a_database_copy_reveals_no_token_endpoint_or_key(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device_store.register_webpush(conn, webpush(), vault=VAULT, now=NOW)
        device_store.register_native(conn, native(), vault=VAULT, now=NOW)
    secrets = (ENDPOINT, P256DH, AUTH, FCM_TOKEN, "secret-capability", "fcm-token-secret")
    for row in raw_rows(engine):
        for value in map(str, row.values()):
            assert not any(secret in value for secret in secrets), (row["kind"], value)
    if engine.dialect.name == "sqlite":  # the file itself, WAL included
        engine.dispose()
        db_file = engine.url.database
        assert db_file is not None
        files = [Path(db_file), Path(db_file + "-wal")]
        raw = b"".join(path.read_bytes() for path in files if path.exists())
        assert not any(secret.encode() in raw for secret in secrets)
    with engine.connect() as conn:  # with the key, the hub reads them back
        listed = device_store.list_devices(conn, VAULT)
        row = conn.execute(sa.select(devices).where(devices.c.kind == "webpush")).one()
    assert {d["endpoint"] for d in listed} == {ENDPOINT, None}
    assert device_store.webpush_secrets(dict(row._mapping), VAULT) == (ENDPOINT, P256DH, AUTH)
    # another hub's key opens nothing
    assert device_store.webpush_secrets(dict(row._mapping), DeviceTokenVault(bytes(32))) is None


def test_reseal_encrypts_rows_stored_in_plaintext_before_encryption(engine: sa.Engine) -> None:
    with engine.begin() as conn:  # a Web Push row as every hub before migration 0009 wrote it
        conn.execute(
            devices.insert().values(
                id="dev_old",
                kind="webpush",
                endpoint=ENDPOINT,
                p256dh=P256DH,
                auth=AUTH,
                min_level=30,
                created_at=NOW,
                updated_at=NOW,
                last_seen_at=NOW,
            )
        )
        # until the pass reaches it, registering the same subscription finds it
        found, created = device_store.register_webpush(conn, webpush(), vault=VAULT, now=NOW)
        assert (found["id"], created) == ("dev_old", False)
        conn.execute(devices.update().values(endpoint=ENDPOINT, p256dh=P256DH, auth=AUTH, token_hash=None))
    assert device_store.reseal_all(engine, VAULT) == 1
    assert device_store.reseal_all(engine, VAULT) == 0  # idempotent
    (row,) = raw_rows(engine)
    assert all(row[c].startswith(VAULT.current_prefix) for c in ("endpoint", "p256dh", "auth"))
    assert row["token_hash"] == VAULT.lookup_hash("webpush", ENDPOINT)
    with engine.begin() as conn:
        again, created = device_store.register_webpush(conn, webpush(), vault=VAULT, now=NOW)
    assert (again["id"], created) == ("dev_old", False)


def test_key_rotation_reencrypts_and_rehashes_every_device(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        web, _ = device_store.register_webpush(conn, webpush(), vault=VAULT, now=NOW)
        fcm, _ = device_store.register_native(conn, native(), vault=VAULT, now=NOW)
    # after the key change, before the pass: old rows still decrypt and are still found
    with engine.begin() as conn:
        assert device_store.count_not_current(conn, NEW_VAULT) == 2
        same, created = device_store.register_native(conn, native(), vault=NEW_VAULT, now=NOW)
        assert (same["id"], created) == (fcm["id"], False)
    assert device_store.reseal_all(engine, NEW_VAULT) == 1  # the web push row (the fcm one was refreshed)
    with engine.connect() as conn:
        assert device_store.count_not_current(conn, NEW_VAULT) == 0
    new_only = DeviceTokenVault(bytes(range(1, 33)))  # the old key retired
    for row in raw_rows(engine):
        assert row["token_hash"] == new_only.lookup_hash(
            row["kind"], ENDPOINT if row["kind"] == "webpush" else FCM_TOKEN
        )
        if row["kind"] == "webpush":
            assert device_store.webpush_secrets(row, new_only) == (ENDPOINT, P256DH, AUTH)
            assert device_store.webpush_secrets(row, VAULT) is None  # the old key alone opens nothing
        else:
            assert new_only.decrypt("fcm", row["token"]) == FCM_TOKEN
    with engine.begin() as conn:
        _, created = device_store.register_webpush(conn, webpush(), vault=new_only, now=NOW)
    assert not created and web["id"]


def test_prune_removes_app_users_devices_unseen_since_the_cutoff(engine: sa.Engine) -> None:
    day = _dt.timedelta(days=1)
    app_user = device_store.Profile(user_id="u1")

    def register(endpoint: str, at: _dt.datetime, profile: device_store.Profile = app_user) -> str:
        with engine.begin() as conn:
            device, _ = device_store.register_webpush(
                conn, webpush(endpoint, profile=profile), vault=VAULT, now=at
            )
        return str(device["id"])

    old = register("https://push.example/old", NOW)
    seen = register("https://push.example/seen", NOW)
    register("https://push.example/seen", NOW + 200 * day)
    team = register("https://push.example/team", NOW, device_store.Profile())  # never pruned for age
    with engine.begin() as conn:
        assert device_store.prune_inactive(conn, before=NOW + day) == 1
        assert device_store.prune_inactive(conn, before=NOW + day) == 0
        left = {d["id"] for d in device_store.list_devices(conn, VAULT)}
    assert left == {seen, team} and old not in left


def test_installation_replacement_is_per_owner(engine: sa.Engine) -> None:
    def user(user_id: str, install: str) -> device_store.Profile:
        return device_store.Profile(user_id=user_id, installation_id=install, platform="web")

    with engine.begin() as conn:
        first, _ = device_store.register_webpush(
            conn, webpush("https://push.example/a", profile=user("u1", "i1")), vault=VAULT, now=NOW
        )
        moved, created = device_store.register_webpush(
            conn, webpush("https://push.example/b", profile=user("u1", "i1")), vault=VAULT, now=NOW
        )
        assert (moved["id"], created, moved["endpoint"]) == (first["id"], False, "https://push.example/b")
        _, created = device_store.register_webpush(
            conn, webpush("https://push.example/c", profile=user("u2", "i1")), vault=VAULT, now=NOW
        )
        assert created
        # the install switches to FCM: the same device row, the Web Push secrets gone
        switched, created = device_store.register_native(
            conn,
            device_store.NativeRegistration(
                kind="fcm",
                name=None,
                token=FCM_TOKEN,
                min_level=Level.WARNING,
                channels=None,
                profile=user("u1", "i1"),
            ),
            vault=VAULT,
            now=NOW,
        )
        assert (switched["id"], created, switched["kind"], switched["endpoint"]) == (
            first["id"],
            False,
            "fcm",
            None,
        )
        assert [d["user_id"] for d in device_store.list_devices(conn, VAULT, user_id="u1")] == ["u1"]
        assert len(device_store.list_devices(conn, VAULT, team=False)) == 2
        assert device_store.list_devices(conn, VAULT, team=True) == []


def test_app_users_devices_get_no_log_events(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        team, _ = device_store.register_webpush(conn, webpush("https://push.example/t"), vault=VAULT, now=NOW)
        device_store.register_webpush(
            conn,
            webpush("https://push.example/u", profile=device_store.Profile(user_id="u1")),
            vault=VAULT,
            now=NOW,
        )
        result = event_store.insert_events(
            conn, [new_event("down", level=Level.CRITICAL, push=True)], key_id=None, now=NOW, repeat=REPEAT
        )
        reached = conn.execute(sa.select(deliveries.c.device_id)).scalars().all()
    assert result.deliveries == 1 and reached == [team["id"]]


def test_two_registrations_of_one_new_token_at_once_make_one_device(pg_url: str) -> None:
    """On PostgreSQL the second insert waits for the first and then meets the unique lookup hash: it
    refreshes the device the first one made instead of failing."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    migrate(engine)
    try:
        first = engine.connect()
        first.begin()
        made, created = device_store.register_native(first, native(), vault=VAULT, now=NOW)
        assert created
        answers: list[tuple[dict[str, Any], bool]] = []

        def second() -> None:
            with engine.begin() as conn:
                answers.append(device_store.register_native(conn, native(), vault=VAULT, now=NOW))

        racer = threading.Thread(target=second)
        racer.start()
        with engine.connect() as probe:  # the racer is waiting on the first transaction's row lock
            wait_until(
                lambda: (
                    probe.execute(
                        sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                    ).scalar_one()
                    > 0
                ),
                timeout=10,
                what="the second registration to wait",
            )
        first.commit()
        first.close()
        racer.join(timeout=10)
        assert [(d["id"], c) for d, c in answers] == [(made["id"], False)]
        assert len(raw_rows(engine)) == 1
    finally:
        engine.dispose()


def test_a_hub_on_postgresql_keeps_app_users_devices_apart_and_sealed(pg_url: str, tmp_path: Path) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    running = start_hub_thread(tmp_path / "data", db_url=pg_url, allow_private_endpoints=True)
    try:
        with running.client(running.admin_key) as admin:
            users_key = admin.post("/v1/keys", json={"name": "app", "scope": "users"}).json()["secret"]
        body = {
            "subscription": {
                "endpoint": "http://127.0.0.1:9/pg-secret",
                "keys": {"p256dh": P256DH, "auth": AUTH},
            },
            "user_id": "u1",
            "timezone": "Asia/Tokyo",
            "attributes": {"plan": "pro"},
        }
        with running.client(users_key) as app:
            assert app.post("/v1/devices", json=body).status_code == 201
            assert app.post("/v1/devices", json=body).status_code == 200
            (device,) = app.get("/v1/users/u1/devices").json()["devices"]
            assert app.get("/v1/events").status_code == 403
        assert (device["timezone"], device["attributes"], device["endpoint"]) == (
            "Asia/Tokyo",
            {"plan": "pro"},
            "http://127.0.0.1:9/pg-secret",
        )
        with running.client(running.read_key) as team:
            assert team.get("/v1/devices").json()["devices"] == []
        (row,) = raw_rows(engine)
        assert "pg-secret" not in str(row) and P256DH not in str(row) and AUTH not in str(row)
    finally:
        running.stop()
        engine.dispose()
