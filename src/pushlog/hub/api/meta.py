"""Unauthenticated routes: ``/healthz``, the VAPID public key, ``/openapi.json``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._json import JSONResponse
from .._openapi import openapi_spec
from .._state import hub_state


async def healthz(request: Request) -> Response:
    state = hub_state(request)
    return JSONResponse({"ok": state.engine is not None})


async def vapid_public_key(request: Request) -> Response:
    return JSONResponse({"public_key": hub_state(request).require_secrets().vapid_public_key})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_spec(server_url=hub_state(request).config.base_url))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/v1/webpush/vapid-public-key", vapid_public_key, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
