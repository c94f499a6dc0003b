"""The hourly delivery rollups (``store/delivery_rollups.py``) keep the delivery sections of
``GET /v1/stats`` exact through every kind of transition the outbox makes, on SQLite and PostgreSQL:
a random sequence of ingest (queued, held by quiet hours, skipped by category), claims, sent, retry,
failed, gone (device deleted, its pending rows failed), receipts delivered and opened, acknowledgement,
held rows released as a summary, a device's pending rows dropped and retention's deletes, with folds
in between, read back over windows that start and end mid-hour and open-ended ones: the
rollup-backed answer equals the answer read from the rows alone, and its counts equal a recount in
Python. On PostgreSQL a fold that starts while a writer's mark is uncommitted waits for it and sees
its change. Migration 0015 creates the tables (matching the declared ones, down and up) and folds
nothing; the duty then folds what is stored in short slices (one transaction each) and every answer
stays exact between slices."""

from __future__ import annotations

import datetime as _dt
import random
import threading
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from tests.hub.store.migrating import differences, downgrade_to
from tests.hub.store.rows import REPEAT, VAULT, webpush_device
from tests.support.hub_server import wait_until

from pushlog._levels import Level
from pushlog.hub.attention import PreferenceDocument
from pushlog.hub.attention._prefs import QuietHours
from pushlog.hub.store import create_engine, delivery_rollups, migrate, outbox
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import preferences as pref_store
from pushlog.hub.store import stats as stats_store
from pushlog.hub.store._tables import (
    as_utc,
    deliveries,
    delivery_latency_rollup,
    delivery_rollup,
    delivery_rollup_dirty,
    delivery_rollup_state,
    events,
)
from pushlog.hub.store._window import Window, epoch_hour

START = _dt.datetime(2026, 3, 2, tzinfo=_dt.UTC)
LEASE = _dt.timedelta(minutes=1)
SECTIONS = ("deliveries", "pushes", "transports", "funnel")


def _devices(conn: sa.Connection) -> list[str]:
    made = [webpush_device(conn, n, now=START) for n in range(2)]
    phone, _ = device_store.register_native(
        conn,
        device_store.NativeRegistration(
            kind="fcm", name="phone", token="tok-1", min_level=Level.WARNING, channels=None
        ),
        vault=VAULT,
        now=START,
    )
    made.append(phone["id"])
    # quiet from midnight to 06:00 UTC (held, released as one summary) and no "marketing" (skipped)
    quiet = PreferenceDocument(
        timezone="UTC",
        quiet_hours=[QuietHours(start="00:00", end="06:00")],
        categories={"marketing": "off"},
        critical_bypass=False,
    )
    pref_store.put_document(conn, pref_store.DEVICE, made[0], quiet, now=START)
    return made


def _ingest(conn: sa.Connection, rng: random.Random, now: _dt.datetime) -> None:
    batch = [
        event_store.NewEvent(
            id=str(uuid.uuid4()),
            ts=now,
            level=rng.choice([Level.WARNING, Level.ERROR, Level.CRITICAL]),
            title="t",
            channel=rng.choice(["ops", "ops", "marketing"]),
            push=True,
        )
        for _ in range(rng.randrange(1, 4))
    ]
    event_store.insert_events(conn, batch, key_id=None, now=now, repeat=REPEAT)


def _some(conn: sa.Connection, rng: random.Random, where: Any, n: int) -> list[Any]:
    rows = conn.execute(sa.select(deliveries.c.id, deliveries.c.event_id).where(where)).all()
    return rng.sample(rows, min(n, len(rows)))


def _step(conn: sa.Connection, rng: random.Random, now: _dt.datetime, device_ids: list[str]) -> None:
    """One round of every kind of transition, on fresh rows and on rows of hours folded already."""
    _ingest(conn, rng, now)
    for claim in outbox.claim_due(conn, now=now, lease=LEASE, limit=6):
        roll = rng.random()
        if roll < 0.6:
            outbox.record_sent(conn, claim, now=now, status_code=201)
        elif roll < 0.75:
            outbox.record_retry(
                conn,
                claim,
                now=now,
                next_attempt_at=now + _dt.timedelta(minutes=3),
                status_code=503,
                error="x",
            )
        elif roll < 0.95:
            outbox.record_failed(conn, claim, now=now, status_code=rng.choice([410, 413, None]), error="x")
        elif claim.device["id"] != device_ids[0]:  # the quiet device stays
            outbox.record_gone(conn, claim, now=now, status_code=404, error="gone")
    went = sa.or_(deliveries.c.status == "sent", deliveries.c.status == "delivered")
    for row in _some(conn, rng, went, 3):
        status = rng.choice(outbox.RECEIPT_STATUSES)
        later = now + _dt.timedelta(seconds=rng.choice([0.25, 0.7, 1.5, 12.34, 95.0]))
        outbox.record_receipt(conn, row.id, status, now=later)
    if rng.random() < 0.3:
        for row in _some(conn, rng, deliveries.c.event_id.is_not(None), 1):
            outbox.acknowledge_deliveries(conn, row.event_id, now=now)
    outbox.release_held(conn, now=now)
    if rng.random() < 0.08:
        outbox.drop_queued(conn, rng.choice(device_ids[1:]))
    if rng.random() < 0.15:
        old = conn.execute(
            sa.select(events.c.seq).where(events.c.ts < now - _dt.timedelta(hours=12)).limit(2)
        ).scalars()
        seqs = list(old)
        outbox.delete_for_events(conn, seqs)
        conn.execute(events.delete().where(events.c.seq.in_(seqs)))


