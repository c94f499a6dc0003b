"""``/v1/triggers``: log events that become app users' notifications (``hub/notifications/_triggers.py``).

``PUT /v1/triggers/{name}`` creates or replaces one (its template must exist), ``GET /v1/triggers``
lists them, ``DELETE /v1/triggers/{name}`` removes one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._levels import parse_level
from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import TriggerRequest, decode_body, duration_field, invalid
from .._state import hub_state
from ..store import templates as template_store
from ..store import triggers as store
from ._names import path_name
from .users import USERS_SCOPE


def _values(body: TriggerRequest) -> dict[str, Any]:
    delay = duration_field(body.delay, "delay")
    try:
        level = parse_level(body.level)
    except ValueError as exc:
        raise invalid("level", str(exc)) from None
    return {
        "channel": body.channel,
        "title": body.title,
        "user_key": body.user_key,
        "template": body.template,
        "delay_s": delay,
        "once_key": body.once_key,
        "level": int(level),
    }


def _put(conn: sa.Connection, name: str, values: dict[str, Any], now: Any) -> tuple[dict[str, Any], bool]:
    if template_store.get_template(conn, values["template"]) is None:
        raise invalid("template", f"no template named {values['template']!r}")
    return store.put_trigger(conn, name, values, now=now)


async def put_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    values = _values(decode_body(await request.body(), TriggerRequest))
    found, created = await state.db(_put, name, values, state.clock())
    return JSONResponse(found, status_code=201 if created else 200)


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    return JSONResponse({"triggers": await state.db_read(store.list_triggers)})


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    if not await state.db(store.delete_trigger, name):
        raise ApiError(404, "not_found", f"no trigger named {name!r}")
    return Response(status_code=204)


routes = [
    Route("/v1/triggers", list_all, methods=["GET"]),
    Route("/v1/triggers/{name}", put_one, methods=["PUT"]),
    Route("/v1/triggers/{name}", delete_one, methods=["DELETE"]),
]
