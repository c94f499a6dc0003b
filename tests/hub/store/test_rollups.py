"""The hourly rollups (``store/rollups.py``) give exactly what counting the events table gives, on
SQLite and PostgreSQL: random batches with dedup follow-ups (folded into lines stored earlier and
into lines of the same batch), read back over random windows that start and end mid-hour, in hour
and day buckets, bounded and open-ended; and migration 0013 fills them from the events already
stored, matches the declared tables and goes down and up again."""

from __future__ import annotations

import datetime as _dt
import random
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from tests.hub.store.migrating import differences, downgrade_to
from tests.hub.store.rows import REPEAT

from pushlog._levels import Level
from pushlog.hub.store import events as event_store
from pushlog.hub.store import migrate, rollups
from pushlog.hub.store._tables import event_rollup, events, fingerprint_rollup
from pushlog.hub.store._window import BUCKETS, Window

START = _dt.datetime(2026, 3, 1, tzinfo=_dt.UTC)
SPAN = _dt.timedelta(days=3)
LEVELS: list[Any] = [Level.DEBUG, Level.INFO, 25, Level.WARNING, Level.ERROR, Level.CRITICAL]
CHANNELS = [None, "", "api", "billing", "ops"]
PRINTS = [None, "fp0", "fp1", "fp2", "fp3", "fp4"]


def _random_batches(rng: random.Random, batches: int, size: int) -> list[list[event_store.NewEvent]]:
    made: list[str] = []
    out = []
    serial = 0
    for _ in range(batches):
        batch = []
        for _ in range(size):
            serial += 1
            fp = rng.choice(PRINTS)
            repeat_of = rng.choice(made) if made and rng.random() < 0.25 else None
            batch.append(
                event_store.NewEvent(
                    id=f"ev{serial}",
                    ts=START + rng.random() * SPAN,
                    level=rng.choice(LEVELS),
                    title=f"title {rng.randrange(4)}",
                    channel=rng.choice(CHANNELS),
                    fingerprint=fp,
                    count=rng.randrange(1, 5),
                    repeat_of=repeat_of,
                )
            )
            made.append(f"ev{serial}")
        out.append(batch)
    return out


def _bucket(ts: _dt.datetime, unit: str) -> _dt.datetime:
    ts = ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0) if unit == "day" else ts


def _stored(conn: sa.Connection) -> list[Any]:
    return list(
        conn.execute(
            sa.select(
                events.c.ts,
                events.c.level,
                events.c.channel,
                events.c.fingerprint,
                events.c.title,
                events.c.count,
            ).where(events.c.merged_into.is_(None))
        )
    )


def _expected_counts(rows: list[Any], window: Window) -> dict[tuple[Any, ...], tuple[int, int]]:
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.ts >= window.since and (not window.bounded or row.ts < window.until):
            cell = out[(_bucket(row.ts, window.unit), row.level, row.channel or None)]
            cell[0] += 1
            cell[1] += row.count
    return {key: (n, occ) for key, (n, occ) in out.items()}


def _expected_noisiest(rows: list[Any], window: Window, top: int) -> list[tuple[Any, ...]]:
    per: dict[str, list[Any]] = {}
    for row in rows:
        inside = row.ts >= window.since and (not window.bounded or row.ts < window.until)
        if not inside or row.fingerprint is None:
            continue
        entry = per.setdefault(row.fingerprint, [0, 0, row.level, row.title, row.channel])
        entry[0] += 1
        entry[1] += row.count
        entry[2] = max(entry[2], row.level)
        entry[3] = max(entry[3], row.title)
        if row.channel is not None:
            entry[4] = row.channel if entry[4] is None else max(entry[4], row.channel)
    ranked = sorted(per.items(), key=lambda item: (-item[1][1], item[0]))[:top]
    return [(fp, *values) for fp, values in ranked]


def _random_windows(rng: random.Random) -> list[Window]:
    windows = [
        Window(since=START, until=START + SPAN, unit="day"),  # whole hours only
        Window(since=START + _dt.timedelta(minutes=20), until=START + _dt.timedelta(minutes=50)),  # one hour
    ]
    for _ in range(10):
        since = START + rng.random() * SPAN
        until = since + rng.random() * (START + SPAN - since)
        windows.append(Window(since=since, until=until, unit=rng.choice(list(BUCKETS))))
    windows.append(Window(since=START + rng.random() * SPAN, until=START + SPAN, bounded=False))
    return windows


def _check(conn: sa.Connection, window: Window) -> None:
    rows = _stored(conn)
    found = {(s, lv, ch): (n, occ) for s, lv, ch, n, occ in rollups.event_counts(conn, window)}
    assert found == _expected_counts(rows, window), window
    got = [tuple(row) for row in rollups.noisiest(conn, window, 4)]
    assert got == _expected_noisiest(rows, window, 4), window


def test_rollup_answers_equal_counting_the_events(engine: sa.Engine) -> None:
    rng = random.Random(11)
    for batch in _random_batches(rng, batches=8, size=60):
        with engine.begin() as conn:
            event_store.insert_events(conn, batch, key_id=None, now=START + SPAN, repeat=REPEAT)
    with engine.connect() as conn:
        merged = conn.execute(sa.select(sa.func.count()).where(events.c.merged_into.is_not(None))).scalar()
        assert merged and merged > 50  # follow-ups were folded in, so lines' counts grew after insert
        for window in _random_windows(rng):
            _check(conn, window)


def test_migration_0013_fills_the_rollups_from_stored_events_and_goes_down_and_up(engine: sa.Engine) -> None:
    rng = random.Random(5)
    for batch in _random_batches(rng, batches=3, size=40):
        with engine.begin() as conn:
            event_store.insert_events(conn, batch, key_id=None, now=START + SPAN, repeat=REPEAT)
    assert differences(engine, "rollup") == []
    with engine.connect() as conn:
        before = {t.name: set(conn.execute(sa.select(t)).all()) for t in (event_rollup, fingerprint_rollup)}
    assert all(before.values())
    downgrade_to(engine, "0012")
    assert not {"event_rollup", "fingerprint_rollup"} & set(sa.inspect(engine).get_table_names())
    migrate(engine)
    assert differences(engine, "rollup") == []
    with engine.connect() as conn:
        after = {t.name: set(conn.execute(sa.select(t)).all()) for t in (event_rollup, fingerprint_rollup)}
        assert after == before  # the backfill gives what ingest kept, cell by cell
        for window in _random_windows(rng)[:4]:
            _check(conn, window)
