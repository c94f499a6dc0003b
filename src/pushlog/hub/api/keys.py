"""``/v1/keys`` (admin): list, create (the secret is in the response, once), revoke.

Revoking removes the devices the key registered; the last live admin key answers 409
``last_admin_key`` (see :func:`pushlog.hub.store.keys.revoke_key`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._state import hub_state
from .._validate import invalid, parse_json
from ..store import keys as key_store


async def list_keys(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    records = await state.db_read(key_store.list_keys)
    return JSONResponse({"keys": [r.to_json() for r in records]})


async def create_key(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise invalid("body", "must be an object")
    name, scope = body.get("name"), body.get("scope")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise invalid("name", "required string of 1 to 200 characters")
    if scope not in key_store.SCOPES:
        raise invalid("scope", f"must be one of {', '.join(key_store.SCOPES)}")
    record, secret = await state.db(key_store.create_key, name=name.strip(), scope=scope, now=state.clock())
    return JSONResponse({**record.to_json(), "secret": secret}, status_code=201)


async def revoke_key(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    key_id = request.path_params["key_id"]
    try:
        record = await state.db(key_store.revoke_key, key_id, now=state.clock())
    except key_store.LastAdminKeyError as exc:
        raise ApiError(409, "last_admin_key", str(exc)) from None
    if record is None:
        raise ApiError(404, "not_found", f"no key with id {key_id}")
    return JSONResponse(record.to_json())


routes = [
    Route("/v1/keys", list_keys, methods=["GET"]),
    Route("/v1/keys", create_key, methods=["POST"]),
    Route("/v1/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