def _delivery_sections(conn: sa.Connection, window: Window) -> dict[str, Any]:
    got = stats_store.stats(conn, window)
    return {name: got[name] for name in SECTIONS}


def _from_rows(engine: sa.Engine, window: Window) -> dict[str, Any]:
    """The answer with nothing folded (every hour read from the rows), in a transaction undone."""
    with engine.connect() as conn:
        conn.execute(delivery_rollup_state.update().values(folded_until=0))
        got = _delivery_sections(conn, window)
        conn.rollback()
    return got


def _recount(conn: sa.Connection, window: Window) -> dict[str, Any]:
    """The window's counts from the rows, in Python."""
    rows = [
        r
        for r in conn.execute(sa.select(deliveries))
        if r.created_at >= window.since and (not window.bounded or r.created_at < window.until)
    ]
    reasons: dict[str, Counter[str]] = {"held": Counter(), "skipped": Counter()}
    for r in rows:
        if r.status in reasons:
            reasons[r.status][r.reason or "unknown"] += 1
    failed = Counter(
        str(r.last_status_code) if r.last_status_code is not None else "no_response"
        for r in rows
        if r.status == "failed"
    )
    return {
        "by_status": {k: v for k, v in Counter(r.status for r in rows).items()},
        "sent": sum(1 for r in rows if r.sent_at is not None or r.delivered_at is not None),
        "delivered": sum(1 for r in rows if r.delivered_at is not None),
        "opened": sum(1 for r in rows if r.opened_at is not None),
        "held": dict(reasons["held"]),
        "skipped": dict(reasons["skipped"]),
        "failed": dict(failed),
    }


def _windows(rng: random.Random, end: _dt.datetime) -> list[Window]:
    span = (end - START).total_seconds()
    out = [
        Window(since=START, until=end, unit="day"),
        Window(since=START + _dt.timedelta(minutes=7), until=end, unit="hour", bounded=False),
    ]
    for _ in range(3):
        since = START + _dt.timedelta(seconds=rng.random() * span)
        until = since + _dt.timedelta(seconds=rng.random() * (end - since).total_seconds())
        out.append(Window(since=since, until=until, unit=rng.choice(["hour", "day"])))
    return out


def _check(engine: sa.Engine, rng: random.Random, now: _dt.datetime) -> None:
    for window in _windows(rng, now):
        with engine.connect() as conn:
            got = _delivery_sections(conn, window)
            expected = _recount(conn, window)
        assert got == _from_rows(engine, window), window
        assert {k: v for k, v in got["deliveries"]["by_status"].items() if v} == expected["by_status"]
        funnel = got["funnel"]
        assert (funnel["delivered"], funnel["opened"]) == (expected["delivered"], expected["opened"])
        assert (funnel["held"], funnel["skipped"], funnel["failed"]) == (
            expected["held"],
            expected["skipped"],
            expected["failed"],
        )
        assert got["pushes"]["sent"] == expected["sent"]


def test_the_rollups_stay_exact_through_every_kind_of_transition(engine: sa.Engine) -> None:
    rng = random.Random(3)
    with engine.begin() as conn:
        device_ids = _devices(conn)
    now = START
    refolded = 0
    seen: Counter[str] = Counter()
    for step in range(80):
        now += _dt.timedelta(minutes=rng.randrange(20, 60), seconds=rng.random() * 60)
        with engine.begin() as conn:
            _step(conn, rng, now, device_ids)
            seen.update(conn.execute(sa.select(deliveries.c.status)).scalars())
        if step % 7 == 6:
            refolded += delivery_rollups.fold(engine, now, hours=3).refolded  # marks refolded 3 at a time
        if step % 20 == 19:
            _check(engine, rng, now)
    with engine.connect() as conn:
        folded = conn.execute(sa.select(delivery_rollup_state.c.folded_until)).scalar_one()
        cells = conn.execute(sa.select(sa.func.count()).select_from(delivery_rollup)).scalar_one()
        latencies = conn.execute(sa.select(sa.func.count()).select_from(delivery_latency_rollup)).scalar_one()
    # the sequence did what it is meant to prove: most hours folded, marked hours refolded, every state
    assert folded >= epoch_hour(now) - delivery_rollups.FOLD_LAG - 7
    assert cells and latencies and refolded
    assert set(seen) == {s.value for s in outbox.DeliveryStatus}
    delivery_rollups.fold(engine, now)
    with engine.connect() as conn:
        folded = conn.execute(sa.select(delivery_rollup_state.c.folded_until)).scalar_one()
        # marks of hours not folded yet (a delete marks every hour) wait for their hour's fold
        assert not conn.execute(
            sa.select(delivery_rollup_dirty).where(delivery_rollup_dirty.c.hour < folded)
        ).all()
    _check(engine, rng, now)


