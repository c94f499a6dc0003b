"""``pushlog serve --workers N`` (PostgreSQL only): N hub processes sharing one listening socket.

The parent binds the socket, bootstraps the database (migrations, keys, secrets, the device-token
key file) once, prints the banner, then starts N worker processes (``multiprocessing`` spawn; each
gets the socket and runs the whole hub: its own app, lifespan, dispatcher, relay and duty runner,
hub/_server.py). The kernel spreads new connections over the workers. What the processes share
lives in PostgreSQL: the outbox (claims skip each other's rows), live-stream changes (LISTEN/NOTIFY),
and the periodic duties (one leader by advisory lock); see docs/deploy.md.

The parent supervises: a worker that dies (a crash, ``kill -9``) is replaced, unless workers keep
dying faster than :data:`RESTART_LIMIT` per :data:`RESTART_WINDOW` seconds (then everything stops,
exit 1). SIGTERM or SIGINT to the parent stops every worker gracefully (exit 0).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections import deque
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Final

#: Replacements allowed within :data:`RESTART_WINDOW` seconds before the supervisor gives up.
RESTART_LIMIT: Final = 5
RESTART_WINDOW: Final = 30.0


def _worker(config: Any, sock: socket.socket, access_log: bool) -> None:
    """One hub process (runs in a spawned child)."""
    from pushlog.hub._server import build_server

    server, _app = build_server(config, access_log=access_log)
    server.run(sockets=[sock])
    sys.exit(0 if server.started else 1)


def supervise(config: Any, sock: socket.socket, *, workers: int, access_log: bool) -> int:
    """Run ``workers`` hub processes on ``sock`` until SIGTERM/SIGINT; returns the exit code."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(slot: int) -> BaseProcess:
        process = context.Process(
            target=_worker, args=(config, sock, access_log), name=f"pushlog-hub-{slot}", daemon=False
        )
        process.start()
        return process

    restarts: deque[float] = deque()
    code = 0
    processes = [start(slot) for slot in range(workers)]
    try:
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
            for slot, process in enumerate(processes):
                if process.exitcode is None or stopping:
                    continue
                now = time.monotonic()
                while restarts and now - restarts[0] > RESTART_WINDOW:
                    restarts.popleft()
                if len(restarts) >= RESTART_LIMIT:
                    print(
                        f"pushlog: hub workers keep exiting ({RESTART_LIMIT} in {RESTART_WINDOW:.0f} s); "
                        "stopping (see the log above)",
                        file=sys.stderr,
                        flush=True,
                    )
                    stopping, code = True, 1
                    break
                restarts.append(now)
                print(
                    f"pushlog: hub worker {process.pid} exited ({process.exitcode}); starting another",
                    file=sys.stderr,
                    flush=True,
                )
                processes[slot] = start(slot)
    finally:
        for process in processes:
            if process.exitcode is None and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + float(config.graceful_timeout) + 10.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join(10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
