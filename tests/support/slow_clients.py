"""Slow-loris clients and a steady normal client, for the hub's slow-connection defences.

:class:`SlowClients` opens ``count`` TCP connections and sends a request head one byte at a time
(one byte per connection every ``interval`` seconds, never finishing), and records when the server
closed each one. :func:`normal_requests` meanwhile sends ordinary ``GET`` requests on fresh
connections and records how long each took (or that it failed). Used by
``tests/hub/test_connections.py`` (behaviour) and ``benchmarks/bench_slow_clients.py`` (figures).
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

HEAD = b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: " + b"a" * 4000


@dataclass
class SlowClients:
    host: str
    port: int
    count: int
    interval: float = 2.0
    opened: int = 0
    connect_failures: int = 0
    #: Seconds from opening to the server closing it, per connection (index = connection).
    closed_after: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def still_open(self) -> int:
        return self.opened - len(self.closed_after)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        started: dict[int, float] = {}
        sent: dict[int, int] = {}
        socks: dict[int, socket.socket] = {}
        for index in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(5)
            try:
                sock.connect((self.host, self.port))
            except OSError:
                self.connect_failures += 1
                sock.close()
                continue
            sock.setblocking(False)
            socks[index], started[index], sent[index] = sock, time.monotonic(), 0
            selector.register(sock, selectors.EVENT_READ, index)
            self.opened += 1
        next_byte = time.monotonic()
        while socks and not self._stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                index = key.data
                try:
                    data = socks[index].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server (an answer first, or not)
                    self._closed(index, selector, socks, started)
                else:
                    while data:  # read the answer to the end (the server closes after it)
                        try:
                            data = socks[index].recv(65536)
                        except OSError:
                            data = b""
                    self._closed(index, selector, socks, started)
            if time.monotonic() >= next_byte:
                next_byte += self.interval
                for index, sock in list(socks.items()):
                    try:
                        sock.send(HEAD[sent[index] : sent[index] + 1])
                        sent[index] += 1
                    except OSError:
                        self._closed(index, selector, socks, started)
        for sock in socks.values():
            sock.close()
        selector.close()

    def _closed(
        self,
        index: int,
        selector: selectors.BaseSelector,
        socks: dict[int, socket.socket],
        started: dict[int, float],
    ) -> None:
        sock = socks.pop(index, None)
        if sock is None:
            return
        self.closed_after[index] = time.monotonic() - started[index]
        selector.unregister(sock)
        sock.close()


@dataclass
class NormalResults:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def normal_requests(
    base_url: str, stop: threading.Event, results: NormalResults, *, pause: float = 0.05
) -> None:
    """``GET /healthz`` on a fresh connection each time until ``stop``; each must answer 200.

    A plain socket rather than an HTTP library: the time measured is the hub's (connect, answer),
    not the client's set-up (an ``httpx.get`` builds a TLS context each time, ~100 ms on a busy box).
    """
    host, port = base_url.removeprefix("http://").split(":")
    waiter = threading.Event()
    while not stop.is_set():
        began = time.monotonic()
        try:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b"none"
            if status == b"200":
                results.latencies.append(time.monotonic() - began)
            else:
                results.failures.append(f"HTTP {status.decode(errors='replace')}")
        except OSError as exc:
            results.failures.append(repr(exc))
        waiter.wait(pause)  # pacing of the normal client, not synchronisation
