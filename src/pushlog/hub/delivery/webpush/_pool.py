"""Web Push encryption in worker processes, handed over a chunk of messages per job.

The event loop is the hub's fan-out bottleneck, and encryption (an ECDH and an AES-GCM call per
message, :func:`~._encrypt.encrypt_raw`) is about a third of its CPU per message. An executor job per
message costs the loop about what it saves (pickling, the executor's queue thread, one future per
job), so :class:`EncryptBatcher` collects the messages asked for within one turn of the event loop
and submits them as a few jobs (:func:`encrypt_chunk`: at most :data:`CHUNK` messages each, spread
over the workers so a small burst such as an event's first pushes is encrypted in parallel), each
returning every body at once. A message whose keys the worker rejects gets its error back, not the
whole chunk's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import os
import threading
import time
from typing import Final

from ._encrypt import encrypt_raw

__all__ = ["CHUNK", "INLINE_MAX", "EncryptBatcher", "encrypt_chunk", "process_pool"]

#: The most messages one job encrypts: large enough to amortize the hand-off, small enough that the
#: first bodies of a burst come back after a few milliseconds of encryption.
CHUNK: Final = 16
#: A loop turn asking for at most this many encryptions does them on the loop: a lone event's first
#: pushes pay no hand-off.
INLINE_MAX: Final = 8
#: How often a worker checks that the process that started it is still there (seconds).
PARENT_CHECK_SECONDS: Final = 1.0

Job = tuple[bytes, bytes, bytes]  # plaintext, the subscription's p256dh point, its auth secret


def encrypt_chunk(jobs: list[Job]) -> list[bytes | ValueError]:
    """Encrypt each job (in a worker process); a job that fails gets its ValueError in its place."""
    out: list[bytes | ValueError] = []
    for plaintext, receiver, secret in jobs:
        try:
            out.append(encrypt_raw(plaintext, receiver, secret))
        except ValueError as exc:  # SubscriptionKeyError included: one bad device, not the chunk
            out.append(exc)
    return out


def _noop() -> None:
    """A no-op job: the workers are ready once each has run one."""


def _exit_with(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it is gone (a hub killed
    with SIGKILL never shuts its pool down, and its workers would otherwise wait for jobs forever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="pushlog-encrypt-parent", daemon=True).start()


def process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (not forked: the hub runs threads) that end with it."""
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with,
        initargs=(os.getpid(),),
    )


class EncryptBatcher:
    """Encrypt a loop turn's worth of messages per batch; see the module docstring.

    Either on ``executor`` (the caller's, shut down by the caller) or on a pool of ``workers``
    processes this batcher owns: started at the first turn that asks for more than
    :data:`INLINE_MAX` encryptions (a hub that never fans out wide never starts it), encrypting on
    the loop until its workers are up, and shut down by :meth:`aclose`.
    """

    def __init__(self, *, executor: concurrent.futures.Executor | None = None, workers: int = 1) -> None:
        self._executor = executor
        self._owned = executor is None
        self._ready = executor is not None
        self._workers = max(1, workers)
        self._waiting: list[tuple[Job, asyncio.Future[bytes]]] = []
        self._closed = False
        self._warm: list[asyncio.Future[None]] = []

    @property
    def started(self) -> bool:
        """Whether encryption goes to an executor (the caller's, or the owned pool once started)."""
        return self._executor is not None

    async def warm_up(self) -> None:
        """Start the owned pool now, if it is not yet, and wait until its workers take work."""
        if self._executor is None and not self._closed:
            self._start(asyncio.get_running_loop())
        if self._warm:
            await asyncio.gather(*self._warm)

    async def encrypt(self, plaintext: bytes, keys: tuple[bytes, bytes]) -> bytes:
        """The aes128gcm body for ``plaintext`` (raises ValueError as :func:`encrypt_raw` does, and
        RuntimeError once the executor is shut down)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush, loop)
        self._waiting.append(((plaintext, *keys), future))
        return await future

    async def aclose(self) -> None:
        """Shut the owned pool down (waiting for its workers); later encryptions raise RuntimeError."""
        self._closed = True
        pool, self._executor = self._executor, None
        if self._owned and pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, []
        if self._closed:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(RuntimeError("the encryption pool is closed"))
            return
        if len(waiting) > INLINE_MAX and self._executor is None:
            self._start(loop)
        if len(waiting) <= INLINE_MAX or not self._ready or self._executor is None:
            _settle(waiting, encrypt_chunk([job for job, _ in waiting]))
            return
        size = min(CHUNK, max(1, -(-len(waiting) // self._workers)))
        for start in range(0, len(waiting), size):
            part = waiting[start : start + size]
            try:
                job = loop.run_in_executor(self._executor, encrypt_chunk, [each for each, _ in part])
            except RuntimeError as exc:  # shut down meanwhile
                for _, future in part:
                    if not future.done():
                        future.set_exception(exc)
                continue
            job.add_done_callback(functools.partial(_settled, part))

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the owned pool; it takes work once every worker has run a no-op job."""
        pool = self._executor = process_pool(self._workers)
        warm = [loop.run_in_executor(pool, _noop) for _ in range(self._workers)]
        self._warm = warm

        def up(_: object) -> None:
            if all(each.done() and not each.cancelled() and each.exception() is None for each in warm):
                self._ready = True

        for each in warm:
            each.add_done_callback(up)


def _settled(
    part: list[tuple[Job, asyncio.Future[bytes]]], done: asyncio.Future[list[bytes | ValueError]]
) -> None:
    if done.cancelled():
        for _, future in part:
            future.cancel()
        return
    error = done.exception()
    if error is not None:  # the pool broke or was shut down: the sender answers RETRY
        for _, future in part:
            if not future.done():
                future.set_exception(RuntimeError(f"encryption pool failed: {error!r}"))
        return
    _settle(part, done.result())


def _settle(part: list[tuple[Job, asyncio.Future[bytes]]], bodies: list[bytes | ValueError]) -> None:
    for (_, future), body in zip(part, bodies, strict=True):
        if future.done():  # the send was cancelled meanwhile
            continue
        if isinstance(body, ValueError):
            future.set_exception(body)
        else:
            future.set_result(body)
