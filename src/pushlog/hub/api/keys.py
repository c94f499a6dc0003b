"""``/v1/keys`` (admin): list, create (the secret is in the response, once), revoke.

Revoking removes the devices the key registered; the last live admin key answers 409
``last_admin_key`` (see :func:`pushlog.hub.store.keys.revoke_key`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import KeyRequest, decode_body
from .._state import hub_state
from ..store import keys as key_store


async def list_keys(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    records = await state.db_read(key_store.list_keys)
    return JSONResponse({"keys": [r.to_json() for r in records]})


async def create_key(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    body = decode_body(await request.body(), KeyRequest)
    record, secret = await state.db(
        key_store.create_key, name=body.name.strip(), scope=body.scope, now=state.clock()
    )
    return JSONResponse({**record.to_json(), "secret": secret}, status_code=201)


async def revoke_key(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    key_id = request.path_params["key_id"]
    try:
        record = await state.db(key_store.revoke_key, key_id, now=state.clock())
        state.keys.forget(key_id)
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
