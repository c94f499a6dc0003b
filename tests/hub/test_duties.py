"""The periodic-duty runner (hub/_duties.py): duties run at their intervals of the injected clock and
on request; on PostgreSQL exactly one of several runners leads, and another takes over when it goes."""

from __future__ import annotations

import asyncio
import datetime as _dt

import pytest
from tests.support.postgres import new_database

from pushlog.hub._duties import AdvisoryLeadership, Duty, DutyRunner, SoleLeader

T0 = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)


def _at(seconds: float) -> _dt.datetime:
    return T0 + _dt.timedelta(seconds=seconds)


async def test_duties_run_at_their_intervals_and_a_failing_one_does_not_stop_the_others() -> None:
    seen: list[tuple[str, _dt.datetime]] = []

    def recorder(name: str) -> Duty:
        async def run(now: _dt.datetime) -> None:
            seen.append((name, now))

        return Duty(name, 10.0 if name == "fast" else 60.0, run)

    async def broken(now: _dt.datetime) -> None:
        raise RuntimeError("boom")

    runner = DutyRunner(
        [recorder("fast"), recorder("slow"), Duty("broken", 10.0, broken)],
        clock=lambda: T0,
        leadership=SoleLeader(),
    )
    assert await runner.run_due(_at(0)) == ["fast", "slow", "broken"]
    assert await runner.run_due(_at(9)) == []
    assert await runner.run_due(_at(10)) == ["fast", "broken"]
    assert await runner.run_due(_at(60)) == ["fast", "slow", "broken"]
    assert [name for name, _ in seen] == ["fast", "slow", "fast", "fast", "slow"]
    assert runner.runs == {"fast": 3, "slow": 2, "broken": 3}


async def test_a_request_runs_a_duty_before_its_interval() -> None:
    done = asyncio.Event()
    runs: list[_dt.datetime] = []

    async def run(now: _dt.datetime) -> None:
        runs.append(now)
        if len(runs) == 2:
            done.set()

    runner = DutyRunner([Duty("slow", 3600.0, run)], clock=lambda: T0, leadership=SoleLeader())
    runner.start()
    try:
        while not runs:
            await asyncio.sleep(0.01)
        runner.request("slow")
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        await runner.aclose()
    assert runs == [T0, T0]


def test_duty_names_are_unique() -> None:
    async def run(now: _dt.datetime) -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        DutyRunner([Duty("a", 1, run), Duty("a", 2, run)], clock=lambda: T0, leadership=SoleLeader())


async def test_on_postgresql_one_runner_leads_and_another_takes_over(pg_url: str) -> None:
    url = new_database(pg_url)
    counts = {"a": 0, "b": 0}

    def runner(name: str) -> DutyRunner:
        async def run(now: _dt.datetime) -> None:
            counts[name] += 1

        return DutyRunner(
            [Duty("work", 0.0, run)], clock=lambda: T0, leadership=AdvisoryLeadership(url), poll=0.05
        )

    first, second = runner("a"), runner("b")
    first.start()
    async with asyncio.timeout(20):
        while not first.leading:
            await asyncio.sleep(0.02)
    second.start()
    async with asyncio.timeout(20):  # several looks: the second never leads while the first holds the lock
        while second.looks < 5:
            await asyncio.sleep(0.02)
    assert (first.leading, second.leading) == (True, False)
    assert counts["a"] > 0 and counts["b"] == 0
    await first.aclose()  # its session ends, the lock is released
    async with asyncio.timeout(20):
        while not second.leading:
            await asyncio.sleep(0.02)
        while counts["b"] == 0:
            await asyncio.sleep(0.02)
    await second.aclose()
