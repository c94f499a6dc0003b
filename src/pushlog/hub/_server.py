"""Running the hub under uvicorn, with a graceful shutdown that also ends live streams.

:func:`bind` opens the listening socket first (so ``port=0`` picks a free port and the banner can
name the real one). :class:`HubServer` is a ``uvicorn.Server`` whose shutdown first closes the
broker: Server-Sent-Event streams end at once, while ordinary in-flight requests get up to
``HubConfig.graceful_timeout`` seconds to finish.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ._clock import Clock
from ._state import HubState
from .app import create_app
from .config import HubConfig


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(512)
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

    def __init__(self, config: uvicorn.Config, state: HubState) -> None:
        super().__init__(config)
        self.hub_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.hub_state.broker.close()
        await super().shutdown(sockets)


def build_server(
    config: HubConfig,
    *,
    clock: Clock | None = None,
    senders: Mapping[str, Any] | None = None,
    log_config: dict[str, Any] | str | None = uvicorn.config.LOGGING_CONFIG,
    access_log: bool = True,
    **create_kwargs: Any,
) -> tuple[HubServer, Starlette]:
    """The uvicorn server for the hub app (not started)."""
    app = create_app(config, clock=clock, senders=senders, **create_kwargs)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        lifespan="on",
        timeout_graceful_shutdown=int(config.graceful_timeout),
        log_config=log_config,
        access_log=access_log,
        proxy_headers=False,
    )
    state = app.state.hub
    assert isinstance(state, HubState)
    return HubServer(uv_config, state), app
