"""The event store on SQLite and PostgreSQL: bulk inserts store what Core inserts store, and dedup
follow-ups fold into their line (count, last_seen_at, hidden row, stream updates)."""

from __future__ import annotations

import datetime as _dt
import uuid

import sqlalchemy as sa
from tests.hub.store.rows import NOW, REPEAT, new_event, rich_event

from pushlog._levels import Level
from pushlog.hub.store import events as event_store
from pushlog.hub.store._tables import event_meta, event_tags, events

EVERYTHING = event_store.EventFilter()


def raw_rows(conn: sa.Connection, table: sa.Table, order: str) -> list[tuple[object, ...]]:
    """Rows as the driver returns them (JSON and timestamps as stored, no SQLAlchemy processing)."""
    return list(conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY {order}").fetchall())


def test_bulk_ingest_stores_exactly_what_a_core_insert_stores(engine: sa.Engine) -> None:
    item = rich_event()
    with engine.begin() as conn:
        event_store.insert_events(conn, [item], key_id="k1", now=NOW, repeat=REPEAT)
        seq = conn.execute(sa.select(events.c.seq).where(events.c.id == item.id)).scalar_one()
        core = {
            c: v
            for c, v in zip(
                event_store._EVENT_COLUMNS,
                event_store._row(item, key_id="k1", now=NOW, repeat=REPEAT),
                strict=True,
            )
        }
        core["id"] = "core-" + item.id
        conn.execute(events.insert().values(seq=seq + 1, **core))
        conn.execute(event_tags.insert(), [{"event_seq": seq + 1, "tag": t} for t in item.tags])
        conn.execute(
            event_meta.insert(),
            [
                {"event_seq": seq + 1, "key": k, "value": event_store.meta_text(v)}
                for k, v in item.metadata.items()
                if event_store.meta_text(v) is not None
            ],
        )
        bulk, via_core = raw_rows(conn, events, "seq")
        assert bulk[2:] == via_core[2:]  # everything after seq and id, as stored
        tags = raw_rows(conn, event_tags, "event_seq, tag")
        assert [t[1:] for t in tags if t[0] == seq] == [t[1:] for t in tags if t[0] == seq + 1]
        meta = raw_rows(conn, event_meta, "event_seq, key")
        assert [m[1:] for m in meta if m[0] == seq] == [m[1:] for m in meta if m[0] == seq + 1]
        assert {m[1]: m[2] for m in meta if m[0] == seq} == {
            "host": "db-1",
            "pct": "90",
            "ratio": "0.5",
            "ok": "false",
            "none": "null",
        }
        stored = event_store.get_event(conn, item.id)
    assert stored is not None
    assert (stored["metadata"], stored["tags"], stored["ts"]) == (
        item.metadata,
        item.tags,
        "2026-01-01T12:00:00.000000Z",
    )


def follow_up(first: event_store.NewEvent, count: int, *, minutes: int) -> event_store.NewEvent:
    return new_event(
        first.title,
        id=str(uuid.uuid4()),
        count=count,
        repeat_of=first.id,
        ts=NOW + _dt.timedelta(minutes=minutes),
        tags=first.tags,
    )


def test_follow_ups_fold_into_their_line_on_both_dialects(engine: sa.Engine) -> None:
    first = new_event("db down", level=Level.ERROR, tags=["db"])
    with engine.begin() as conn:
        start = event_store.max_seq(conn)
        one = event_store.insert_events(
            conn, [first, follow_up(first, 10, minutes=1)], key_id=None, now=NOW, repeat=REPEAT
        )
        assert (one.accepted, one.duplicates, one.deliveries) == (2, 0, 0)
    later = follow_up(first, 5, minutes=3)
    with engine.begin() as conn:
        event_store.insert_events(
            conn, [later, follow_up(first, 1, minutes=2)], key_id=None, now=NOW, repeat=REPEAT
        )
        again = event_store.insert_events(conn, [later], key_id=None, now=NOW, repeat=REPEAT)
        assert (again.accepted, again.duplicates) == (0, 1)
    with engine.connect() as conn:
        page, _ = event_store.list_events(conn, event_store.EventFilter(tags=("db",)), limit=10)
        assert [(e["id"], e["count"], e["last_seen_at"]) for e in page] == [
            (first.id, 17, "2026-01-01T12:03:00.000000Z")
        ]
        streamed = event_store.events_after(conn, EVERYTHING, after_seq=start, limit=10)
        assert len(streamed) == 2 and isinstance(streamed[1], event_store.Update)
        assert streamed[0] == page[0] and streamed[1].event == page[0]
        assert streamed[1].position == event_store.max_seq(conn)  # one update, at the last follow-up
        assert (
            event_store.events_after(
                conn, event_store.EventFilter(min_level=Level.CRITICAL), after_seq=start, limit=10
            )
            == []
        )
        first_two = event_store.events_after(conn, EVERYTHING, after_seq=start, limit=2)
        assert [type(item).__name__ for item in first_two] == ["dict", "Update"]
        assert isinstance(first_two[1], event_store.Update) and first_two[1].position == start + 2


def test_the_new_lines_an_ingest_returns_are_what_the_stream_would_read_back(engine: sa.Engine) -> None:
    batch = [
        rich_event(count=3),
        new_event("plain", ts=NOW - _dt.timedelta(seconds=1.5)),
        new_event("pushed", level=Level.WARNING, push=True),
    ]
    with engine.begin() as conn:
        start = event_store.max_seq(conn)
        result = event_store.insert_events(conn, batch, key_id="k1", now=NOW, repeat=REPEAT)
    with engine.connect() as conn:
        read_back = event_store.events_after(conn, EVERYTHING, after_seq=start, limit=10)
    lines = [event_store.line_event(line) for line in result.lines]
    assert [line["title"] for line in lines] == ["disk 90% full", "plain", "pushed"]
    assert lines == read_back


def test_an_ingest_that_folds_or_resolves_returns_no_lines_and_the_stream_reads(engine: sa.Engine) -> None:
    first = new_event("db down", level=Level.ERROR)
    with engine.begin() as conn:
        assert len(event_store.insert_events(conn, [first], key_id=None, now=NOW, repeat=REPEAT).lines) == 1
        folded = event_store.insert_events(
            conn, [new_event("other"), follow_up(first, 2, minutes=1)], key_id=None, now=NOW, repeat=REPEAT
        )
        assert folded.accepted == 2 and folded.lines == []
        recovery = new_event("db up", level=Level.INFO, resolves=first.fingerprint or "db down")
        resolved = event_store.insert_events(conn, [recovery], key_id=None, now=NOW, repeat=REPEAT)
        assert resolved.accepted == 1 and resolved.lines == []


def test_a_lone_event_and_a_batch_report_the_seqs_the_table_gave_them(engine: sa.Engine) -> None:
    # a lone event's seq comes back from INSERT ... RETURNING; a batch's are given by the hub on SQLite,
    # read back after the executemany elsewhere
    lone, first, second = new_event("lone"), new_event("first"), new_event("second")
    with engine.begin() as conn:
        reported = [
            *event_store.insert_events(conn, [lone], key_id="k1", now=NOW, repeat=REPEAT).stored,
            *event_store.insert_events(conn, [first, second], key_id="k1", now=NOW, repeat=REPEAT).stored,
        ]
        table: dict[str, int] = dict(conn.execute(sa.select(events.c.id, events.c.seq)).all())
    assert [(item.id, seq) for seq, item in reported] == [(e.id, table[e.id]) for e in (lone, first, second)]
    assert table[lone.id] < table[first.id] < table[second.id]


def test_a_batch_takes_the_seqs_the_table_would_have_given_its_rows(engine: sa.Engine) -> None:
    # On SQLite the hub numbers a batch itself; the seq is the rowid, which the table gives as the
    # largest + 1 (a deleted newest seq is given again). On PostgreSQL the sequence numbers it.
    a, b, c, d, e = (new_event(title) for title in "abcde")
    with engine.begin() as conn:
        event_store.insert_events(conn, [a, b], key_id="k1", now=NOW, repeat=REPEAT)
        seq_of_b = conn.execute(sa.select(events.c.seq).where(events.c.id == b.id)).scalar_one()
        conn.execute(events.delete().where(events.c.id == b.id))
        reported = event_store.insert_events(conn, [c, d], key_id="k1", now=NOW, repeat=REPEAT).stored
        row = dict(
            zip(
                event_store._EVENT_COLUMNS,
                event_store._row(e, key_id="k1", now=NOW, repeat=REPEAT),
                strict=True,
            )
        )
        conn.execute(events.insert().values(**row))  # numbered by the table
        table: dict[str, int] = dict(conn.execute(sa.select(events.c.id, events.c.seq)).all())
    assert [(item.id, seq) for seq, item in reported] == [(c.id, table[c.id]), (d.id, table[d.id])]
    expected_c = seq_of_b if engine.dialect.name == "sqlite" else seq_of_b + 1
    assert (table[c.id], table[d.id], table[e.id]) == (expected_c, expected_c + 1, expected_c + 2)


def test_the_id_lookup_finds_exactly_the_stored_ids_for_every_list_length(engine: sa.Engine) -> None:
    # the read is compiled per power-of-two length and padded with the last id (store/_prepared.InList)
    stored = [new_event(f"e{i}") for i in range(5)]
    with engine.begin() as conn:
        event_store.insert_events(conn, stored, key_id="k1", now=NOW, repeat=REPEAT)
    known = [e.id for e in stored]
    for length in (1, 2, 3, 5, 100, 130):
        unknown = [str(uuid.uuid4()) for _ in range(length)]
        for ids in (
            unknown,
            [*unknown[: length - 1], known[length % 5]],
            [*known[:length], *unknown][:length],
        ):
            with engine.begin() as conn:
                found = event_store.lookup(conn, ids)
            assert found.checked == frozenset(ids)
            assert found.found == frozenset(ids) & frozenset(known), (length, ids)
