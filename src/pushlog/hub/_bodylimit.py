"""Request-size limit as ASGI middleware that never holds an oversized body in memory.

A request whose ``Content-Length`` (or streamed size) exceeds the limit gets a JSON 413. The body is
read and discarded chunk by chunk (up to ``drain_limit`` bytes, after which the connection is
simply answered and closed) so that ordinary HTTP clients, which send the whole body before reading
the response, see the 413 instead of a broken pipe. The application never sees the body.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import error_response


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, drain_limit: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_limit = drain_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        try:
            length = int(declared) if declared is not None else None
        except ValueError:
            length = None
        if length is not None and length > self.max_bytes:
            await self._reject(scope, receive, send, already=0, declared=length)
            return

        seen = 0
        started = False
        body_done = False

        async def limited_receive() -> Message:
            nonlocal seen, body_done
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, already=seen, declared=None, body_done=body_done)

    async def _reject(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        already: int,
        declared: int | None,
        body_done: bool = False,
    ) -> None:
        drained = already
        if declared is None or declared <= self.drain_limit:
            more = not body_done
            while more and drained <= self.drain_limit:
                message = await receive()
                if message["type"] != "http.request":
                    break
                drained += len(message.get("body", b""))
                more = bool(message.get("more_body", False))
        response = error_response(
            413, "request_too_large", f"request body is larger than the limit of {self.max_bytes} bytes"
        )
        await response(scope, receive, send)
