"""Preferences (``hub/attention``): per team device, per app user, the app's categories, and the
signed link that lets an app user change their own preferences with no key.

* ``GET/PUT /v1/devices/{device_id}/preferences`` (read): the device's document. ``min_level`` and
  ``channels`` are the device row's (the same values ``PATCH /v1/devices/{id}`` changes); a PUT that
  names them changes the row, the rest of the document replaces the stored one.
* ``GET/PUT /v1/users/{user_id}/preferences`` (:data:`USERS_SCOPE`): an app user's document, for all
  of that user's devices (a device with a document of its own keeps its own).
* ``GET /v1/categories`` (read or users), ``PUT/DELETE /v1/categories/{name}`` (:data:`USERS_SCOPE`): the
  app's categories with their default.
* ``POST /v1/users/{user_id}/preferences/link`` (:data:`USERS_SCOPE`): a URL to the preference page
  (``/preferences.html#token=...``) carrying a signed, expiring token; the page calls
  ``GET/PUT /v1/link/preferences`` with the token in ``X-Pushlog-Link``. Expired: 401
  ``link_expired``; tampered or foreign: 401 ``invalid_link``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._levels import Level, parse_level
from .._auth import authenticate
from .._clock import format_time
from .._errors import ApiError
from .._json import JSONResponse
from .._models import (
    CategoryList,
    LinkPreferences,
    PreferenceLink,
    PreferenceLinkRequest,
    SubjectPreferences,
    decode_body,
    decode_object,
    invalid,
)
from .._state import HubState, hub_state
from ..attention import (
    CATEGORY_NAME,
    Category,
    LinkError,
    PreferenceDocument,
    check_timezone,
    make_link_token,
    verify_link_token,
)
from ..store import devices as device_store
from ..store import preferences as pref_store
from ..store.device_tokens import DeviceTokenVault, open_vault
from .users import USERS_SCOPE, user_id_of

LINK_HEADER: Final = "x-pushlog-link"


def _document(raw: bytes) -> tuple[PreferenceDocument, set[str]]:
    """The body as a document (422 naming the field) and the keys it named."""
    document = decode_body(raw, PreferenceDocument)
    if document.timezone is not None and (problem := check_timezone(document.timezone)):
        raise invalid("timezone", problem)
    return document, set(decode_object(raw))


async def _vault(state: HubState) -> DeviceTokenVault:
    return await anyio.to_thread.run_sync(open_vault, state.config.data_dir, state.config.device_token_key)


def _device_view(device: dict[str, Any], stored: PreferenceDocument | None) -> SubjectPreferences:
    row_prefs = device["preferences"]
    level = row_prefs["min_level"]
    shown = msgspec.structs.replace(
        stored or PreferenceDocument(),
        min_level=level if isinstance(level, str) else Level(parse_level(level)).wire_name,
        channels=row_prefs["channels"],
    )
    return SubjectPreferences(subject="device", id=device["id"], custom=stored is not None, preferences=shown)


def _device_prefs(conn: Any, device_id: str, vault: DeviceTokenVault) -> SubjectPreferences | None:
    device = device_store.get_device(conn, device_id, vault)
    if device is None:
        return None
    return _device_view(device, pref_store.get_document(conn, pref_store.DEVICE, device_id))


def _put_device_prefs(
    conn: Any,
    device_id: str,
    document: PreferenceDocument,
    named: set[str],
    *,
    vault: DeviceTokenVault,
    now: _dt.datetime,
) -> SubjectPreferences | None:
    changes: dict[str, Any] = {}
    if "min_level" in named and document.min_level is not None:
        changes["min_level"] = int(parse_level(document.min_level))
    if "channels" in named:
        changes["channels"] = document.channels
    if device_store.update_device(conn, device_id, changes, vault=vault, now=now) is None:
        return None
    rest = msgspec.structs.replace(document, min_level=None, channels=None)
    pref_store.put_document(conn, pref_store.DEVICE, device_id, rest, now=now)
    return _device_prefs(conn, device_id, vault)


async def get_device_preferences(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    device_id = request.path_params["device_id"]
    found = await state.db_read(_device_prefs, device_id, await _vault(state))
    if found is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return JSONResponse(found)


async def put_device_preferences(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    document, named = _document(await request.body())
    device_id = request.path_params["device_id"]
    found = await state.db(
        _put_device_prefs, device_id, document, named, vault=await _vault(state), now=state.clock()
    )
    if found is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return JSONResponse(found)


def _user_prefs(conn: Any, user_id: str) -> SubjectPreferences:
    stored = pref_store.get_document(conn, pref_store.USER, user_id)
    return SubjectPreferences(
        subject="user", id=user_id, custom=stored is not None, preferences=stored or PreferenceDocument()
    )


def _put_user_prefs(
    conn: Any, user_id: str, document: PreferenceDocument, *, now: _dt.datetime
) -> SubjectPreferences:
    pref_store.put_document(conn, pref_store.USER, user_id, document, now=now)
    return _user_prefs(conn, user_id)


async def get_user_preferences(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    return JSONResponse(await state.db_read(_user_prefs, user_id_of(request)))


async def put_user_preferences(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    user_id = user_id_of(request)
    document, _ = _document(await request.body())
    return JSONResponse(await state.db(_put_user_prefs, user_id, document, now=state.clock()))


async def list_categories(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read", "users")
    return JSONResponse(CategoryList(categories=await state.db_read(pref_store.list_categories)))


def _category_name(request: Request) -> str:
    name = str(request.path_params["name"])
    if not CATEGORY_NAME.fullmatch(name):
        raise invalid("name", "1 to 64 characters of A-Z a-z 0-9 _ . : -")
    return name


async def put_category(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = _category_name(request)
    category = decode_body(await request.body(), Category)
    await state.db(pref_store.put_category, name, category, now=state.clock())
    return JSONResponse(category)


async def delete_category(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = _category_name(request)
    if not await state.db(pref_store.delete_category, name):
        raise ApiError(404, "not_found", f"no category {name!r}")
    return Response(status_code=204)


async def create_link(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    user_id = user_id_of(request)
    body = decode_body(await request.body(), PreferenceLinkRequest, optional=True) or PreferenceLinkRequest()
    expires_at = state.clock() + _dt.timedelta(seconds=body.expires_in_s)
    token = make_link_token(state.require_secrets().receipt_secret, user_id, expires_at=expires_at)
    url = f"{state.config.base_url.rstrip('/')}/preferences.html#token={token}"
    return JSONResponse(
        PreferenceLink(url=url, token=token, expires_at=format_time(expires_at)), status_code=201
    )


def _link_user(request: Request, state: HubState) -> str:
    token = request.headers.get(LINK_HEADER, "").strip()
    if not token:
        raise ApiError(401, "invalid_link", f"missing preference link token: send it in {LINK_HEADER}")
    try:
        return verify_link_token(state.require_secrets().receipt_secret, token, now=state.clock())
    except LinkError as exc:
        raise ApiError(401, exc.code, str(exc)) from None


async def get_link_preferences(request: Request) -> Response:
    state = hub_state(request)
    user_id = _link_user(request, state)
    view = await state.db_read(_user_prefs, user_id)
    known = await state.db_read(pref_store.list_categories)
    return JSONResponse(LinkPreferences(user=view, categories=known))


async def put_link_preferences(request: Request) -> Response:
    state = hub_state(request)
    user_id = _link_user(request, state)
    document, _ = _document(await request.body())
    return JSONResponse(await state.db(_put_user_prefs, user_id, document, now=state.clock()))


routes = [
    Route("/v1/devices/{device_id}/preferences", get_device_preferences, methods=["GET"]),
    Route("/v1/devices/{device_id}/preferences", put_device_preferences, methods=["PUT"]),
    Route("/v1/users/{user_id}/preferences", get_user_preferences, methods=["GET"]),
    Route("/v1/users/{user_id}/preferences", put_user_preferences, methods=["PUT"]),
    Route("/v1/users/{user_id}/preferences/link", create_link, methods=["POST"]),
    Route("/v1/categories", list_categories, methods=["GET"]),
    Route("/v1/categories/{name}", put_category, methods=["PUT"]),
    Route("/v1/categories/{name}", delete_category, methods=["DELETE"]),
    Route("/v1/link/preferences", get_link_preferences, methods=["GET"]),
    Route("/v1/link/preferences", put_link_preferences, methods=["PUT"]),
]
