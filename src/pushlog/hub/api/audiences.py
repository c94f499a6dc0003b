"""``/v1/segments`` (saved filters, by name) and ``POST /v1/audiences/preview`` (how many users and
devices an audience reaches, and a sample of user ids, before anything is sent).

Audiences and the filter language: :mod:`pushlog.hub.audience`, docs/notifications.md.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audience
from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import AudiencePreviewRequest, AudienceSpec, SegmentRequest, decode_body
from .._state import hub_state
from ..store import segments as segment_store
from ._names import path_name
from .users import USERS_SCOPE


def filter_error(where: str, exc: audience.FilterError) -> ApiError:
    """422 ``invalid_filter`` naming the field and the filter's column."""
    return ApiError(422, "invalid_filter", f"{where}: {exc}")


def resolve(conn: sa.Connection, spec: AudienceSpec) -> dict[str, Any]:
    """The audience as stored: the given parts, a segment's filter copied in as ``segment_filter``.
    Raises :class:`ApiError` for an unknown segment."""
    stored: dict[str, Any] = {
        key: value
        for key, value in (
            ("users", spec.users),
            ("segment", spec.segment),
            ("filter", spec.filter),
            ("topic", spec.topic),
        )
        if value is not None
    }
    if spec.segment is not None:
        segment = segment_store.get_segment(conn, spec.segment)
        if segment is None:
            raise ApiError(422, "invalid", f"audience.segment: no segment named {spec.segment!r}")
        stored["segment_filter"] = segment["filter"]
    return stored


def condition(stored: dict[str, Any], *, now: _dt.datetime) -> sa.ColumnElement[bool]:
    """The audience's SQL condition; 422 for a filter that is not one."""
    try:
        return audience.audience_condition(stored, now=now)
    except audience.FilterError as exc:
        raise filter_error("audience.filter", exc) from None


def _preview(conn: sa.Connection, spec: AudiencePreviewRequest, now: _dt.datetime) -> dict[str, Any]:
    where = condition(resolve(conn, spec), now=now)
    reach = audience.count(conn, where)
    return {
        "users": reach.users,
        "devices": reach.devices,
        "sample": audience.sample(conn, where, spec.sample),
    }


async def preview(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    spec = decode_body(await request.body(), AudiencePreviewRequest)
    return JSONResponse(await state.db_read(_preview, spec, state.clock()))


async def put_segment(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    body = decode_body(await request.body(), SegmentRequest)
    try:
        audience.compile_filter(audience.parse_filter(body.filter), now=state.clock())
    except audience.FilterError as exc:
        raise filter_error("filter", exc) from None
    found, created = await state.db(
        segment_store.put_segment, name, body.filter, body.description, now=state.clock()
    )
    return JSONResponse(found, status_code=201 if created else 200)


async def list_segments(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    return JSONResponse({"segments": await state.db_read(segment_store.list_segments)})


async def get_segment(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    found = await state.db_read(segment_store.get_segment, name)
    if found is None:
        raise ApiError(404, "not_found", f"no segment named {name!r}")
    return JSONResponse(found)


async def delete_segment(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    if not await state.db(segment_store.delete_segment, name):
        raise ApiError(404, "not_found", f"no segment named {name!r}")
    return Response(status_code=204)


routes = [
    Route("/v1/audiences/preview", preview, methods=["POST"]),
    Route("/v1/segments", list_segments, methods=["GET"]),
    Route("/v1/segments/{name}", put_segment, methods=["PUT"]),
    Route("/v1/segments/{name}", get_segment, methods=["GET"]),
    Route("/v1/segments/{name}", delete_segment, methods=["DELETE"]),
]
