"""The ingest writer thread: one thread of its own, jobs queued without a loop turn, a cancelled
caller released only once its job has ended, closed for good."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pushlog.hub._writer import WriterThread


async def test_jobs_run_on_one_thread_that_is_not_the_loops() -> None:
    writer = WriterThread()
    try:
        threads = [await writer.run(threading.get_ident) for _ in range(3)]
    finally:
        writer.close()
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


async def test_a_job_reaches_its_thread_without_waiting_for_a_loop_turn() -> None:
    """``anyio.to_thread.run_sync`` lets the loop run a turn before it hands the job over; on a busy
    hub that turn is other requests' work. Here the loop is held right after the caller's first
    step, and the job must still start."""
    writer = WriterThread()
    started = threading.Event()
    try:
        job = asyncio.ensure_future(writer.run(started.set))
        await asyncio.sleep(0)  # the caller's first step
        assert started.wait(5)  # blocks the loop: only a job already handed over can start
        await job
    finally:
        writer.close()


async def test_the_result_and_the_exception_come_back() -> None:
    writer = WriterThread()

    def fail() -> None:
        raise ValueError("bad batch")

    try:
        assert await writer.run(lambda: 41 + 1) == 42
        with pytest.raises(ValueError, match="bad batch"):
            await writer.run(fail)
    finally:
        writer.close()


async def test_a_cancelled_caller_waits_for_its_job_to_end() -> None:
    writer = WriterThread()
    running, release = threading.Event(), threading.Event()
    ended: list[bool] = []

    def job() -> str:
        running.set()
        release.wait(10)
        ended.append(True)
        return "committed"

    try:
        task = asyncio.ensure_future(writer.run(job))
        await asyncio.to_thread(running.wait, 10)
        task.cancel()
        for _ in range(5):  # the cancellation is held while the job runs
            await asyncio.sleep(0)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended == [True]  # it saw the cancellation only after the job's end
    finally:
        release.set()
        writer.close()


async def test_a_closed_writer_refuses_new_jobs() -> None:
    writer = WriterThread()
    await writer.run(lambda: None)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        await writer.run(lambda: None)
