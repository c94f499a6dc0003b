"""Group commit: concurrent publish requests share one write transaction.

With SQLite in ``synchronous=FULL`` every commit waits for an fsync, and ingest is serialised (one
writer; ``seq`` must commit in increasing order, see :attr:`HubState.ingest_lock`). So while one batch
commits, the next requests only queue. :class:`GroupCommit` lets them queue *together*: a request
submits its job (a function of the connection) and waits; one drain task at a time takes every job
waiting (up to ``max_jobs``), runs them one after the other in ONE transaction, commits once, and only
then resolves each request with its own job's result. Durability is that of one transaction per
request: a request is answered only after the commit that contains its rows; only the number of
fsyncs per request falls when requests arrive together. Each job sees the rows of the jobs before it
(the same transaction), so idempotency checks across concurrent requests stay exact.

Failure isolation: if a group's transaction fails, nothing of it was committed; when the error may be
caused by one job's data, each job is retried in a transaction of its own, so only the request that
carries the bad batch fails. Operational errors (the database is locked or gone) are not retried:
every request of the group gets that error.

A request that is cancelled (client gone) while waiting does not disturb the others: its job still
runs in its group (its batch is committed, as a request that was already in a transaction would be).
The drain holds the hub's ingest lock while it commits, so other writers that take that lock stay
serialised with ingest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

Job = Callable[[sa.Connection], Any]
#: Runs ``fn(conn)`` in one write transaction in a worker thread (``HubState.db``).
RunInTransaction = Callable[[Callable[[sa.Connection], Any]], Awaitable[Any]]


class GroupCommit:
    def __init__(
        self, run: RunInTransaction, *, lock: asyncio.Lock | None = None, max_jobs: int = 32
    ) -> None:
        self._run = run
        self._lock = lock or asyncio.Lock()
        self._max_jobs = max_jobs
        self._waiting: list[tuple[Job, asyncio.Future[Any]]] = []
        self._drain: asyncio.Task[None] | None = None
        #: Transactions committed and jobs they carried (for tests and benchmarks).
        self.groups = 0
        self.jobs = 0

    async def submit(self, job: Job) -> Any:
        """Run ``job(conn)`` in a write transaction (maybe shared); its result once committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # a cancelled waiter's outcome is not "never retrieved"
        self._waiting.append((job, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_all(), name="pushlog-group-commit")
        return await asyncio.shield(future)

    async def _drain_all(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_jobs]
            del self._waiting[: self._max_jobs]
            async with self._lock:  # other writers that take the ingest lock stay serialised with us
                await self._commit(group)

    async def _commit(self, group: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        jobs = [job for job, _ in group]
        try:
            results = await self._run(lambda conn: [job(conn) for job in jobs])
        except Exception as exc:
            if len(group) == 1 or isinstance(exc, sa.exc.OperationalError):
                for _, future in group:
                    _settle(future, exc=exc)
                return
            for job, future in group:  # find the bad one: one transaction each
                try:
                    result = await self._run(job)
                except Exception as single:
                    _settle(future, exc=single)
                else:
                    self.groups += 1
                    self.jobs += 1
                    _settle(future, result=result)
            return
        except BaseException:  # cancelled mid-commit (shutdown): nobody may wait forever
            for _, future in group:
                future.cancel()
            raise
        self.groups += 1
        self.jobs += len(group)
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result=result)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
