"""A lean HTTP/1.1 transport for the Web Push sender's ``httpx.AsyncClient``.

Why: httpx's default transport (httpcore over anyio) spends most of a push's time in connection-pool
bookkeeping (every request scans and probes every pooled connection; httpx issue #3215): measured here
at about 600 pushes/s, no faster than pywebpush's blocking loop. Push requests are all alike (one
small POST, one small answer, many to few origins), so this transport keeps, per origin, a bounded
set of keep-alive connections on asyncio streams, frames HTTP/1.1 with ``h11`` (the parser httpcore
uses), and hands a fully read :class:`httpx.Response` back to the client. Every push service
(Mozilla, Google, Apple, Microsoft) accepts HTTP/1.1; the sender can still use httpx's own transport
(``http2=True``) where HTTP/2 is wanted.

Behaviour:

* timeouts come from the client (``connect``, ``read``, ``write`` per operation; ``pool`` is the wait
  for a free connection slot) and surface as httpx's exceptions, as do connection errors;
* at most ``max_per_origin`` connections per ``(scheme, host, port)``; idle ones are reused until
  ``keepalive_expiry`` seconds of idleness or until the server closes them;
* a request on a reused connection that the server had already closed (no response byte received) is
  retried once on a fresh connection — the push service never saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import certifi
import h11
import httpx

_READ_CHUNK = 65_536
Origin = tuple[str, str, int]


def default_ssl_context() -> ssl.SSLContext:
    """Certificate-verifying TLS with certifi's CA bundle (what httpx uses by default)."""
    return ssl.create_default_context(cafile=certifi.where())


class _StaleConnection(Exception):
    """A reused connection turned out closed before any response byte arrived."""


@dataclass(slots=True, eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = field(default_factory=time.monotonic)
    used: bool = False

    def usable(self, now: float, expiry: float) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and now - self.idle_since < expiry
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def _timeout(request: httpx.Request, name: str) -> float | None:
    value = request.extensions.get("timeout", {}).get(name)
    return None if value is None else float(value)


async def _with_timeout(awaitable: Any, seconds: float | None) -> Any:
    # asyncio.timeout (3.11+) runs the awaitable in the current task; wait_for would start a new one.
    async with asyncio.timeout(seconds):
        return await awaitable


class LeanTransport(httpx.AsyncBaseTransport):
    """See the module docstring."""

    def __init__(
        self,
        *,
        max_per_origin: int = 32,
        keepalive_expiry: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_per_origin < 1:
            raise ValueError("max_per_origin must be at least 1")
        self._max = max_per_origin
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots: dict[Origin, asyncio.Semaphore] = {}
        self._closed = False
        self.connections_opened = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.TransportError("transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: Origin = (url.scheme, url.host, port)
        slots = self._slots.setdefault(origin, asyncio.Semaphore(self._max))
        body = await request.aread()
        try:
            await _with_timeout(slots.acquire(), _timeout(request, "pool"))
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection within the pool timeout", request=request) from None
        try:
            for _attempt in range(2):
                conn = self._take_idle(origin) or await self._open(origin, request)
                try:
                    response = await self._roundtrip(conn, request, body)
                except _StaleConnection:
                    conn.close()
                    continue
                except BaseException:
                    conn.close()
                    raise
                self._release(origin, conn)
                return response
            raise httpx.RemoteProtocolError("server closed the connection twice", request=request)
        finally:
            slots.release()

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    def _release(self, origin: Origin, conn: _Connection) -> None:
        state = conn.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            conn.idle_since = time.monotonic()
            conn.used = True
            self._idle.setdefault(origin, []).append(conn)
        else:
            conn.close()

    async def _open(self, origin: Origin, request: httpx.Request) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl or default_ssl_context()
            self._ssl = context
        try:
            reader, writer = await _with_timeout(
                asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None, limit=_READ_CHUNK
                ),
                _timeout(request, "connect"),
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request) from exc
        self.connections_opened += 1
        return _Connection(reader=reader, writer=writer)

    async def _roundtrip(self, conn: _Connection, request: httpx.Request, body: bytes) -> httpx.Response:
        state = conn.h11
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]
        if not any(k.lower() == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        target = request.url.raw_path
        try:
            parts = [state.send(h11.Request(method=request.method.encode(), target=target, headers=headers))]
            if body:
                parts.append(state.send(h11.Data(data=body)))
            parts.append(state.send(h11.EndOfMessage()))
            data = b"".join(part for part in parts if part)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            conn.writer.write(data)
            await _with_timeout(conn.writer.drain(), _timeout(request, "write"))
        except TimeoutError:
            raise httpx.WriteTimeout("write timed out", request=request) from None
        except OSError as exc:
            if conn.used:
                raise _StaleConnection from exc
            raise httpx.WriteError(str(exc), request=request) from exc

        status = 0
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        received_any = False
        read_timeout = _timeout(request, "read")
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                if conn.used and not received_any:
                    raise _StaleConnection from exc
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                try:
                    chunk = await _with_timeout(conn.reader.read(_READ_CHUNK), read_timeout)
                except TimeoutError:
                    raise httpx.ReadTimeout("read timed out", request=request) from None
                except OSError as exc:
                    if conn.used and not received_any:
                        raise _StaleConnection from exc
                    raise httpx.ReadError(str(exc), request=request) from exc
                if chunk:
                    received_any = True
                elif conn.used and not received_any:
                    raise _StaleConnection
                state.receive_data(chunk)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                response_headers = list(event.headers)
            elif isinstance(event, h11.InformationalResponse):
                continue
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("server closed the connection mid-response", request=request)
        return httpx.Response(
            status,
            headers=response_headers,
            content=b"".join(chunks),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
