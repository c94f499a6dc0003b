"""Migration 0014's indexes for ``GET /v1/stats``: on SQLite and PostgreSQL the migrated schema is the
declared one and goes down to 0013 and up again; on SQLite (a database never ANALYZEd, as a hub's
is) every query of the answer that reads deliveries or events searches an index by its time column
instead of scanning the table or walking every visible line."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.hub.store.migrating import differences, downgrade_to

from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import stats as stats_store

NEW = {"ix_deliveries_created_stats", "ix_events_merged_into_ts", "ix_events_critical_ts"}
END = _dt.datetime(2026, 1, 31, tzinfo=_dt.UTC)


def _indexes(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return {str(ix["name"]) for table in ("events", "deliveries") for ix in inspector.get_indexes(table)}


def _reads_big_table(step: str) -> bool:
    return any(f" {table} " in f" {step} " for table in ("events", "deliveries"))


def test_migration_0014_matches_the_declared_indexes_and_goes_down_and_up(engine: sa.Engine) -> None:
    assert _indexes(engine) >= NEW
    assert differences(engine, *NEW, "ix_events_merged_into") == []
    downgrade_to(engine, "0013")
    found = _indexes(engine)
    assert not NEW & found and "ix_events_merged_into" in found
    migrate(engine)
    assert _indexes(engine) >= NEW and "ix_events_merged_into" not in _indexes(engine)
    assert differences(engine, *NEW, "ix_events_merged_into") == []


@pytest.mark.parametrize("unit", ["hour", "day"])
def test_on_sqlite_every_stats_query_searches_by_time(tmp_path: Path, unit: str) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plans.db'}")  # EXPLAIN QUERY PLAN is SQLite's
    migrate(engine)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    window = stats_store.Window(since=END - _dt.timedelta(days=7, minutes=30), until=END, unit=unit)
    with engine.connect() as conn:
        stats_store.stats(conn, window)
        sa.event.remove(engine, "before_cursor_execute", capture)
        plans = {
            statement: [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)]
            for statement, params in statements
        }
    engine.dispose()
    reads = {s: p for s, p in plans.items() if any(_reads_big_table(x) for x in p)}
    assert len(reads) >= 8  # deliveries, pushes, latency, acknowledgement, transports, funnel, edges
    for statement, plan in reads.items():
        steps = [x for x in plan if _reads_big_table(x)]
        assert all(x.startswith("SEARCH") for x in steps), (statement, plan)
        assert not any("(merged_into=?)" in x or "(status=?)" in x for x in steps), (statement, plan)
        time_range = ("created_at>? AND created_at<?", "ts>? AND ts<?", "notification_id")
        assert all(any(r in x for r in time_range) for x in steps), (statement, plan)
