"""The ingest writer: one thread of the hub's own that runs the ingest transactions.

Ingest is serialised in a process (:attr:`HubState.ingest_lock`, one group commit at a time:
:mod:`pushlog.hub._group_commit`), so one thread is enough for it. A job is handed to that thread
with :meth:`asyncio.loop.run_in_executor`, which queues it at once. ``anyio.to_thread.run_sync``, used
for the hub's other database work, first lets the event loop run one turn (its capacity limiter's
checkpoint); on a loaded hub that turn is other requests' decoding, and the writer (the ingest's
bottleneck) waited about 5 ms per group for it (docs/performance.md, Ingest).

Like ``anyio.to_thread.run_sync``, a caller cancelled while its job runs sees the cancellation only
once the job has ended: no transaction is left running behind a request or a shutdown that has moved on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WriterThread:
    """A single worker thread, started on the first :meth:`run` and stopped by :meth:`close`."""

    def __init__(self, name: str = "pushlog-ingest") -> None:
        self._name = name
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the writer thread; its result or its exception. Raises RuntimeError once closed."""
        future = asyncio.get_running_loop().run_in_executor(self._start(), fn)
        cancelled = False
        while True:
            try:
                result = await asyncio.shield(future)
                break
            except asyncio.CancelledError:
                if future.cancelled():  # never started (the executor was shut down meanwhile)
                    raise
                cancelled = True  # wait for the job's end, then let the cancellation through
        if cancelled:
            raise asyncio.CancelledError
        return result

    def close(self) -> None:
        """Stop the thread once its current job (if any) ends; later :meth:`run` calls raise."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _start(self) -> concurrent.futures.ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the ingest writer is closed")
                executor = self._executor
                if executor is None:
                    executor = self._executor = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix=self._name
                    )
        return executor
