"""``/v1/templates``: notification templates (Jinja2, sandboxed) per locale, syntax-checked when
saved (422 naming locale, field and line), and ``POST /v1/templates/{name}/preview`` to render one
for a sample user. Rendering: :mod:`pushlog.hub.notifications._render`."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import TemplatePreviewRequest, TemplateRequest, decode_body, invalid
from .._state import hub_state
from ..notifications import RenderError, render, syntax_error
from ..store import templates as template_store
from ..store.users import get_user, profiles
from ._names import path_name
from .users import USERS_SCOPE


async def put_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    body = decode_body(await request.body(), TemplateRequest)
    locales: dict[str, dict[str, str]] = {}
    for locale, text in body.locales.items():
        sources = msgspec.structs.asdict(text)
        for field, source in sources.items():
            if source is not None and (problem := syntax_error(source)) is not None:
                raise ApiError(422, "template_syntax", f"locales.{locale}.{field}: {problem}")
        locales[locale] = {k: v for k, v in sources.items() if v is not None}
    default = body.default_locale or ("en" if "en" in locales else next(iter(locales)))
    if default not in locales:
        raise invalid("default_locale", f"{default!r} is not one of the template's locales")
    found, created = await state.db(template_store.put_template, name, locales, default, now=state.clock())
    return JSONResponse(found, status_code=201 if created else 200)


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    return JSONResponse({"templates": await state.db_read(template_store.list_templates)})


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    found = await state.db_read(template_store.get_template, name)
    if found is None:
        raise ApiError(404, "not_found", f"no template named {name!r}")
    return JSONResponse(found)


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    if not await state.db(template_store.delete_template, name):
        raise ApiError(404, "not_found", f"no template named {name!r}")
    return Response(status_code=204)


def _preview_inputs(
    conn: sa.Connection, name: str, user_id: str | None
) -> tuple[dict[str, Any] | None, dict[str, Any], str | None]:
    template = template_store.get_template(conn, name)
    if user_id is None:
        return (
            template,
            {"id": None, "locale": None, "timezone": None, "plan": None, "country": None, "custom": {}},
            None,
        )
    user = get_user(conn, user_id)
    if user is None:
        raise ApiError(422, "invalid", f"user_id: no user {user_id!r}")
    return template, profiles(conn, [user_id])[user_id], user["effective"]["locale"]


async def preview(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    name = path_name(request)
    body = decode_body(await request.body(), TemplatePreviewRequest, optional=True)
    template, user, locale = await state.db_read(_preview_inputs, name, body.user_id)
    if template is None:
        raise ApiError(404, "not_found", f"no template named {name!r}")
    try:
        out = render(template, user=user, data=body.data or {}, locale=body.locale or locale)
    except RenderError as exc:
        raise ApiError(422, "render_error", str(exc)) from None
    return JSONResponse(
        {"locale": out.locale, "title": out.title, "body": out.body, "link": out.link, "image": out.image}
    )


routes = [
    Route("/v1/templates", list_all, methods=["GET"]),
    Route("/v1/templates/{name}", put_one, methods=["PUT"]),
    Route("/v1/templates/{name}", get_one, methods=["GET"]),
    Route("/v1/templates/{name}", delete_one, methods=["DELETE"]),
    Route("/v1/templates/{name}/preview", preview, methods=["POST"]),
]
