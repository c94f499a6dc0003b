"""Audience filters compiled to SQL, the same cases on SQLite and PostgreSQL; users' attributes,
topics and erasure; migration 0010 ends with the tables ``_tables`` declares."""

from __future__ import annotations

import datetime as _dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pushlog.hub import audience
from pushlog.hub.store import migrate
from pushlog.hub.store import users as user_store
from pushlog.hub.store._engine import alembic_config
from pushlog.hub.store._tables import devices, metadata
from pushlog.hub.store.users import UserProfile

NOW = _dt.datetime(2026, 3, 1, 12, 0, tzinfo=_dt.UTC)
DAY = _dt.timedelta(days=1)


def _device(conn: sa.Connection, device_id: str, user_id: str | None, **columns: object) -> None:
    conn.execute(
        devices.insert().values(
            id=device_id,
            kind=columns.pop("kind", "webpush"),
            endpoint=f"https://push.example/{device_id}",
            p256dh="k",
            auth="a",
            created_at=NOW,
            updated_at=NOW,
            user_id=user_id,
            **columns,
        )
    )


@pytest.fixture
def people(engine: sa.Engine) -> sa.Engine:
    """ann (pro, DE, de, age 34, news), bob (free, AT, two devices), cid (pro, US, no device),
    dan (only a device names him), eve (free, custom vip), and a team device without a user."""
    with engine.begin() as conn:
        put = user_store.put_user
        put(
            conn,
            "ann",
            UserProfile(
                plan="pro", country="DE", locale="de", custom={"age": 34, "name": "Ann"}, topics=["news"]
            ),
            now=NOW,
        )
        put(
            conn,
            "bob",
            UserProfile(plan="free", country="AT", custom={"age": 17}, topics=["news", "deals"]),
            now=NOW,
        )
        put(conn, "cid", UserProfile(plan="pro", country="US", timezone="America/New_York"), now=NOW)
        put(conn, "eve", UserProfile(plan="free", custom={"vip": True, "name": "Eve"}), now=NOW)
        _device(
            conn, "d_ann", "ann", platform="ios", app_version="3.1", last_seen_at=NOW - 2 * DAY, kind="apns"
        )
        _device(
            conn, "d_bob1", "bob", platform="android", locale="de-AT", last_seen_at=NOW - 40 * DAY, kind="fcm"
        )
        _device(conn, "d_bob2", "bob", platform="web", locale="de-AT", last_seen_at=NOW - 1 * DAY)
        _device(conn, "d_dan", "dan", platform="ios", locale="fr", timezone="Europe/Paris", last_seen_at=NOW)
        _device(conn, "d_eve", "eve", platform="web", last_seen_at=NOW - 100 * DAY)
        _device(conn, "d_team", None)
    return engine


CASES = [
    ('plan = "pro"', {"ann", "cid"}),
    ('plan != "pro"', {"bob", "dan", "eve"}),
    ('not plan = "pro"', {"bob", "dan", "eve"}),
    ('country in ("DE", "AT")', {"ann", "bob"}),
    ('country not in ("DE", "AT")', {"cid", "dan", "eve"}),
    ('locale = "de"', {"ann"}),
    ('locale = "de-AT"', {"bob"}),
    ('locale = "fr" or timezone = "America/New_York"', {"dan", "cid"}),
    ("custom.age >= 18", {"ann"}),
    ("custom.age < 18", {"bob"}),
    ("custom.age exists", {"ann", "bob"}),
    ("not custom.age exists", {"cid", "dan", "eve"}),
    ("custom.vip = true", {"eve"}),
    ('custom.name = "Ann"', {"ann"}),
    ('custom.name != "Ann"', {"bob", "cid", "dan", "eve"}),
    ('topic = "news"', {"ann", "bob"}),
    ('topic in ("deals")', {"bob"}),
    ('device.platform = "ios"', {"ann", "dan"}),
    ("last_seen within 30d", {"ann", "bob", "dan"}),
    ("not last_seen within 30d", {"bob", "cid", "eve"}),
    ('(plan = "pro" or plan = "free") and not (country = "US")', {"ann", "bob", "eve"}),
    ('id in ("ann", "dan", "zed")', {"ann", "dan"}),
    ("device.kind exists", {"ann", "bob", "dan", "eve"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filters_select_the_same_users_on_both_databases(
    people: sa.Engine, text: str, expected: set[str]
) -> None:
    condition = audience.compile_filter(audience.parse_filter(text), now=NOW)
    with people.connect() as conn:
        found = set(audience.sample(conn, condition, 100))
        users = audience.count(conn, condition).users
    assert found == expected
    assert users == len(expected)


def test_device_conditions_pick_devices_and_team_devices_are_never_recipients(people: sa.Engine) -> None:
    with people.connect() as conn:
        everyone = audience.compile_filter(audience.parse_filter("id exists"), now=NOW)
        assert audience.count(conn, everyone) == audience.Reach(5, 4, 5)  # cid has no device, d_team no user
        web = audience.compile_filter(audience.parse_filter('device.platform = "web"'), now=NOW)
        assert sorted(conn.execute(audience.device_rows(web)).scalars()) == ["d_bob2", "d_eve"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "plan =",
            "column 7: expected a value (a string, a number, true or false), found the end of the filter",
        ),
        ('plan = "pro" plan', "column 14: expected 'and', 'or' or the end of the filter, found 'plan'"),
        ('(plan = "pro"', "column 14: expected ')', found the end of the filter"),
        ('plan = "pro', "column 8: a string that is never closed"),
        ("plan ~ 1", "column 6: unexpected character '~'"),
        ("last_seen within 30", "column 18: expected a duration such as 30d, 12h or 90m, found '30'"),
        ('nickname = "x"', "column 1: unknown field 'nickname'"),
        ("plan = 3", "column 1: plan is text: compare it with a string, not a number"),
        ('last_seen >= "2026-01-01"', "column 1: last_seen is a time: use 'within'"),
        ("plan within 3d", "column 1: 'within' needs a time field"),
        ("", "the filter is empty"),
        ("not " * 40 + 'plan = "x"', "column 133: nested more than 32 levels deep"),
    ],
)
def test_bad_filters_name_the_column_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(audience.FilterError) as caught:
        audience.compile_filter(audience.parse_filter(text), now=NOW)
    assert str(caught.value).startswith(message)


def test_users_merge_device_reports_and_erasure_removes_their_devices(people: sa.Engine) -> None:
    with people.begin() as conn:
        bob = user_store.get_user(conn, "bob")
        dan = user_store.get_user(conn, "dan")
        assert bob is not None and dan is not None
        assert bob["effective"] == {"locale": "de-AT", "timezone": None} and bob["devices"] == 2
        assert bob["topics"] == ["deals", "news"] and bob["custom"] == {"age": 17}
        assert dan["effective"] == {"locale": "fr", "timezone": "Europe/Paris"} and dan["created_at"] is None
        assert user_store.delete_user(conn, "bob") == 2
        assert user_store.get_user(conn, "bob") is None
        assert user_store.delete_user(conn, "bob") is None
        left = set(conn.execute(sa.select(devices.c.id)).scalars())
    assert left == {"d_ann", "d_dan", "d_eve", "d_team"}
    with people.connect() as conn:
        news = audience.compile_filter(audience.parse_filter('topic = "news" or custom.age exists'), now=NOW)
        assert set(audience.sample(conn, news, 10)) == {"ann"}


def test_the_migrated_schema_is_the_declared_one(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migration_0010_goes_down_and_up_again(engine: sa.Engine) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    assert "notifications" not in sa.inspect(engine).get_table_names()
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
