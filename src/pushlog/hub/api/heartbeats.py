"""``/v1/heartbeats``: check-ins (publish key) and the list of heartbeats (read key).

``POST /v1/heartbeats/{name}`` takes an optional JSON body ``{"status": "start"|"success"|"failure",
"every_s" or "every", "grace_s" or "grace", "exit_code", "duration_s", "message"}`` — ``every``/``grace``
accept durations like ``"1d"`` — or the same as query parameters, so ``curl -X POST
'.../v1/heartbeats/backup?every=1d'`` is a complete check-in. No body means ``success``.
Answers 200 with the heartbeat. ``GET /v1/heartbeats`` lists them, ``GET /v1/heartbeats/{name}`` reads
one, ``DELETE /v1/heartbeats/{name}`` (admin) retires one.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import MAX_MESSAGE, CheckInRequest, decode_object, describe, duration_field, invalid
from .._state import hub_state
from ..store.heartbeats import CheckIn, delete_heartbeat, get_heartbeat, list_heartbeats, record_checkin

NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+ -]{0,127}")


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    if not NAME_RE.fullmatch(name):
        raise ApiError(
            400,
            "invalid_name",
            "heartbeat name: 1-128 characters, letters, digits and . _ : @ + - or space, "
            "starting with a letter or digit",
        )
    return name


def parse_checkin(name: str, data: dict[str, Any]) -> CheckIn:
    """A check-in from body fields merged over query parameters; 422 naming the bad field."""
    try:
        given = msgspec.convert(data, CheckInRequest, strict=False)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", describe(exc, "")) from None
    every = given.every_s if given.every_s is not None else duration_field(given.every, "every")
    grace = given.grace_s if given.grace_s is not None else duration_field(given.grace, "grace")
    if grace is not None and every is None:
        raise invalid("grace", "needs every")
    if every is not None and every < 1:
        raise invalid("every", "must be at least 1 second")
    return CheckIn(
        name=name,
        status=given.status,
        every_s=every,
        grace_s=grace,
        exit_code=given.exit_code,
        duration_s=given.duration_s,
        message=given.message[:MAX_MESSAGE] if given.message is not None else None,
    )


async def checkin(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "publish")
    name = _name(request)
    data: dict[str, Any] = dict(request.query_params)
    data.update(decode_object(await request.body(), optional=True))
    parsed = parse_checkin(name, data)
    recorded = await state.db(record_checkin, parsed, now=state.clock(), key_id=key.id)
    if recorded.events:
        await state.broker.changed()
    if recorded.deliveries:
        state.wake_delivery()
    return JSONResponse(recorded.heartbeat)


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    return JSONResponse({"heartbeats": await state.db_read(list_heartbeats)})


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    name = _name(request)
    found = await state.db_read(get_heartbeat, name)
    if found is None:
        raise ApiError(404, "not_found", f"no heartbeat named {name!r}")
    return JSONResponse(found)


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    name = _name(request)
    if not await state.db(delete_heartbeat, name):
        raise ApiError(404, "not_found", f"no heartbeat named {name!r}")
    return Response(status_code=204)


routes = [
    Route("/v1/heartbeats", list_all, methods=["GET"]),
    Route("/v1/heartbeats/{name}", checkin, methods=["POST"]),
    Route("/v1/heartbeats/{name}", get_one, methods=["GET"]),
    Route("/v1/heartbeats/{name}", delete_one, methods=["DELETE"]),
]
