"""``/v1/heartbeats``: check-ins (publish key) and the list of heartbeats (read key).

``POST /v1/heartbeats/{name}`` takes an optional JSON body ``{"status": "start"|"success"|"failure",
"every_s" or "every", "grace_s" or "grace", "exit_code", "duration_s", "message"}`` — ``every``/``grace``
accept durations like ``"1d"`` — or the same as query parameters, so ``curl -X POST
'.../v1/heartbeats/backup?every=1d'`` is a complete check-in. No body means ``success``.
Answers 200 with the heartbeat. ``GET /v1/heartbeats`` lists them, ``GET /v1/heartbeats/{name}`` reads
one, ``DELETE /v1/heartbeats/{name}`` (admin) retires one.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._duration import parse_seconds
from .._auth import authenticate
from .._errors import ApiError
from .._state import hub_state
from .._validate import invalid, parse_json
from ..store.heartbeats import (
    STATUSES,
    CheckIn,
    delete_heartbeat,
    get_heartbeat,
    list_heartbeats,
    record_checkin,
)

NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+ -]{0,127}")
MAX_MESSAGE: Final = 1024
#: Longest accepted period: a year.
MAX_EVERY_S: Final = 366 * 86400.0


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


def _seconds(data: dict[str, Any], key: str) -> float | None:
    """``KEY_s`` (a number) or ``KEY`` (a number or a duration string), validated."""
    raw = data.get(f"{key}_s", data.get(key))
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise invalid(key, "must be a number of seconds or a duration like '1d'")
    try:
        seconds = parse_seconds(raw, key)
    except ValueError as exc:
        raise invalid(key, str(exc)) from None
    if not math.isfinite(seconds) or seconds > MAX_EVERY_S:
        raise invalid(key, "must be at most 366 days")
    return seconds


def parse_checkin(name: str, data: dict[str, Any]) -> CheckIn:
    """Validate a check-in body (or query parameters); 422 naming the bad field."""
    status = data.get("status", "success")
    if status not in STATUSES:
        raise invalid("status", f"must be one of {', '.join(STATUSES)}")
    every = _seconds(data, "every")
    grace = _seconds(data, "grace")
    if grace is not None and every is None:
        raise invalid("grace", "needs every")
    if every is not None and every < 1:
        raise invalid("every", "must be at least 1 second")
    exit_code = data.get("exit_code")
    if exit_code is not None:
        if isinstance(exit_code, str) and exit_code.lstrip("-").isdigit():
            exit_code = int(exit_code)
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise invalid("exit_code", "must be an integer")
    duration = data.get("duration_s")
    if duration is not None:
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise invalid("duration_s", "must be a number") from None
        if not math.isfinite(duration) or duration < 0:
            raise invalid("duration_s", "must be a non-negative number")
    message = data.get("message")
    if message is not None:
        if not isinstance(message, str):
            raise invalid("message", "must be a string")
        message = message[:MAX_MESSAGE]
    return CheckIn(
        name=name,
        status=str(status),
        every_s=every,
        grace_s=grace,
        exit_code=exit_code,
        duration_s=duration,
        message=message,
    )


async def checkin(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "publish")
    name = _name(request)
    data: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if raw.strip():
        body = parse_json(raw)
        if not isinstance(body, dict):
            raise invalid("body", "must be an object")
        data.update(body)
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


# -- OpenAPI (merged into the hub's document by ``hub/_openapi.py``) ----------------------------------

_NUM = {"type": ["number", "null"]}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}

OPENAPI_SCHEMAS: Final[dict[str, Any]] = {
    "Heartbeat": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["up", "overdue", "unmonitored"]},
            "every_s": _NUM,
            "grace_s": _NUM,
            "due_at": _NTIME,
            "created_at": {"type": "string", "format": "date-time"},
            "last_ping_at": _NTIME,
            "last_start_at": _NTIME,
            "last_success_at": _NTIME,
            "last_failure_at": _NTIME,
            "last_exit_code": {"type": ["integer", "null"]},
            "last_duration_s": _NUM,
            "last_message": {"type": ["string", "null"]},
            "overdue_since": _NTIME,
        },
    },
    "CheckIn": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": list(STATUSES), "default": "success"},
            "every_s": {"type": "number"},
            "every": {"type": "string", "description": "a duration like 1d, 6h, 15m (or every_s)"},
            "grace_s": {"type": "number"},
            "grace": {"type": "string", "description": "default: every/10, at least 60 s"},
            "exit_code": {"type": "integer"},
            "duration_s": {"type": "number"},
            "message": {"type": "string", "maxLength": MAX_MESSAGE},
        },
    },
}


def _resp(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errs(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


def openapi_paths() -> dict[str, Any]:
    heartbeat = {"$ref": "#/components/schemas/Heartbeat"}
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    listing = {"type": "object", "properties": {"heartbeats": {"type": "array", "items": heartbeat}}}
    return {
        "/v1/heartbeats": {
            "get": {
                "summary": "List heartbeats (dead man's switches)",
                "description": "Needs a key with scope `read` or higher.",
                "security": bearer,
                "responses": {
                    "200": _resp(listing, "All heartbeats, by name"),
                    **_errs(401, 403, 429),
                },
            }
        },
        "/v1/heartbeats/{name}": {
            "post": {
                "summary": "Check in (creates the heartbeat on first use)",
                "description": "Needs a key with scope `publish` or higher. No body means success; the "
                "same fields are accepted as query parameters. Overdue heartbeats raise an ERROR event, "
                "the next success an INFO event.",
                "security": bearer,
                "parameters": [_NAME_PARAM],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckIn"}}},
                },
                "responses": {"200": _resp(heartbeat, "The heartbeat now"), **_errs(400, 401, 403, 422, 429)},
            },
            "get": {
                "summary": "One heartbeat",
                "description": "Needs a key with scope `read` or higher.",
                "security": bearer,
                "parameters": [_NAME_PARAM],
                "responses": {"200": _resp(heartbeat, "The heartbeat"), **_errs(401, 403, 404)},
            },
            "delete": {
                "summary": "Retire a heartbeat",
                "description": "Needs a key with scope `admin`.",
                "security": bearer,
                "parameters": [_NAME_PARAM],
                "responses": {"204": {"description": "Deleted"}, **_errs(401, 403, 404)},
            },
        },
    }
