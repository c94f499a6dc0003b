"""The dashboard's queries (``GET /v1/stats``) on a database of 1 million stored events.

One SQLite database is filled directly (bulk INSERTs, no fsync: this measures reading, not ingest)
with EVENTS events over DAYS days: levels INFO 60 %, WARNING 25 %, ERROR 12 %, CRITICAL 3 % (half of
them acknowledged), 12 channels, 500 fingerprints (a few very noisy), and one delivery to one of two
devices (Web Push, FCM) for every pushed event, most sent and delivered, some failed, some held or
skipped by the gate. Then every section of ``store.stats.stats`` is timed for the last 24 hours
(hour buckets) and for the whole period (day buckets), each the best of REPEATS runs, and printed as
a ratio against ``SELECT count(*) FROM events`` timed the same way in the same run: the price of a
section in "full table counts". The whole answer is timed too.

The events are stored with their hourly rollups (``store/rollups.py``, what ingest keeps), so the 7 and
30 day windows read rollup rows plus the window's two partial edge hours. The deliveries are then
folded into their hourly rollups (``store/delivery_rollups.fold``, what the hub's duty does: a
transaction per slice of ``SLICE_HOURS`` hours; the total and the longest slice are printed, and the
time of refolding one hour a late change marked), so the delivery sections read rollup
rows plus the hours not folded yet (the last ``FOLD_LAG`` hours). Each delivery section (and the whole
answer) is timed a second time with nothing folded, every row of the window read, marked ``(rows)``:
what they cost before the rollups.

Usage: ``python benchmarks/bench_stats.py [--smoke] [--events N] [--no-analyze]`` (``--smoke`` or
``PUSHLOG_BENCH_SMOKE=1``: 20,000 events, same code path; ``--events``: another size, for a loaded
machine where filling a million rows takes too long; ``--no-analyze``: leave out the ``ANALYZE`` after
filling, as on a hub's database, whose planner has no statistics).
"""

from __future__ import annotations

import datetime as _dt
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, machine, ratio_line

from pushlog.hub.store import analytics, create_engine, delivery_rollups, migrate, rollups
from pushlog.hub.store import stats as stats_store
from pushlog.hub.store._tables import (
    deliveries,
    delivery_rollup_dirty,
    delivery_rollup_state,
    devices,
    events,
)
from pushlog.hub.store._window import epoch_hour
from pushlog.hub.store.events import NewEvent

EVENTS = (
    int(sys.argv[sys.argv.index("--events") + 1])
    if "--events" in sys.argv
    else 20_000
    if SMOKE
    else 1_000_000
)
#: A hub never runs ANALYZE, so its SQLite planner has no statistics: ``--no-analyze`` measures that.
ANALYZE = "--no-analyze" not in sys.argv
DAYS = 30
REPEATS = 2 if SMOKE else 3
CHUNK = 20_000
END = _dt.datetime(2026, 1, 31, tzinfo=_dt.UTC)
START = END - _dt.timedelta(days=DAYS)
CHANNELS = [f"ch{n}" for n in range(12)]


def _fill(engine: sa.Engine) -> None:
    rng = random.Random(7)
    with engine.begin() as conn:
        for n, kind in enumerate(("webpush", "fcm")):
            conn.execute(
                devices.insert().values(
                    id=f"dev_{n}", kind=kind, name=kind, min_level=30, created_at=START, updated_at=START
                )
            )
    step = (END - START) / EVENTS
    seq = 0
    for first in range(0, EVENTS, CHUNK):
        event_rows: list[dict[str, Any]] = []
        delivery_rows: list[dict[str, Any]] = []
        for i in range(first, min(first + CHUNK, EVENTS)):
            seq += 1
            ts = START + step * i
            roll = rng.random()
            level = 20 if roll < 0.60 else 30 if roll < 0.85 else 40 if roll < 0.97 else 50
            noisy = rng.random() < 0.3
            fingerprint = f"fp{rng.randrange(5)}" if noisy else f"fp{rng.randrange(500)}"
            acked = (
                ts + _dt.timedelta(seconds=rng.randrange(30, 3600))
                if level == 50 and rng.random() < 0.5
                else None
            )
            event_rows.append(
                {
                    "seq": seq,
                    "id": f"ev{seq}",
                    "ts": ts,
                    "received_at": ts,
                    "level": level,
                    "title": f"title {fingerprint}",
                    "body": None,
                    "channel": CHANNELS[rng.randrange(len(CHANNELS))],
                    "tags": [],
                    "actions": [],
                    "metadata": {},
                    "fingerprint": fingerprint,
                    "count": rng.randrange(1, 4),
                    "push": level >= 30,
                    "source": {},
                    "acknowledged_at": acked,
                }
            )
            if level >= 30:
                outcome = rng.random()
                sent = ts + _dt.timedelta(seconds=1) if outcome < 0.9 else None
                status = (
                    "delivered"
                    if outcome < 0.8
                    else "sent"
                    if outcome < 0.9
                    else "failed"
                    if outcome < 0.95
                    else "skipped"
                )
                delivery_rows.append(
                    {
                        "id": f"dl{seq}",
                        "event_seq": seq,
                        "event_id": f"ev{seq}",
                        "device_id": f"dev_{seq % 2}",
                        "round": 0,
                        "status": status,
                        "attempts": 1,
                        "created_at": ts,
                        "updated_at": ts,
                        "sent_at": sent,
                        "delivered_at": ts + _dt.timedelta(seconds=1 + rng.random() * 3)
                        if status == "delivered"
                        else None,
                        "last_status_code": 410 if status == "failed" else 201,
                        "reason": "quiet_hours" if status == "skipped" else None,
                    }
                )
        lines = [
            NewEvent(
                id=row["id"],
                ts=row["ts"],
                level=row["level"],
                title=row["title"],
                channel=row["channel"],
                fingerprint=row["fingerprint"],
                count=row["count"],
            )
            for row in event_rows
        ]
        with engine.begin() as conn:
            conn.execute(events.insert(), event_rows)
            rollups.record(conn, lines, {})
            if delivery_rows:
                conn.execute(deliveries.insert(), delivery_rows)
    if ANALYZE:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def _best(engine: sa.Engine, fn: Callable[[sa.Connection], object]) -> float:
    times = []
    for _ in range(REPEATS):
        with engine.connect() as conn:
            start = time.perf_counter()
            fn(conn)
            times.append(time.perf_counter() - start)
    return min(times)


