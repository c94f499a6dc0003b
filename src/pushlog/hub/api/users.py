"""``/v1/users/{user_id}``: an app's users (DESIGN §8).

``PUT`` creates or replaces a user's attributes (``locale``, ``timezone``, ``plan``, ``country``,
``custom``) and, when given, ``topics``; ``GET`` shows them with ``effective`` locale and time zone
(merged with what the user's devices report); ``DELETE`` erases the user: attributes, topics and
every device naming them (right to erasure, docs/notifications.md).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import USER_ID_RE, UserRequest, decode_body, invalid
from .._state import hub_state
from .._timezones import is_iana_zone
from ..store.users import UserProfile, delete_user, get_user, put_user

#: The scope that manages app users and sends them notifications: ``users`` (an app's backend; admin
#: keys may too, ``store/keys.scope_allows``).
USERS_SCOPE: Final = "users"


def user_id_of(request: Request) -> str:
    user_id = str(request.path_params["user_id"])
    if not USER_ID_RE.fullmatch(user_id):
        raise ApiError(400, "invalid_user_id", "user id: 1-200 characters, no '/' and no control characters")
    return user_id


async def put_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    user_id = user_id_of(request)
    body = decode_body(await request.body(), UserRequest)
    if body.timezone is not None and not is_iana_zone(body.timezone):
        raise invalid("timezone", f"unknown IANA time zone {body.timezone!r} (e.g. Europe/Berlin)")
    profile = UserProfile(
        locale=body.locale,
        timezone=body.timezone,
        plan=body.plan,
        country=body.country.upper() if body.country else None,
        custom=body.custom,
        topics=body.topics,
    )
    user, created = await state.db(put_user, user_id, profile, now=state.clock())
    return JSONResponse(user, status_code=201 if created else 200)


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    user_id = user_id_of(request)
    found = await state.db_read(get_user, user_id)
    if found is None:
        raise ApiError(404, "not_found", f"no user {user_id!r}")
    return JSONResponse(found)


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    user_id = user_id_of(request)
    removed = await state.db(delete_user, user_id)
    if removed is None:
        raise ApiError(404, "not_found", f"no user {user_id!r}")
    return JSONResponse({"id": user_id, "devices_removed": removed})


routes = [
    Route("/v1/users/{user_id}", put_one, methods=["PUT"]),
    Route("/v1/users/{user_id}", get_one, methods=["GET"]),
    Route("/v1/users/{user_id}", delete_one, methods=["DELETE"]),
]
