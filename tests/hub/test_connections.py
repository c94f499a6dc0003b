"""Slow and excess connections: header/body read timeouts (408), the connection cap, and a hub under a
256-descriptor limit that keeps answering while 400 slow-loris connections are closed."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.hub_server import ThreadHub, start_hub_process, wait_until
from tests.support.slow_clients import NormalResults, SlowClients, normal_requests

from pushlog.hub._connections import ConnectionGuard, connection_limits


def address(hub: ThreadHub) -> tuple[str, int]:
    host, port = hub.base_url.removeprefix("http://").split(":")
    return host, int(port)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def answer_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_limits_fit_the_descriptor_limit() -> None:
    assert connection_limits(1000, nofile=256) == (168, 12)  # 168 + 2 x 12 + 64 reserved = 256
    assert connection_limits(1000, nofile=1024) == (840, 60)
    assert connection_limits(1000, nofile=1 << 20) == (1000, 2048)
    assert connection_limits(5, nofile=1 << 20) == (5, 2048)


def test_headers_that_take_too_long_get_408_and_the_connection_is_closed(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    running = hub_factory(header_timeout=0.5)
    with socket.create_connection(address(running), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        status, body = answer_of(read_all(sock))
    assert status == 408
    assert body["error"]["code"] == "request_timeout"
    with running.client() as client:  # a normal request is not affected
        assert client.get("/healthz").status_code == 200


def test_a_body_that_takes_too_long_gets_408_and_no_traceback(hub_factory: Callable[..., ThreadHub]) -> None:
    running = hub_factory(body_timeout=0.5)
    errors: list[str] = []
    catcher = logging.Handler(logging.ERROR)
    catcher.emit = lambda record: errors.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("uvicorn.error").addHandler(catcher)
    try:
        with socket.create_connection(address(running), timeout=10) as sock:  # a receipt needs no key
            sock.sendall(
                b"POST /v1/deliveries/dl_x/receipt HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            status, body = answer_of(read_all(sock))
        with running.client() as client:  # the app has seen the disconnect by the next request
            assert client.get("/healthz").status_code == 200
    finally:
        logging.getLogger("uvicorn.error").removeHandler(catcher)
    assert (status, body["error"]["code"]) == (408, "request_timeout")
    assert errors == []  # the abandoned body is not the hub's error: no "Exception in ASGI application"


def test_at_the_cap_the_longest_waiting_connection_makes_room(hub_factory: Callable[..., ThreadHub]) -> None:
    running = hub_factory(max_connections=3)
    idle = [socket.create_connection(address(running), timeout=10) for _ in range(3)]
    try:
        idle[0].sendall(b"GE")  # the oldest: a head begun, never finished
        wait_until(
            lambda: len(running.server.connection_guard.open) == 3, timeout=10, what="3 connections in"
        )
        with running.client() as client:
            assert client.get("/healthz").status_code == 200
        assert read_all(idle[0]) == b""  # closed without an answer: it had not asked anything
    finally:
        for sock in idle:
            sock.close()
    assert running.server.connection_guard.counts["evicted"] >= 1


class _Connection:
    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.closed = False

    def close_waiting(self) -> None:
        self.closed = True
        self.guard.forget(self)


def test_when_every_connection_is_busy_a_newcomer_is_refused() -> None:
    guard = ConnectionGuard(limit=2, header_timeout=1, body_timeout=1)
    busy = [_Connection(guard), _Connection(guard)]
    assert all(guard.admit(c) for c in busy)  # admitted, then their heads arrived (not waiting)
    assert guard.admit(_Connection(guard)) is False
    assert guard.counts["refused"] == 1
    waiting = busy[0]
    guard.waiting[waiting] = None
    newcomer = _Connection(guard)
    assert guard.admit(newcomer) is True
    assert waiting.closed and guard.open == {busy[1], newcomer}


def test_400_slow_connections_under_256_descriptors_are_closed_and_normal_requests_answered(
    tmp_path: Path,
) -> None:
    with start_hub_process(
        tmp_path / "data", args=("--header-timeout", "2"), prefix=("prlimit", "--nofile=256:256", "--")
    ) as hub:
        host, port = hub.base_url.removeprefix("http://").split(":")
        stop = threading.Event()
        results = NormalResults()
        normal = threading.Thread(target=normal_requests, args=(hub.base_url, stop, results))
        slow = SlowClients(host, int(port), 400).start()
        normal.start()
        try:
            wait_until(
                lambda: slow.opened == 400 and slow.still_open == 0, timeout=60, what="all slow ones closed"
            )
            wait_until(lambda: len(results.latencies) >= 20, timeout=60, what="20 normal answers")
        finally:
            stop.set()
            normal.join()
            slow.stop()
        log = hub.log(lines=10_000)
    assert slow.connect_failures == 0
    assert results.failures == []
    accept_lines = [line for line in log.splitlines() if "accept" in line.lower()]
    assert accept_lines == []
    assert sum("closing slow or excess connections" in line for line in log.splitlines()) <= 1
