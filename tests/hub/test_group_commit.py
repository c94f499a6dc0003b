"""Group commit: requests that wait together share one transaction; each still gets its own result,
a bad batch fails only its own request, and nothing is answered before its commit."""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy as sa

from pushlog._levels import Level
from pushlog.hub._group_commit import GroupCommit
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import events as event_store

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))


class FakeTransactions:
    """Stands in for ``HubState.db``: each call is one transaction whose writes count only if it
    returns; ``gate`` (when set) holds every transaction until released."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, fn: Callable[[list[str]], Any]) -> Any:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        writes: list[str] = []
        result = fn(writes)  # raises: rolled back, nothing committed
        self.committed.append(writes)
        return result


def job(name: str, *, fail: Exception | None = None) -> Callable[[list[str]], str]:
    def run(writes: list[str]) -> str:
        writes.append(name)
        if fail is not None:
            raise fail
        return f"{name} done"

    return run


async def test_requests_waiting_on_a_commit_share_the_next_transaction() -> None:
    db = FakeTransactions()
    db.gate = asyncio.Event()
    group = GroupCommit(db)
    first = asyncio.create_task(group.submit(job("a")))
    await db.entered.wait()  # "a" is in its transaction; the next ones queue behind it
    rest = [asyncio.create_task(group.submit(job(name))) for name in ("b", "c", "d")]
    await asyncio.sleep(0)  # let the three submit (a scheduling point, not a wait for time)
    assert not first.done()
    db.gate.set()
    assert await first == "a done"
    assert [await task for task in rest] == ["b done", "c done", "d done"]
    assert db.committed == [["a"], ["b", "c", "d"]]
    assert (group.groups, group.jobs) == (2, 4)


async def test_a_bad_job_fails_alone_and_the_others_commit() -> None:
    db = FakeTransactions()
    group = GroupCommit(db)
    results = await asyncio.gather(
        group.submit(job("a")),
        group.submit(job("bad", fail=ValueError("no"))),
        group.submit(job("c")),
        return_exceptions=True,
    )
    assert results[0] == "a done" and results[2] == "c done"
    assert isinstance(results[1], ValueError)
    assert db.committed == [["a"], ["c"]]  # the shared attempt rolled back; then one each


async def test_an_operational_error_fails_the_whole_group_without_retries() -> None:
    db = FakeTransactions()
    group = GroupCommit(db)
    locked = sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))
    results = await asyncio.gather(
        group.submit(job("a")), group.submit(job("b", fail=locked)), return_exceptions=True
    )
    assert all(result is locked for result in results)
    assert db.committed == []


async def test_a_cancelled_waiter_does_not_stop_the_others() -> None:
    db = FakeTransactions()
    db.gate = asyncio.Event()
    group = GroupCommit(db)
    first = asyncio.create_task(group.submit(job("a")))
    await db.entered.wait()
    gone = asyncio.create_task(group.submit(job("gone")))
    kept = asyncio.create_task(group.submit(job("kept")))
    await asyncio.sleep(0)
    gone.cancel()
    db.gate.set()
    assert await first == "a done" and await kept == "kept done"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert db.committed == [["a"], ["gone", "kept"]]  # its batch was committed with its group


async def test_concurrent_ingests_on_sqlite_share_a_commit_and_count_duplicates_exactly(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)

    async def db(fn: Callable[[sa.Connection], Any]) -> Any:
        def run() -> Any:
            with engine.begin() as conn:
                return fn(conn)

        return await anyio.to_thread.run_sync(run)

    def event(event_id: str) -> event_store.NewEvent:
        return event_store.NewEvent(id=event_id, ts=NOW, level=Level.INFO, title=f"e {event_id}")

    shared = str(uuid.uuid4())
    batches = [[event(shared), event(str(uuid.uuid4()))] for _ in range(3)]
    group = GroupCommit(db)
    results = await asyncio.gather(
        *(
            group.submit(
                functools.partial(event_store.insert_events, batch=b, key_id=None, now=NOW, repeat=REPEAT)
            )
            for b in batches
        )
    )
    assert [(r.accepted, r.duplicates) for r in results] == [(2, 0), (1, 1), (1, 1)]
    assert (group.groups, group.jobs) == (1, 3)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 4
    engine.dispose()
