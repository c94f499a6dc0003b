"""API errors: one exception type, rendered as ``{"error": {"code", "message"}}`` with its status."""

from __future__ import annotations

import logging
import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._json import JSONResponse

_log = logging.getLogger("pushlog.hub")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a handler to answer ``status`` with a JSON error (``retry_after`` sets Retry-After)."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def error_response(status: int, code: str, message: str, *, retry_after: float | None = None) -> JSONResponse:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, retry_after=exc.retry_after)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 etc. in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    """The database could not be reached or stayed locked past the busy timeout: 503, retry soon.

    Nothing was committed (the transaction rolled back), so a client may safely send the same events
    again; their ids make the retry idempotent.
    """
    return error_response(
        503, "unavailable", "the database is busy or unavailable; retry shortly", retry_after=1
    )


def internal_error() -> JSONResponse:
    return error_response(500, "internal_error", "the hub failed to handle this request; see its log")


async def handle_internal_error(request: Request, exc: Exception) -> Response:
    """A bug that escaped :class:`InternalErrorMiddleware`: a JSON 500 (the server log has it)."""
    return internal_error()


class InternalErrorMiddleware:
    """A bug in a handler: log the traceback and answer a JSON 500, keeping the connection.

    Starlette's outermost error handler re-raises after answering, and uvicorn then closes the
    keep-alive connection; catching here (inside it) ends the request normally. An exception after
    the response started cannot be answered any more and is re-raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            _log.exception("error handling %s %s", scope.get("method"), scope.get("path"))
            await internal_error()(scope, receive, send)
