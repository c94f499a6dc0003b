"""Audiences: resolving a filter over many app users and queueing their deliveries.

USERS app users (one device each, a plan, a country, a custom ``age`` and a last-seen time) in a
SQLite database. A notification whose audience is a filter over user, custom and device attributes
is expanded by the hub's own code (``hub/notifications/_runner.run_due``: the filter compiled to SQL,
the deliveries queued with ``INSERT ... SELECT`` by ``store/outbox.enqueue_notification``). The
baseline, in the same run and database, is a hand-written ``INSERT ... SELECT`` of the same rows.
Printed: rows per second of each, their ratio, and the peak Python memory while expanding (tracemalloc),
which stays flat however many users there are because no recipient passes through Python.

A second expansion runs after every tenth user was given a preference document (quiet hours now): those
recipients are read in keyset pages and decided one by one by the attention gate
(``attention.decide``), the others still by ``INSERT ... SELECT``; its rate is compared with the same
baseline, and its peak memory stays bounded by the page size, not the audience.

Usage: ``python benchmarks/bench_audience.py [--smoke]`` (or ``PUSHLOG_BENCH_SMOKE=1``: a few
seconds, small numbers, same code path).
"""

from __future__ import annotations

import datetime as _dt
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import SMOKE, machine, ratio_line

from pushlog.hub.notifications._runner import run_due
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import notifications as notification_store
from pushlog.hub.store._tables import UTCDateTime, deliveries, devices, preferences, user_attributes, users

USERS = 3_000 if SMOKE else 100_000
BATCH = 5_000
NOW = _dt.datetime(2026, 6, 1, 12, tzinfo=_dt.UTC)
COUNTRIES = ("DE", "AT", "FR", "US", "GB", "IT", "ES", "NL")
FILTER = 'plan = "pro" and country in ("DE", "AT", "FR") and last_seen within 30d and custom.age >= 18'
RAW = """
INSERT INTO deliveries (id, notification_id, device_id, round, status, attempts, next_attempt_at,
                        created_at, updated_at)
SELECT 'raw.' || d.id, 'raw', d.id, 0, 'queued', 0, :now, :now, :now
FROM users u JOIN devices d ON d.user_id = u.id
WHERE u.plan = 'pro' AND u.country IN ('DE', 'AT', 'FR') AND d.last_seen_at >= :since
  AND EXISTS (SELECT 1 FROM user_attributes a WHERE a.user_id = u.id AND a.key = 'age' AND a.num_value >= 18)
"""


def _populate(engine: sa.Engine) -> None:
    for start in range(0, USERS, BATCH):
        ids = range(start, min(start + BATCH, USERS))
        with engine.begin() as conn:
            conn.execute(
                users.insert(),
                [
                    {
                        "id": f"u{n}",
                        "plan": "pro" if n % 3 == 0 else "free",
                        "country": COUNTRIES[n % len(COUNTRIES)],
                        "custom": {"age": 14 + n % 50},
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for n in ids
                ],
            )
            conn.execute(
                user_attributes.insert(),
                [
                    {
                        "user_id": f"u{n}",
                        "key": "age",
                        "text_value": str(14 + n % 50),
                        "num_value": 14 + n % 50,
                    }
                    for n in ids
                ],
            )
            conn.execute(
                devices.insert(),
                [
                    {
                        "id": f"dev_{n:012d}",
                        "kind": "webpush",
                        "endpoint": f"https://push.example/{n}",
                        "p256dh": "k",
                        "auth": "a",
                        "created_at": NOW,
                        "updated_at": NOW,
                        "user_id": f"u{n}",
                        "last_seen_at": NOW - _dt.timedelta(days=n % 60),
                    }
                    for n in ids
                ],
            )


#: Every tenth user's document: a quiet afternoon in Berlin (NOW is 14:00 there), so the gate holds them.
CHOOSERS = 10
QUIET_NOW = {"timezone": "Europe/Berlin", "quiet_hours": [{"start": "13:00", "end": "15:00"}]}


def _choose(engine: sa.Engine) -> None:
    for start in range(0, USERS, BATCH):
        with engine.begin() as conn:
            conn.execute(
                preferences.insert(),
                [
                    {
                        "subject_kind": "user",
                        "subject_id": f"u{n}",
                        "document": QUIET_NOW,
                        "updated_at": NOW,
                    }
                    for n in range(start, min(start + BATCH, USERS), CHOOSERS)
                ],
            )


def _expand(engine: sa.Engine) -> tuple[int, float, int]:
    """(rows queued, seconds, peak bytes of Python memory) of the hub's expansion."""
    values: dict[str, Any] = {
        "audience": {"filter": FILTER},
        "content": {"title": "hi", "body": None},
        "options": {},
        "level": 20,
        "ttl": 60,
        "schedule": {},
        "start_at": NOW,
    }
    with engine.begin() as conn:
        notification_store.create(conn, values, now=NOW)
    tracemalloc.start()
    start = time.perf_counter()
    done = run_due(engine, now=NOW)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return done.deliveries, seconds, peak


def _raw(engine: sa.Engine) -> tuple[int, float]:
    statement = sa.text(RAW).bindparams(
        sa.bindparam("now", NOW, type_=UTCDateTime()),
        sa.bindparam("since", NOW - _dt.timedelta(days=30), type_=UTCDateTime()),
    )
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(statement)
    seconds = time.perf_counter() - start
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.notification_id == "raw")
        ).scalar()
    return int(rows or 0), seconds


def main() -> None:
    print(f"bench_audience: {USERS:,} users, one device each; {machine()}")
    print(f"  filter: {FILTER}")
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'audience.db'}")
        migrate(engine)
        _populate(engine)
        raw_rows, raw_s = _raw(engine)  # first, so the hub's run does not profit from a warmer cache
        rows, seconds, peak = _expand(engine)
        _choose(engine)
        gated_rows, gated_s, gated_peak = _expand(engine)
        with engine.connect() as conn:
            held = conn.execute(
                sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "held")
            ).scalar()
        engine.dispose()
    if rows != raw_rows:
        raise SystemExit(f"the hub queued {rows} rows, the raw INSERT ... SELECT {raw_rows}")
    ours, raw = rows / seconds, raw_rows / raw_s
    print(f"  hub expansion (filter -> SQL):  {rows:>8,} rows in {seconds:6.3f}s = {ours:>10,.0f} rows/s")
    print(f"  raw INSERT ... SELECT:          {raw_rows:>8,} rows in {raw_s:6.3f}s = {raw:>10,.0f} rows/s")
    print(f"  peak Python memory while expanding: {peak / 1e6:.2f} MB for {rows:,} rows queued")
    print(ratio_line("hub expansion rows/s / raw INSERT ... SELECT rows/s", ours / raw, ">= 0.5x"))
    if gated_rows != raw_rows or not held:
        raise SystemExit(
            f"with documents the hub queued {gated_rows} rows ({held} held), expected {raw_rows}"
        )
    gated = gated_rows / gated_s
    print(f"  every {CHOOSERS}th user with a document: {gated_rows:,} rows ({held:,} held) in {gated_s:.3f}s")
    print(f"  peak Python memory while expanding through the gate: {gated_peak / 1e6:.2f} MB")
    print(ratio_line("gated expansion rows/s / raw INSERT ... SELECT rows/s", gated / raw, ">= 0.2x"))


if __name__ == "__main__":
    main()
