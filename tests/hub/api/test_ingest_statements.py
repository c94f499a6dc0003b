"""How many SQL statements the ingest transaction of one lone pushed WARNING runs: a regression guard.

Each statement costs 0.3-0.7 ms on the benchmark machine (docs/performance.md, Latency), so the
count is the steady figure behind the log call -> push service latency. The hub is real (uvicorn,
SQLite or PostgreSQL, one Web Push device on the RFC 8030 stand-in); the statements are counted on
the ingest job's own connection, so the dispatcher's and the duties' transactions are not in the
count. PostgreSQL runs more: the advisory lock that orders ``seq`` across processes, and the
preference and category reads the gate keeps in memory only on SQLite (store/preferences.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.hub_server import ThreadHub
from tests.support.postgres import new_database
from tests.support.push_service import PushService

from pushlog.hub.store.events import IngestResult, NewEvent

#: Statements of the steady-state ingest of one pushed WARNING to one Web Push device.
INGEST_STATEMENTS = {"sqlite": 6, "postgresql": 9}
#: The same for a batch of 100 events, 25 of them pushed WARNINGs, to a hub without devices
#: (``benchmarks/bench_ingest.py``'s batches): the statements do not grow with the pushes.
BATCH_STATEMENTS = {"sqlite": 9, "postgresql": 11}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The hub's database: its own SQLite file, or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return {}
    return {"db_url": new_database(request.getfixturevalue("pg_url"))}


def dialect(database: dict[str, str]) -> str:
    return "postgresql" if database else "sqlite"


def count_ingest_statements(hub: ThreadHub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the SQL of every ingest job the hub runs from now on (its own connection only)."""
    seen: list[str] = []
    rules = hub.app.state.hub.rules
    original = rules.ingest_job

    def ingest_job(batch: Sequence[NewEvent], **kwargs: Any) -> Callable[[sa.Connection], IngestResult]:
        job = original(batch, **kwargs)

        def counted(conn: sa.Connection) -> IngestResult:
            def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                seen.append(" ".join(statement.split()))

            sa.event.listen(conn, "before_cursor_execute", before)
            try:
                return job(conn)
            finally:
                sa.event.remove(conn, "before_cursor_execute", before)

        return counted

    monkeypatch.setattr(rules, "ingest_job", ingest_job)
    return seen


def publish(hub: ThreadHub, events: list[dict[str, Any]]) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == len(events)


def publish_warning(hub: ThreadHub, title: str) -> None:
    publish(hub, [{"id": str(uuid.uuid4()), "level": "warning", "title": title}])


def batch(size: int = 100) -> list[dict[str, Any]]:
    """Like bench_ingest.py's: every fourth event a pushed WARNING, the others INFO."""
    return [
        {
            "id": str(uuid.uuid4()),
            "level": "info" if i % 4 else "warning",
            "title": f"order {i} paid",
            "channel": "payments",
            "tags": ["billing", "stripe"],
            "metadata": {"user_id": i, "plan": "pro"},
            "fingerprint": f"fp-{i % 10}",
        }
        for i in range(size)
    ]


def test_a_lone_pushed_warning_is_ingested_in_a_fixed_number_of_statements(
    hub_factory: Callable[..., ThreadHub],
    push_service: PushService,
    monkeypatch: pytest.MonkeyPatch,
    database: dict[str, str],
) -> None:
    hub = hub_factory(allow_private_endpoints=True, **database)
    phone = push_service.subscribe()
    with hub.client(hub.read_key) as client:
        device = {"kind": "webpush", "subscription": phone.subscription()}
        registered = client.post("/v1/devices", json=device)
    assert registered.status_code == 201, registered.text
    publish_warning(hub, "warm-up")  # first ingest: compiles the rules, prepares the bulk inserts
    push_service.wait_for(1)

    seen = count_ingest_statements(hub, monkeypatch)
    publish_warning(hub, "Disk almost full")
    [_, pushed] = push_service.wait_for(2)
    assert pushed.payload["title"] == "Disk almost full"  # the statements still deliver the push
    listing = "\n".join(seen)
    assert len(seen) == INGEST_STATEMENTS[dialect(database)], f"{len(seen)} statements:\n{listing}"


def test_a_batch_is_ingested_in_statements_that_do_not_grow_with_its_pushes(
    hub_factory: Callable[..., ThreadHub], monkeypatch: pytest.MonkeyPatch, database: dict[str, str]
) -> None:
    hub = hub_factory(allow_private_endpoints=True, **database)
    publish(hub, batch())  # warm-up
    seen = count_ingest_statements(hub, monkeypatch)
    publish(hub, batch())
    listing = "\n".join(seen)
    assert len(seen) == BATCH_STATEMENTS[dialect(database)], f"{len(seen)} statements:\n{listing}"
