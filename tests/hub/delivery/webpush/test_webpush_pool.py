"""EncryptBatcher: a loop turn's encryptions handed to worker processes in chunks, small turns on the
loop, the owned pool started only by a wide turn and shut down by aclose."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.hub_server import wait_until
from tests.support.push_service import Subscriber

from pushlog.hub.delivery.webpush import SubscriptionKeyError, parse_keys
from pushlog.hub.delivery.webpush._pool import INLINE_MAX, EncryptBatcher, process_pool


def subscribers(count: int) -> list[Subscriber]:
    return [Subscriber(endpoint=f"https://push.example.net/{n}") for n in range(count)]


async def encrypt_all(batcher: EncryptBatcher, subs: list[Subscriber]) -> list[bytes]:
    plaintexts = [f"message {n}".encode() for n in range(len(subs))]
    bodies = await asyncio.gather(
        *(
            batcher.encrypt(text, parse_keys(sub.p256dh, sub.auth))
            for text, sub in zip(plaintexts, subs, strict=True)
        )
    )
    assert [sub.decrypt(body) for sub, body in zip(subs, bodies, strict=True)] == plaintexts
    return bodies


async def test_small_turns_are_encrypted_on_the_loop_without_starting_a_pool() -> None:
    batcher = EncryptBatcher(workers=2)
    for _ in range(3):
        await encrypt_all(batcher, subscribers(INLINE_MAX))
    assert not batcher.started
    await batcher.aclose()


async def test_a_wide_turn_starts_the_pool_and_every_body_decrypts_before_and_after_it_is_up() -> None:
    batcher = EncryptBatcher(workers=2)
    try:
        await encrypt_all(batcher, subscribers(40))  # starts the pool, encrypted here meanwhile
        assert batcher.started
        await batcher.warm_up()
        await encrypt_all(batcher, subscribers(40))  # in the workers, chunks of at most CHUNK
    finally:
        await batcher.aclose()
    with pytest.raises(RuntimeError):
        await batcher.encrypt(b"late", parse_keys(*_keys(subscribers(1)[0])))


async def test_a_key_off_the_curve_fails_only_its_own_message_in_a_worker() -> None:
    pool = process_pool(2)
    batcher = EncryptBatcher(executor=pool, workers=2)
    subs = subscribers(20)
    _, secret = parse_keys(*_keys(subs[0]))
    off_curve = b"\x04" + b"\x01" * 64
    try:
        results = await asyncio.gather(
            *(batcher.encrypt(b"hello", parse_keys(*_keys(sub))) for sub in subs),
            batcher.encrypt(b"hello", (off_curve, secret)),
            return_exceptions=True,
        )
    finally:
        await batcher.aclose()
        pool.shutdown()  # the caller's executor: aclose left it running
    *bodies, refused = results
    assert isinstance(refused, SubscriptionKeyError)
    assert [sub.decrypt(body) for sub, body in zip(subs, bodies, strict=True) if isinstance(body, bytes)] == [
        b"hello"
    ] * 20


def _keys(sub: Subscriber) -> tuple[str, str]:
    return sub.p256dh, sub.auth


def test_the_workers_end_when_the_process_that_started_them_is_killed() -> None:
    """A hub killed with SIGKILL never shuts its pool down: its workers notice and exit."""
    script = (
        "import os, sys\n"
        "from pushlog.hub.delivery.webpush._pool import process_pool\n"
        "pool = process_pool(1)\n"
        "print(pool.submit(os.getpid).result(), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert Path(f"/proc/{worker}").exists()
    finally:
        parent.kill()
        parent.wait()
    wait_until(lambda: not _alive(worker), timeout=10, what="the orphaned worker to exit")


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
