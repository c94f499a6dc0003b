"""Bulk imports of app users and their Web Push devices (``users.add_users``,
``devices.add_webpush_devices``) on SQLite and PostgreSQL: stored as the one-by-one paths store
them (sealed, found again by a later registration), and nothing existing is overwritten."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.hub.store.rows import NOW, VAULT
from tests.support.devices import P256DH

from pushlog._levels import Level
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import users as user_store
from pushlog.hub.store._tables import devices


def _reg(n: int) -> device_store.WebPushRegistration:
    return device_store.WebPushRegistration(
        name=None,
        endpoint=f"https://push.example/{n}",
        p256dh=P256DH,
        auth="BTBZMqHH6r4Tts7J_aSIgg",
        min_level=Level.DEBUG,
        channels=None,
        profile=device_store.Profile(user_id=f"u{n}", locale="de"),
    )


def test_imported_users_and_devices_read_back_like_registered_ones(engine: sa.Engine) -> None:
    profiles = {
        f"u{n}": user_store.UserProfile(plan="pro", custom={"name": f"N{n}", "age": n}, topics=["news"])
        for n in range(3)
    }
    with engine.begin() as conn:
        assert user_store.add_users(conn, profiles, now=NOW) == 3
        ids = device_store.add_webpush_devices(conn, [_reg(n) for n in range(3)], vault=VAULT, now=NOW)
    with engine.begin() as conn:
        user = user_store.get_user(conn, "u1")
        assert user is not None
        assert (user["plan"], user["custom"], user["topics"]) == ("pro", {"name": "N1", "age": 1}, ["news"])
        assert (user["devices"], user["effective"]["locale"]) == (1, "de")
        stored = conn.execute(sa.select(devices).where(devices.c.id == ids[1])).one()._mapping
        assert "push.example" not in str(stored["endpoint"])  # sealed, like register_webpush does
        assert device_store.webpush_secrets(stored, VAULT) == (_reg(1).endpoint, P256DH, _reg(1).auth)
        again, created = device_store.register_webpush(conn, _reg(1), vault=VAULT, now=NOW)
        assert (again["id"], created) == (ids[1], False)  # the lookup hash finds the imported device


def test_an_import_never_overwrites(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device_store.add_webpush_devices(conn, [_reg(0)], vault=VAULT, now=NOW)
        user_store.add_users(conn, {"u0": user_store.UserProfile()}, now=NOW)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        device_store.add_webpush_devices(conn, [_reg(0)], vault=VAULT, now=NOW)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        user_store.add_users(conn, {"u0": user_store.UserProfile(plan="x")}, now=NOW)
