"""Retention: the SQLite database's size day by day under a steady load, without and with retention.

Two databases, same load: every simulated day EVENTS_PER_DAY events (one in four a pushed WARNING
with a delivery to one device, every one with a tag and a metadata pair) are stored through the
hub's ingest (``store.events.insert_events``) on a stepped clock; then the hub's retention pass
(``hub._retention.RetentionTask.run_pass``, batches of 500, incremental vacuum) runs at that day's
end on the second database. After each day the WAL is checkpointed and the main file's size read.
Without retention the file grows linearly; with it, it stops growing once the retention age is
reached (freed pages are reused and given back). The last line is the ratio of the two sizes and
how flat the retained one stayed after the retention age. Commits skip fsync (``synchronous=OFF``):
sizes do not depend on it, and the run takes a fraction of the time.

Usage: ``python benchmarks/bench_retention.py [--smoke]`` (or ``PUSHLOG_BENCH_SMOKE=1``: a few
seconds, small numbers, same code path).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pushlog._levels import Level
from pushlog.hub._retention import RetentionTask
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store.device_tokens import open_vault
from pushlog.hub.store.retention import Policy

SMOKE = "--smoke" in sys.argv or os.environ.get("PUSHLOG_BENCH_SMOKE") == "1"
DAYS = 8 if SMOKE else 30
RETENTION_DAYS = 3 if SMOKE else 7
EVENTS_PER_DAY = 100 if SMOKE else 1000
BATCH = 100
START = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
BODY = "Traceback (most recent call last): ... " * 12  # ~500 bytes, a typical error body


def _open(path: Path) -> sa.Engine:
    engine = create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
        # This measures size, not speed: skip the fsyncs that make every commit durable in the hub.
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    migrate(engine)
    with engine.begin() as conn:
        device_store.register_webpush(
            conn,
            device_store.WebPushRegistration(
                name="phone",
                endpoint="https://push.example/1",
                p256dh=P256DH,
                auth="BTBZMqHH6r4Tts7J_aSIgg",
                min_level=Level.WARNING,
                channels=None,
            ),
            vault=open_vault(path.parent),  # Web Push keys are sealed at rest, as in the hub
            now=START,
        )
    return engine


def _load_day(engine: sa.Engine, day: int) -> None:
    step = _dt.timedelta(days=1) / EVENTS_PER_DAY
    for first in range(0, EVENTS_PER_DAY, BATCH):
        now = START + _dt.timedelta(days=day) + step * first
        batch = [
            event_store.NewEvent(
                id=str(uuid.uuid4()),
                ts=now,
                level=Level.WARNING if n % 4 == 0 else Level.INFO,
                title=f"order {day}-{n} paid",
                body=BODY,
                tags=["billing"],
                metadata={"user_id": n},
                push=n % 4 == 0,
            )
            for n in range(first, min(first + BATCH, EVENTS_PER_DAY))
        ]
        with engine.begin() as conn:
            event_store.insert_events(conn, batch, key_id=None, now=now, repeat=REPEAT)


def _size(engine: sa.Engine, path: Path) -> int:
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        raw.close()
    return path.stat().st_size


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pushlog-bench-retention-") as tmp:
        plain_path, kept_path = Path(tmp) / "plain.db", Path(tmp) / "kept.db"
        plain, kept = _open(plain_path), _open(kept_path)
        task = RetentionTask(
            engine=kept,
            policy=Policy.from_seconds(RETENTION_DAYS * 86400, {}),
            clock=lambda: START,
            interval=3600,
        )
        print(
            f"bench_retention: {EVENTS_PER_DAY} events/day for {DAYS} days, retention {RETENTION_DAYS}d"
            f"{' (smoke)' if SMOKE else ''}"
        )
        print(f"{'day':>4} {'no retention MB':>16} {'retention MB':>13} {'deleted':>8}")
        sizes: list[tuple[int, int]] = []
        for day in range(DAYS):
            _load_day(plain, day)
            _load_day(kept, day)
            purged = asyncio.run(task.run_pass(START + _dt.timedelta(days=day + 1)))
            sizes.append((_size(plain, plain_path), _size(kept, kept_path)))
            print(f"{day + 1:>4} {sizes[-1][0] / 1e6:>16.2f} {sizes[-1][1] / 1e6:>13.2f} {purged.events:>8}")
        plain.dispose()
        kept.dispose()
    steady = [k for _, k in sizes[RETENTION_DAYS + 1 :]]
    flat = max(steady) / min(steady) if steady else float("nan")
    print(
        f"after {DAYS} days: retention/no-retention size ratio {sizes[-1][1] / sizes[-1][0]:.2f}x; "
        f"retained size max/min over days {RETENTION_DAYS + 2}-{DAYS}: {flat:.2f}x (1.00x = flat)"
    )


if __name__ == "__main__":
    main()
