"""Statements run through store/_prepared.py on SQLite and PostgreSQL: each converted ingest statement
reads back exactly what its Core declaration reads, writes what Core writes, and errors, observers
and a connection without a transaction behave as with Core."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
import sqlalchemy as sa
from tests.hub.store.rows import NOW, REPEAT, new_event, rich_event, webpush_device

from pushlog._levels import Level
from pushlog.hub import _pushbudget
from pushlog.hub.attention import Category, PreferenceDocument
from pushlog.hub.rules import declare, parse_rule
from pushlog.hub.store import _locks, outbox, preferences, rollups
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import rules as rule_store
from pushlog.hub.store import triggers as trigger_store
from pushlog.hub.store._prepared import Prepared, PreparedIn
from pushlog.hub.store._tables import event_rollup, events, fanouts, fingerprint_rollup, keys


def both(
    conn: sa.Connection, prepared: Prepared, params: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """The rows of ``prepared`` through the driver, after asserting Core reads the same values."""
    via_core = [tuple(row) for row in conn.execute(prepared.statement(conn.dialect), params or {})]
    via_driver = prepared.rows(conn, params)
    assert [tuple(row) for row in via_driver] == via_core
    return via_core


def test_the_rules_generation_reads_what_core_reads(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert both(conn, rule_store._GENERATION) == [(0, None)]
        spec = parse_rule({"kind": "expect", "every": "1d", "match": {"text": "backup done"}})
        declare(conn, name="backup", spec=spec, source="api", key_id=None, now=NOW)
        [(count, updated)] = both(conn, rule_store._GENERATION)
        assert count == 1 and updated == NOW and updated.tzinfo is not None
        assert rule_store.generation(conn) == (1, NOW)


def test_the_last_seq_reads_what_core_reads(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert both(conn, event_store._LAST_SEQ) == [(None,)]
        event_store.insert_events(conn, [new_event("a"), new_event("b")], key_id=None, now=NOW, repeat=REPEAT)
        [(last,)] = both(conn, event_store._LAST_SEQ)
        assert last == conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()


def test_audience_pages_read_what_core_reads_with_attributes_and_mapping(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = sorted(
            [
                webpush_device(conn, 1, Level.WARNING, None),
                webpush_device(conn, 2, Level.ERROR, ["ops", "ü"]),
                webpush_device(conn, 3, Level.DEBUG, []),
            ]
        )
        conn.execute(device_store.devices.update().values(timezone="Europe/Paris"))
        for (feed_only, after), page in outbox._PAGES.items():
            params = {"b_level": int(Level.WARNING), "b_after": ids[0] if after else None, "b_limit": 8}
            rows = both(conn, page, params)
            expected = ids[1:] if after else ids
            if not feed_only:
                expected = [
                    d
                    for d in expected
                    if conn.execute(
                        sa.select(device_store.devices.c.min_level).where(device_store.devices.c.id == d)
                    ).scalar_one()
                    <= Level.WARNING
                ]
            assert [row[0] for row in rows] == expected
            for row in page.rows(conn, params):  # read like sa.Row: attributes and _mapping
                assert row.id == row._mapping["id"] and row._mapping.get("timezone") == "Europe/Paris"
                assert row.channels in (None, ["ops", "ü"], [])


def test_fanout_rows_store_what_a_core_insert_stores(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        event_store.insert_events(conn, [new_event("a"), new_event("b")], key_id=None, now=NOW, repeat=REPEAT)
        first, second = conn.execute(sa.select(events.c.seq, events.c.id).order_by(events.c.seq)).all()
        later = NOW + _dt.timedelta(microseconds=123456)
        marker = outbox._Marker(first.seq, 0, first.id, 40, "ops ü", True, "dev_x", later)
        outbox._INSERT_FANOUTS.execute(conn, [outbox._marker_row(marker)])
        core = outbox._Marker(second.seq, 0, second.id, 40, "ops ü", True, "dev_x", later)
        conn.execute(fanouts.insert().values(**{f: getattr(core, f) for f in outbox._MARKER_FIELDS}))
        stored = list(conn.exec_driver_sql("SELECT * FROM fanouts ORDER BY event_seq").fetchall())
        assert [row[3:] for row in stored[:1]] == [row[3:] for row in stored[1:]]  # after seq, round, id
        [read] = conn.execute(sa.select(fanouts).where(fanouts.c.event_seq == first.seq)).all()
        assert read.created_at == later and read.feed_only is True


def test_rollup_upserts_add_up_as_core_upserts_do(engine: sa.Engine) -> None:
    items = [rich_event(), rich_event(title="a"), new_event("b", fingerprint="fp", channel=None)]
    with engine.begin() as conn:
        rollups.record(conn, items, {})
        rollups.record(conn, items[:1], {})
        via_driver = (
            conn.execute(sa.select(event_rollup).order_by(*event_rollup.c)).all(),
            conn.execute(sa.select(fingerprint_rollup).order_by(*fingerprint_rollup.c)).all(),
        )
        conn.execute(event_rollup.delete())
        conn.execute(fingerprint_rollup.delete())
        for batch in (items, items[:1]):  # the same through Core: the declarations, run by SQLAlchemy
            _record_through_core(conn, batch)
        via_core = (
            conn.execute(sa.select(event_rollup).order_by(*event_rollup.c)).all(),
            conn.execute(sa.select(fingerprint_rollup).order_by(*fingerprint_rollup.c)).all(),
        )
    assert via_driver == via_core and via_driver[0] and via_driver[1]


def _record_through_core(conn: sa.Connection, batch: list[event_store.NewEvent]) -> None:
    """rollups.record with its UPSERTs executed by Core (``conn.execute``) instead of the driver."""
    original = Prepared.execute_many

    def through_core(prepared: Prepared, conn: sa.Connection, params: Any) -> None:
        conn.execute(prepared.statement(conn.dialect), list(params))

    Prepared.execute_many = through_core  # type: ignore[method-assign]
    try:
        rollups.record(conn, batch, {})
    finally:
        Prepared.execute_many = original  # type: ignore[method-assign]


def test_a_failing_statement_raises_what_core_raises_and_its_transaction_rolls_back(
    engine: sa.Engine,
) -> None:
    item = new_event("a")
    with engine.begin() as conn:
        event_store.insert_events(conn, [item], key_id=None, now=NOW, repeat=REPEAT)
        row = event_store._row(item, key_id=None, now=NOW, repeat=REPEAT)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        event_store._INSERT_EVENTS.execute(conn, [row])  # the same id again: the primary key refuses
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1


def test_observers_see_every_statement_and_no_transaction_is_begun_behind_cores_back(
    engine: sa.Engine,
) -> None:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    with engine.connect() as conn:
        assert event_store._LAST_SEQ.rows(conn) == [(None,)]  # autobegins like Core
        assert conn.in_transaction()
        conn.rollback()
        sa.event.listen(conn, "before_cursor_execute", before)
        with conn.begin():
            event_store._LAST_SEQ.rows(conn)
            rule_store._GENERATION.rows(conn)
    selects = [statement for statement in seen if statement.startswith("SELECT")]  # (SQLite: BEGIN too)
    assert len(selects) == 2 and "events.seq" in selects[0] and "rules.updated_at" in selects[1]


def test_the_push_budgets_reads_read_what_core_reads(engine: sa.Engine) -> None:
    critical = rich_event()  # a pushed CRITICAL: a re-push series
    with engine.begin() as conn:
        event_store.insert_events(conn, [critical, new_event("b")], key_id="k1", now=NOW, repeat=REPEAT)
        assert both(conn, _pushbudget._RUNNING_SERIES, {"b_key": "k1"}) == [(1,)]
        assert both(conn, _pushbudget._RUNNING_SERIES, {"b_key": "other"}) == [(0,)]
        assert both(conn, _pushbudget._SUMMARY, {"b_id": critical.id}) == [(critical.id,)]
        assert both(conn, _pushbudget._SUMMARY, {"b_id": "push-budget-k1-0"}) == []
        with pytest.raises(KeyError, match="b_id"):  # a missing parameter is an error, as with Core
            _pushbudget._SUMMARY.rows(conn, {})


def test_a_batchs_seqs_and_the_ingest_lock_read_what_core_reads(engine: sa.Engine) -> None:
    items = [new_event(f"e{i}") for i in range(3)]
    with engine.begin() as conn:
        event_store.insert_events(conn, items, key_id=None, now=NOW, repeat=REPEAT)
        ids = [item.id for item in items]
        via_core = conn.execute(sa.select(events.c.id, events.c.seq).where(events.c.id.in_(ids))).all()
        assert sorted(event_store._SEQS.rows(conn, ids)) == sorted(tuple(row) for row in via_core)
    if engine.dialect.name == "postgresql":  # the advisory lock (a no-op on SQLite) is held until commit
        held = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        with engine.begin() as conn:
            assert conn.execute(held).scalar_one() == 0
            _locks.hold_for_transaction(conn, _locks.INGEST)
            assert conn.execute(held).scalar_one() == 1


def test_the_gates_reads_read_what_core_reads(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert both(conn, preferences._ANY_DOCUMENT) == [] and both(conn, preferences._CATEGORIES) == []
        device = webpush_device(conn, 1, Level.WARNING, None)
        document = PreferenceDocument(digest_info=True)
        preferences.put_document(conn, "device", device, document, now=NOW)
        preferences.put_category(conn, "billing ü", Category(default="off", description="d"), now=NOW)
        assert both(conn, preferences._ANY_DOCUMENT) == [(device,)]
        [row] = both(conn, preferences._CATEGORIES)
        assert row[0] == "billing ü" and NOW in row
        assert preferences.list_categories(conn) == {"billing ü": Category(default="off", description="d")}


def test_the_triggers_pending_look_reads_what_core_reads(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        [(found,)] = both(conn, trigger_store._PENDING)
        assert not found and trigger_store.pending(conn) is False  # no cursor yet
        event_store.insert_events(conn, [new_event("a"), new_event("b")], key_id=None, now=NOW, repeat=REPEAT)
        trigger_store.move_cursor(conn, conn.execute(sa.select(sa.func.min(events.c.seq))).scalar_one())
        [(found,)] = both(conn, trigger_store._PENDING)
        assert bool(found) and trigger_store.pending(conn) is True  # "b" lies after the cursor
        trigger_store.move_cursor(conn, conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one())
        [(found,)] = both(conn, trigger_store._PENDING)
        assert not found and trigger_store.pending(conn) is False


LATER = _dt.datetime(2026, 1, 1, 8, 30, tzinfo=_dt.timezone(_dt.timedelta(hours=-5)))

_REVOKE = PreparedIn(
    lambda ids: (
        keys.update()
        .where(keys.c.id.in_(ids), keys.c.scope == "publish")
        .values(revoked_at=sa.bindparam("at"), name="revoked")
        .returning(keys.c.id, keys.c.created_at, keys.c.revoked_at)
    )
)
_RENAME = PreparedIn(lambda ids: keys.update().where(keys.c.id.in_(ids)).values(name=sa.bindparam("name")))
_NAMED = Prepared(
    lambda _dialect: sa.select(keys.c.id, keys.c.created_at).where(keys.c.name == sa.bindparam("name"))
)


def _key(conn: sa.Connection, n: int, scope: str = "publish") -> str:
    key_id = f"k{n}"
    conn.execute(
        keys.insert().values(
            id=key_id, name=f"key {n}", scope=scope, prefix="p", hash=f"h{n}", created_at=NOW
        )
    )
    return key_id


def test_an_in_list_of_any_length_changes_exactly_its_rows_and_reads_back_as_core_does(
    engine: sa.Engine,
) -> None:
    """Lists padded to the next power of two (3 -> 4, 5 -> 8) match only their own values; literal
    values and given parameters are bound through the columns' types (a UTC timestamp from another
    zone is stored in UTC), and RETURNING's values come back as a Core read gives them."""
    with engine.begin() as conn:
        ids = [_key(conn, n) for n in range(12)]
        admin = _key(conn, 99, scope="admin")
        first = _REVOKE.rows(conn, [ids[0], ids[1], admin], {"at": LATER})
        assert sorted(r[0] for r in first) == [ids[0], ids[1]]  # admin: not publish
        assert {(r[1], r[2]) for r in first} == {(NOW, LATER)}
        assert all(r[2].tzinfo is not None and r[2].utcoffset() == _dt.timedelta(0) for r in first)
        assert len(_REVOKE.rows(conn, ids[2:7], {"at": NOW})) == 5
        assert _REVOKE.rows(conn, [], {"at": NOW}) == []
        assert _RENAME.execute(conn, [ids[9], ids[10], "missing"], {"name": "renamed"}) == 2
        assert _RENAME.execute(conn, [], {"name": "renamed"}) == 0
        core = {r.id: (r.name, r.revoked_at) for r in conn.execute(sa.select(keys))}
        assert core[ids[0]] == ("revoked", LATER) and core[ids[6]] == ("revoked", NOW)
        assert core[ids[7]] == ("key 7", None) and core[admin] == ("key 99", None)
        assert core[ids[9]] == ("renamed", None) and core[ids[11]] == ("key 11", None)
        assert _NAMED.rows(conn, {"name": "key 8"}) == [(ids[8], NOW)]
        assert _NAMED.rows(conn, {"name": "nobody"}) == []
