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
from typing import Final

from ._encrypt import encrypt_raw

__all__ = ["CHUNK", "EncryptBatcher", "encrypt_chunk", "process_pool"]

#: The most messages one job encrypts: large enough to amortize the hand-off, small enough that the
#: first bodies of a burst come back after a few milliseconds of encryption.
CHUNK: Final = 16

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


def _ready() -> None:
    """A no-op job: submitted at start-up so the workers are spawned before the first push."""


def process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (not forked: the hub runs threads), warmed up at once."""
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    )
    for _ in range(workers):
        pool.submit(_ready)
    return pool


class EncryptBatcher:
    """Encrypt on ``executor`` a loop turn's worth of messages per batch; see the module docstring."""

    def __init__(self, executor: concurrent.futures.Executor, workers: int) -> None:
        self._executor = executor
        self._workers = max(1, workers)
        self._waiting: list[tuple[Job, asyncio.Future[bytes]]] = []

    async def encrypt(self, plaintext: bytes, keys: tuple[bytes, bytes]) -> bytes:
        """The aes128gcm body for ``plaintext`` (raises ValueError as :func:`encrypt_raw` does, and
        RuntimeError once the executor is shut down)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush, loop)
        self._waiting.append(((plaintext, *keys), future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, []
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
            job.add_done_callback(functools.partial(_settle, part))


def _settle(
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
    for (_, future), body in zip(part, done.result(), strict=True):
        if future.done():  # the send was cancelled meanwhile
            continue
        if isinstance(body, ValueError):
            future.set_exception(body)
        else:
            future.set_result(body)