def test_a_fold_is_idempotent_and_a_marked_hour_is_read_from_the_rows(engine: sa.Engine) -> None:
    rng = random.Random(8)
    with engine.begin() as conn:
        device_ids = _devices(conn)
        for hour in range(6):
            _ingest(conn, rng, START + _dt.timedelta(hours=hour, minutes=5))
        claims = outbox.claim_due(conn, now=START + _dt.timedelta(hours=6), lease=LEASE, limit=100)
        assert claims
    late = START + _dt.timedelta(hours=12)
    assert delivery_rollups.fold(engine, late).slices
    with engine.connect() as conn:
        before = conn.execute(sa.select(delivery_rollup).order_by(*delivery_rollup.primary_key)).all()
    assert delivery_rollups.fold(engine, late) == (0, 0)
    with engine.connect() as conn:
        assert conn.execute(sa.select(delivery_rollup).order_by(*delivery_rollup.primary_key)).all() == before
    window = Window(since=START, until=late)
    with engine.begin() as conn:  # a result recorded hours after its row was folded marks the hour
        outbox.record_sent(conn, claims[0], now=late, status_code=201)
        created = conn.execute(
            sa.select(deliveries.c.created_at).where(deliveries.c.id == claims[0].id)
        ).scalar_one()
        assert conn.execute(sa.select(delivery_rollup_dirty.c.hour)).scalars().all() == [epoch_hour(created)]
    with engine.connect() as conn:
        got = _delivery_sections(conn, window)
    assert got == _from_rows(engine, window)
    assert got["pushes"]["sent"] == 1
    assert device_ids


def _rollup_tables(engine: sa.Engine) -> dict[str, set[Any]]:
    with engine.connect() as conn:
        return {
            t.name: set(conn.execute(sa.select(t)).all())
            for t in (delivery_rollup, delivery_latency_rollup, delivery_rollup_state)
        }


def _answers(engine: sa.Engine, windows: list[Window]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_delivery_sections(conn, window) for window in windows]


def test_migration_0015_folds_nothing_and_the_duty_catches_up_in_exact_slices(engine: sa.Engine) -> None:
    """An upgraded hub: 0015 only creates the tables (nothing folded, so no code of the store runs in
    the migration); the duty then folds what is stored a slice of hours per transaction, and the stats
    give the same answer before, between and after the slices."""
    rng = random.Random(5)
    with engine.begin() as conn:
        device_ids = _devices(conn)
    now = START
    for _ in range(30):
        now += _dt.timedelta(minutes=rng.randrange(20, 60))
        with engine.begin() as conn:
            _step(conn, rng, now, device_ids)
    delivery_rollups.fold(engine, now)  # what the hub had folded before: the cells to fold again
    assert differences(engine, "delivery_") == []
    folded_by_the_hub = _rollup_tables(engine)
    assert all(folded_by_the_hub.values())

    downgrade_to(engine, "0014")
    assert not set(folded_by_the_hub) & set(sa.inspect(engine).get_table_names())
    migrate(engine)
    assert differences(engine, "delivery_") == []
    assert _rollup_tables(engine) == {
        "delivery_rollup": set(),
        "delivery_latency_rollup": set(),
        "delivery_rollup_state": {(1, 0)},
    }
    windows = _windows(rng, now)
    expected = _answers(engine, windows)  # every delivery read from the rows
    assert expected == [_from_rows(engine, w) for w in windows]

    # the duty's fold, two hours of deliveries per slice, each slice its own transaction
    cutoff = epoch_hour(now) - delivery_rollups.FOLD_LAG
    with engine.connect() as conn:
        stored = {epoch_hour(as_utc(t)) for t in conn.execute(sa.select(deliveries.c.created_at)).scalars()}
    hours_stored = len({h for h in stored if h < cutoff})
    assert hours_stored >= 6
    marks = {"commits": 0}

    def _commit(_conn: sa.Connection) -> None:
        marks["commits"] += 1

    sa.event.listen(engine, "commit", _commit)
    try:
        run = delivery_rollups.fold(engine, now, hours=2)
    finally:
        sa.event.remove(engine, "commit", _commit)
    assert run.slices >= (hours_stored + 1) // 2  # many short steps (two hours of rows each), not one
    assert run.slices <= hours_stored + 1  # from the oldest delivery on: empty years skipped, not sliced
    assert marks["commits"] == run.slices + 1  # one transaction per slice, and the one that found none

    # the same run a slice at a time: exact after each step, and the same cells as one big fold
    downgrade_to(engine, "0014")
    migrate(engine)
    watermarks = []
    while True:
        with engine.begin() as conn:
            step = delivery_rollups.fold_slice(conn, now, hours=2)
        if step.folded_until is None and not step.refolded:
            break
        watermarks.append(step.folded_until)
        assert _answers(engine, windows) == expected, step
    moved = [w for w in watermarks if w is not None]
    assert moved == sorted(moved) and len(moved) >= 3
    assert moved[-1] == cutoff
    assert _rollup_tables(engine) == folded_by_the_hub
    _check(engine, rng, now)


