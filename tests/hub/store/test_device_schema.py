"""Migration 0009 (app users' device columns) on SQLite and PostgreSQL: a database at 0008 with a device
upgrades, keeps the device, dates it, and ends with the columns and indexes ``_tables.devices`` declares."""

from __future__ import annotations

import datetime as _dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from tests.hub.store.migrating import downgrade_to

from pushlog.hub.store import migrate
from pushlog.hub.store._tables import devices, metadata

UPDATED = _dt.datetime(2026, 11, 30, 12, 0, tzinfo=_dt.UTC)
NEW_COLUMNS = {
    "user_id",
    "platform",
    "app_version",
    "locale",
    "timezone",
    "attributes",
    "installation_id",
    "last_seen_at",
}


def test_0009_adds_the_app_user_columns_and_dates_existing_devices(engine: sa.Engine) -> None:
    downgrade_to(engine, "0008")
    assert not NEW_COLUMNS & {c["name"] for c in sa.inspect(engine).get_columns("devices")}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO devices (id, kind, endpoint, p256dh, auth, min_level, created_at, updated_at,"
                " failure_count) VALUES ('dev_old', 'webpush', 'https://push.example/1', 'k', 'a', 30,"
                " :t, :t, 0)"
            ),
            {"t": UPDATED},
        )
    migrate(engine)
    inspector = sa.inspect(engine)
    assert {c["name"] for c in inspector.get_columns("devices")} >= NEW_COLUMNS
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("devices")}
    assert indexes["ix_devices_user_id"] == ["user_id"]
    assert indexes["ix_devices_installation_id"] == ["installation_id"]
    with engine.connect() as conn:
        row = conn.execute(sa.select(devices).where(devices.c.id == "dev_old")).one()
    assert row.last_seen_at == UPDATED and row.user_id is None and row.attributes is None


def test_the_migrated_devices_table_is_the_declared_one(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    about_devices = [d for d in diff if "devices" in repr(d) and "deliveries" not in repr(d)]
    assert about_devices == []


def test_app_user_columns_round_trip(engine: sa.Engine) -> None:
    values = {
        "user_id": "u-42",
        "platform": "ios",
        "app_version": "3.2.1",
        "locale": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "attributes": {"plan": "pro", "seats": 3, "beta": True},
        "installation_id": "inst-1",
        "last_seen_at": UPDATED,
    }
    with engine.begin() as conn:
        conn.execute(
            devices.insert().values(
                id="dev_u",
                kind="apns",
                token="v1.x",
                token_hash="h" * 64,
                created_at=UPDATED,
                updated_at=UPDATED,
                p256dh="p" * 400,
                auth="a" * 300,
                **values,
            )
        )
        row = conn.execute(sa.select(devices).where(devices.c.user_id == "u-42")).one()
    assert {name: getattr(row, name) for name in values} == values
    assert len(row.p256dh) == 400  # TEXT: a ciphertext longer than the old VARCHAR(200) fits
