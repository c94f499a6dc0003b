"""Rules in the store, on SQLite and PostgreSQL: declarations are idempotent, and with two hub
processes (two engines, two connections, started together) each change is made exactly once."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from tests.hub.store.rows import NOW, REPEAT, new_event

from pushlog._levels import Level
from pushlog.hub.rules import RulesEngine, declare, parse_rule
from pushlog.hub.store import rules as rule_store
from pushlog.hub.store._tables import events, rule_history
from pushlog.hub.store.events import IngestResult, NewEvent, insert_events


def _declare(engine: sa.Engine, name: str, rule: dict[str, Any]) -> None:
    with engine.begin() as conn:
        declare(conn, name=name, spec=parse_rule(rule), source="api", key_id=None, now=NOW)


def _together(engine: sa.Engine, jobs: Sequence[Callable[[sa.Connection], Any]]) -> list[Any]:
    """Run each job in its own thread and transaction, released at the same moment."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[sa.Connection], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            with engine.begin() as conn:
                results[index] = job(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def _alerts(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(events).where(events.c.fingerprint.like("rule:%"))).all())


def test_declaring_the_same_rule_again_changes_nothing(engine: sa.Engine) -> None:
    rule = {"kind": "expect", "every": "1d", "match": {"text": "backup done"}}
    _declare(engine, "backup", rule)
    _declare(engine, "backup", rule)
    _declare(engine, "backup", {**rule, "every": "2d"})
    with engine.connect() as conn:
        row = rule_store.get_rule(conn, "backup")
        states = [h["detail"] for h in rule_store.history(conn, row.id)]
    assert row.spec["every_s"] == 172800.0 and row.spec["grace_s"] == 17280.0
    assert row.due_at == NOW + _dt.timedelta(days=2, seconds=17280)
    assert states == ["changed (api)", "declared (api)"]


def test_two_processes_passing_at_once_miss_an_expectation_once(engine: sa.Engine) -> None:
    _declare(engine, "backup", {"kind": "expect", "every": "1h", "grace": "1m"})
    later = NOW + _dt.timedelta(hours=2)
    first, second = RulesEngine(), RulesEngine()
    done = _together(
        engine,
        [lambda conn: first.run_due(conn, now=later), lambda conn: second.run_due(conn, now=later)],
    )
    assert sorted(d.changed for d in done) == [0, 1]
    (alert,) = _alerts(engine)
    assert alert.title == "backup: not seen for 2 h"
    with engine.connect() as conn:
        moves = conn.execute(sa.select(rule_history.c.state).order_by(rule_history.c.id)).scalars().all()
    assert moves == ["waiting", "missed"]


def _ingest_job(
    engine_: RulesEngine, batch: list[NewEvent], now: _dt.datetime
) -> Callable[[sa.Connection], IngestResult]:
    return engine_.ingest_job(
        batch,
        now=now,
        then=lambda screened: lambda conn: insert_events(conn, screened, key_id=None, now=now, repeat=REPEAT),
    )


def test_two_processes_ingesting_at_once_cross_a_threshold_once(engine: sa.Engine) -> None:
    _declare(
        engine, "declines", {"kind": "threshold", "match": {"text": "declined"}, "count": 5, "within": "5m"}
    )
    first, second = RulesEngine(), RulesEngine()

    def batch() -> list[NewEvent]:
        return [new_event(f"card declined {i}", level=Level.WARNING, push=True) for i in range(3)]

    at = NOW + _dt.timedelta(seconds=30)
    results = _together(engine, [_ingest_job(first, batch(), at), _ingest_job(second, batch(), at)])
    assert [r.accepted for r in results] == [3, 3]
    (alert,) = _alerts(engine)
    assert alert.title.startswith("declined \u00d7") and alert.level == int(Level.ERROR)
    assert len(alert.metadata["linked"]) >= 5
    with engine.connect() as conn:
        pushed = conn.execute(sa.select(sa.func.count()).where(events.c.push.is_(True))).scalar_one()
    assert pushed == 1, "the six warnings went to the feed only; the alert is the one push"


def test_the_migrated_schema_is_what_the_tables_declare(engine: sa.Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pushlog.hub.store._tables import metadata

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    ours = [
        d
        for d in diff
        if any(
            name in repr(d)
            for name in ("rule", "escalation", "device_groups", "resolve", "ix_events_fingerprint")
        )
    ]
    assert ours == []
