"""Unauthenticated routes: ``/healthz``, ``/readyz``, the VAPID public key, ``/openapi.json``; and
``/metrics`` (an admin key, or none with ``metrics_public`` on a loopback address)."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import error_response
from .._json import JSONResponse
from .._metrics import CONTENT_TYPE
from .._openapi import openapi_spec
from .._state import hub_state
from ..store import outbox
from ..store._engine import head_revision, schema_revision

#: Seconds a load balancer should wait before asking ``/readyz`` again after a 503.
READY_RETRY: float = 5.0


async def healthz(request: Request) -> Response:
    """Alive: the process answers (the database is not consulted; that is ``/readyz``)."""
    state = hub_state(request)
    return JSONResponse({"ok": state.engine is not None})


async def readyz(request: Request) -> Response:
    """Ready for traffic: the database answers and its schema is at this version's newest migration."""
    state = hub_state(request)
    if state.engine is None:
        return error_response(503, "not_ready", "the hub is starting or stopping", retry_after=READY_RETRY)
    try:
        current = await state.db_read(schema_revision)
    except sa.exc.SQLAlchemyError as exc:
        message = f"database unreachable: {type(exc).__name__}"
        return error_response(503, "not_ready", message, retry_after=READY_RETRY)
    head = head_revision()
    if current != head:
        message = f"database schema is at revision {current}, this hub needs {head}"
        return error_response(503, "not_ready", message, retry_after=READY_RETRY)
    return JSONResponse({"ready": True, "revision": current})


async def metrics(request: Request) -> Response:
    """Prometheus text format (``hub/_metrics.py``); the queue depth is counted at scrape time."""
    state = hub_state(request)
    if not state.config.metrics_public:
        await authenticate(request, "admin")
    queued = await state.db_read(outbox.queue_depth)
    body = state.metrics.render(queued=queued, streams=state.streams.live)
    return Response(body, media_type=CONTENT_TYPE)


async def vapid_public_key(request: Request) -> Response:
    return JSONResponse({"public_key": hub_state(request).require_secrets().vapid_public_key})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_spec(server_url=hub_state(request).config.base_url))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/webpush/vapid-public-key", vapid_public_key, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
