"""Running the hub under uvicorn, with a graceful shutdown that also ends live streams.

:func:`bind` opens the listening socket first (so ``port=0`` picks a free port and the banner can
name the real one). :class:`HubServer` is a ``uvicorn.Server`` whose shutdown first closes the
broker: Server-Sent-Event streams end at once, while ordinary in-flight requests get up to
``HubConfig.graceful_timeout`` seconds to finish.

Connections go through :mod:`pushlog.hub._connections` (uvicorn's h11 protocol with header and body
read timeouts and a connection cap sized to the descriptor limit), so slow clients cannot starve
the hub; :attr:`HubServer.connection_guard` holds its counters.

SIGTERM and SIGINT (Ctrl-C) mean "shut down gracefully", and a graceful shutdown exits 0. uvicorn
itself, once its shutdown is done, restores the signal handlers it found and raises the captured
signal again, so with Python's defaults a finished graceful shutdown still died by SIGTERM (exit
-15) or a ``KeyboardInterrupt`` traceback. :meth:`HubServer.run` (main thread only) installs handlers
of its own first, which only ask the server to exit: uvicorn's re-raise lands there and is a no-op,
and a signal that arrives before uvicorn took over (still starting) also ends in a graceful exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette

from ._clock import Clock
from ._connections import ConnectionGuard, connection_limits, guarded_protocol
from ._state import HubState
from .app import create_app
from .config import HubConfig

if TYPE_CHECKING:
    from .delivery import Sender

#: Length of the kernel's queue of connections not yet accepted.
LISTEN_BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP.
    # Without it, a response written in two parts on a keep-alive connection waits ~40 ms for the
    # client's delayed ACK (Nagle), which capped every keep-alive client at ~25 requests/s.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def with_bound_port(config: HubConfig, sock: socket.socket) -> HubConfig:
    """``config`` with ``port`` set to the socket's real port."""
    return dataclasses.replace(config, port=int(sock.getsockname()[1]))


class HubServer(uvicorn.Server):
    """uvicorn's server, closing the hub's live streams when shutdown begins."""

    def __init__(self, config: uvicorn.Config, state: HubState, guard: ConnectionGuard) -> None:
        super().__init__(config)
        self.hub_state = state
        self.connection_guard = guard

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # asyncio's create_server listens with ``backlog``, which is also how many connections it
        # accepts per wake-up (kept small, see _connections). A longer kernel queue is free, and
        # keeps a burst of connections from being dropped at SYN (clients then retry after 1 s).
        for sock in sockets or ():
            sock.listen(LISTEN_BACKLOG)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.hub_state.broker.close()
        await super().shutdown(sockets)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until told to stop; a SIGTERM/SIGINT shutdown returns normally (see module doc)."""
        with self._graceful_signals():
            super().run(sockets=sockets)

    def _ask_to_exit(self, signum: int, frame: FrameType | None) -> None:
        self.should_exit = True

    @contextlib.contextmanager
    def _graceful_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # a hub in a test thread: the test stops it with should_exit
            return
        previous = {sig: signal.signal(sig, self._ask_to_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def build_server(
    config: HubConfig,
    *,
    clock: Clock | None = None,
    senders: Mapping[str, Sender] | None = None,
    log_config: dict[str, Any] | str | None = uvicorn.config.LOGGING_CONFIG,
    access_log: bool = True,
    **create_kwargs: Any,
) -> tuple[HubServer, Starlette]:
    """The uvicorn server for the hub app (not started)."""
    app = create_app(config, clock=clock, senders=senders, **create_kwargs)
    cap, accept_batch = connection_limits(config.max_connections)
    guard = ConnectionGuard(limit=cap, header_timeout=config.header_timeout, body_timeout=config.body_timeout)
    uv_config = uvicorn.Config(
        app,
        http=guarded_protocol(guard),
        backlog=accept_batch,
        host=config.host,
        port=config.port,
        lifespan="on",
        timeout_graceful_shutdown=int(config.graceful_timeout),
        log_config=log_config,
        access_log=access_log,
        # Behind a reverse proxy (docs/deploy.md): the client address and scheme come from the
        # X-Forwarded-* headers of the proxies named in forwarded_allow_ips, and from nobody else's.
        proxy_headers=bool(config.forwarded_allow_ips),
        forwarded_allow_ips=list(config.forwarded_allow_ips) or None,
    )
    state = app.state.hub
    assert isinstance(state, HubState)
    return HubServer(uv_config, state, guard), app
