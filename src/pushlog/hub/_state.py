"""What request handlers share: config, engine, secrets, broker, limiter, delivery service, clock,
metrics.

One :class:`HubState` per app, on ``app.state.hub``. Database work runs in worker threads through
:meth:`HubState.db` / :meth:`HubState.db_read` so the event loop never blocks on SQLite; ingest
transactions (:meth:`HubState.ingest`) on the ingest writer's own thread (``_writer.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from starlette.requests import Request

from ._bootstrap import Secrets
from ._broker import Broker
from ._clock import Clock
from ._endpoints import Resolver
from ._group_commit import GroupCommit
from ._keycache import KeyCache
from ._metrics import HubMetrics
from ._pushbudget import PushBudget
from ._ratelimit import RateLimiter
from ._streams import StreamSlots
from ._writer import WriterThread
from .config import HubConfig
from .rules import RulesEngine
from .store import alerts, connect_read_only

if TYPE_CHECKING:  # delivery imports aiohttp; the app loads it only when the hub starts
    from .delivery import DeliveryService, Sender

T = TypeVar("T")
_Committed = tuple[T, list[dict[str, Any]]]  # a transaction's result and the alert lines it resolved


@dataclass(slots=True, kw_only=True)
class HubState:
    config: HubConfig
    clock: Clock
    broker: Broker
    limiter: RateLimiter
    auth_failures: RateLimiter
    streams: StreamSlots
    push_budget: PushBudget
    resolver: Resolver
    senders: Mapping[str, Sender] | None = None
    engine: sa.Engine | None = None
    secrets: Secrets | None = None
    delivery: DeliveryService | None = None
    metrics: HubMetrics = field(default_factory=HubMetrics)
    #: Rules over the event stream (compiled once per generation; the publish path wraps its job).
    rules: RulesEngine = field(default_factory=RulesEngine)
    #: API keys recently looked up (``_auth.lookup_key``); revoking one through the API forgets it.
    keys: KeyCache = field(default_factory=KeyCache)
    #: The thread the ingest transactions run on (``_writer.py``); the lifespan closes it.
    writer: WriterThread = field(default_factory=WriterThread)
    _touched: dict[str, float] = field(default_factory=dict)
    _ingest_lock: asyncio.Lock | None = None
    _group_commit: GroupCommit | None = None

    @property
    def ingest_lock(self) -> asyncio.Lock:
        """Serialises event inserts in this process, so ``seq`` values commit in increasing order.

        SQLite serialises writers anyway; on PostgreSQL, concurrent transactions could otherwise
        commit a lower ``seq`` after a higher one was read, and a stream or a cursor walk that had
        already passed it would never see it. Across hub processes on one PostgreSQL the advisory
        lock ``store._locks.INGEST`` (taken by ``events.lookup``, before the batch's ids are read)
        does the same.
        """
        if self._ingest_lock is None:
            self._ingest_lock = asyncio.Lock()
        return self._ingest_lock

    async def ingest(self, job: Callable[[sa.Connection], T]) -> T:
        """Run the ingest ``job(conn)`` in a write transaction shared with concurrent ingests (group
        commit, :mod:`pushlog.hub._group_commit`), under :attr:`ingest_lock`; its result once committed."""
        if self._group_commit is None:
            self._group_commit = GroupCommit(self._timed_db, lock=self.ingest_lock)
        result: T = await self._group_commit.submit(job)
        return result

    async def _timed_db(self, fn: Callable[[sa.Connection], T]) -> T:
        """:meth:`db` for ingest commits, on the ingest :attr:`writer` thread, timed into
        ``pushlog_ingest_commit_seconds``."""
        start = time.perf_counter()
        try:
            return await self._transaction(self.writer.run, fn)
        finally:
            self.metrics.ingest_commit.observe(time.perf_counter() - start)

    def require_engine(self) -> sa.Engine:
        if self.engine is None:
            raise RuntimeError("hub is not started")
        return self.engine

    def require_secrets(self) -> Secrets:
        if self.secrets is None:
            raise RuntimeError("hub is not started")
        return self.secrets

    async def db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in one write transaction, in a worker thread. Alerts the
        transaction resolved (``store/alerts.py``) go to the live streams once it has committed."""
        return await self._transaction(anyio.to_thread.run_sync, fn, *args, **kwargs)

    async def _transaction(
        self,
        in_thread: Callable[[Callable[[], _Committed[T]]], Awaitable[_Committed[T]]],
        fn: Callable[..., T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """``fn(conn, ...)`` in one write transaction, run by ``in_thread`` (``anyio.to_thread.run_sync``
        or :meth:`WriterThread.run`); resolved alert lines go to the streams once committed."""
        engine = self.require_engine()

        def run() -> _Committed[T]:
            with engine.connect() as conn:
                resolved = alerts.noting_resolved(conn)
                with conn.begin():
                    result = fn(conn, *args, **kwargs)
            return result, resolved

        result, resolved = await in_thread(run)
        if resolved:
            await self.broker.resolved(resolved)
        return result

    async def db_read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Like :meth:`db` for pure reads (no write lock on SQLite)."""
        engine = self.require_engine()

        def run() -> T:
            with connect_read_only(engine) as conn, conn.begin():
                return fn(conn, *args, **kwargs)

        return await anyio.to_thread.run_sync(run)

    def wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()


def hub_state(request: Request) -> HubState:
    state = request.app.state.hub
    assert isinstance(state, HubState)
    return state