def _fold(engine: sa.Engine) -> None:
    """Fold the deliveries as the hub's duty does, then refold one hour a late change marked."""
    slices: list[float] = []  # the duty's fold (``fold``), a transaction at a time to time each
    while True:
        began = time.perf_counter()
        with engine.begin() as conn:
            step = delivery_rollups.fold_slice(conn, END)
        if step.folded_until is None and not step.refolded:
            break
        slices.append(time.perf_counter() - began)
    print(
        f"fold of {DAYS} days of deliveries: {sum(slices) * 1000:.1f} ms in {len(slices)} transactions"
        f" of at most {delivery_rollups.SLICE_HOURS} hours, the longest {max(slices) * 1000:.1f} ms"
    )
    with engine.begin() as conn:
        conn.execute(delivery_rollup_dirty.insert().values(hour=epoch_hour(START) + 24 * 10, marks=1))
    began = time.perf_counter()
    assert delivery_rollups.fold(engine, END).refolded == 1
    print(f"refold of one marked hour: {(time.perf_counter() - began) * 1000:.1f} ms")


def _folded_until(engine: sa.Engine, hour: int) -> int:
    with engine.begin() as conn:
        before = conn.execute(sa.select(delivery_rollup_state.c.folded_until)).scalar_one()
        conn.execute(delivery_rollup_state.update().values(folded_until=hour))
    return int(before)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'stats.db'}")

        @sa.event.listens_for(engine, "connect")
        def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")

        migrate(engine)
        began = time.perf_counter()
        _fill(engine)
        filled = time.perf_counter() - began
        print(
            f"# bench_stats on {machine()}: {EVENTS:,} events over {DAYS} days, filled in {filled:.1f} s"
            + ("" if ANALYZE else ", not ANALYZEd")
        )
        baseline = _best(engine, lambda c: c.execute(sa.select(sa.func.count()).select_from(events)).scalar())
        print(f"baseline SELECT count(*) FROM events: {baseline * 1000:.1f} ms")
        _fold(engine)
        windows = {
            "24h": stats_store.Window(since=END - _dt.timedelta(hours=24), until=END, unit="hour"),
            "7d": stats_store.Window(since=END - _dt.timedelta(days=7, minutes=30), until=END, unit="hour"),
            f"{DAYS}d": stats_store.Window(since=START, until=END, unit="day"),
        }
        for name, window in windows.items():
            starts = window.starts()
            sections: dict[str, Callable[[sa.Connection], object]] = {
                "events by level": lambda c, w=window, s=starts: stats_store._events(c, w, s),
                "deliveries+pushes": lambda c, w=window, s=starts: stats_store._deliveries(c, w, s),
                "channels": lambda c, w=window, s=starts: analytics.channels(c, w, s),
                "noisiest top 10": lambda c, w=window: analytics.noisiest(c, w, 10),
                "ack times": lambda c, w=window: analytics.acknowledgement(c, w),
                "transports": lambda c, w=window: analytics.transports(c, w),
                "funnel": lambda c, w=window: analytics.funnel(c, w),
                "whole answer": lambda c, w=window: stats_store.stats(c, w),
            }
            for label, fn in sections.items():
                seconds = _best(engine, fn)
                print(ratio_line(f"{name} {label} ({seconds * 1000:.1f} ms) vs count(*)", seconds / baseline))
            folded = _folded_until(engine, 0)  # nothing folded: every delivery of the window read
            for label in ("deliveries+pushes", "transports", "funnel", "whole answer"):
                seconds = _best(engine, sections[label])
                line = f"{name} {label} (rows) ({seconds * 1000:.1f} ms) vs count(*)"
                print(ratio_line(line, seconds / baseline))
            _folded_until(engine, folded)
        engine.dispose()


if __name__ == "__main__":
    main()