def test_latency_bins_and_the_percentiles_over_them(engine: sa.Engine) -> None:
    seconds = [0.0, 0.0504, 0.0996, 0.25, 0.996, 1.234, 12.34, 95.0, 3600.4]
    values = sa.union_all(*(sa.select(sa.literal(v, sa.Float).label("s")) for v in seconds)).subquery()
    with engine.connect() as conn:
        bins = conn.execute(sa.select(delivery_rollups.latency_bin(values.c.s))).scalars().all()
    assert sorted(bins) == [0, 50, 100, 250, 1000, 1200, 12000, 95000, 3600000]
    histogram = [(1500, 1), (2000, 2), (4000, 1)]
    assert delivery_rollups.median(histogram) == 2.0
    assert delivery_rollups.median([(1000, 1), (2000, 1)]) == 1.5  # the mean of the two middle values
    assert delivery_rollups.percentile(histogram, 0.5) == 2.0
    assert delivery_rollups.percentile(histogram, 0.9) == 4.0
    assert delivery_rollups.percentile([], 0.9) is None
    assert delivery_rollups.merged([[(10, 1), (20, 2)], [(10, 3)]]) == [(10, 4), (20, 2)]


def test_on_postgresql_a_fold_waits_for_a_marking_writer_and_sees_its_change(pg_url: str) -> None:
    """The race the marks' row lock closes: a writer changed a row of a folded hour and marked the hour
    but has not committed; a fold that starts meanwhile must not refold the hour without the change
    and drop the mark. It waits on the mark's lock, then refolds with the change."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    migrate(engine)
    rng = random.Random(4)
    with engine.begin() as conn:
        _devices(conn)
        for minute in (5, 6, 7):  # every row in one hour (START's; the quiet device's held)
            _ingest(conn, rng, START + _dt.timedelta(hours=7, minutes=minute))
        claims = outbox.claim_due(conn, now=START + _dt.timedelta(hours=8), lease=LEASE, limit=100)
    assert len(claims) >= 3
    late = START + _dt.timedelta(hours=16)
    with engine.begin() as conn:
        outbox.record_sent_many(conn, claims[2:], now=START + _dt.timedelta(hours=8), status_code=201)
    delivery_rollups.fold(engine, late)  # the hour folded with two claims still queued
    with engine.begin() as conn:  # a late result: the hour is marked (committed)
        outbox.record_sent(conn, claims[1], now=late, status_code=201)
    window = Window(since=START, until=late)
    writer = engine.connect()
    writer.begin()
    outbox.record_sent(writer, claims[0], now=late, status_code=201)  # marks the hour again, uncommitted
    folded: list[int] = []
    folding = threading.Thread(target=lambda: folded.append(_fold_once(engine, late)))
    folding.start()
    with engine.connect() as probe:
        wait_until(
            lambda: (
                probe.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar() or None
            ),
            timeout=10,
            what="the fold waiting on the writer's mark",
        )
    writer.commit()
    writer.close()
    folding.join(timeout=10)
    assert folded == [1]  # the marked hour was refolded, after the writer's commit
    with engine.connect() as conn:
        assert not conn.execute(sa.select(delivery_rollup_dirty)).all()
        got = _delivery_sections(conn, window)
    assert got == _from_rows(engine, window)
    assert got["pushes"]["sent"] == len(claims)
    engine.dispose()


def _fold_once(engine: sa.Engine, now: _dt.datetime) -> int:
    return delivery_rollups.fold(engine, now).refolded
