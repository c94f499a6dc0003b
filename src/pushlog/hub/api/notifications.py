"""``/v1/notifications``: notifications to an app's users (DESIGN §8, docs/notifications.md).

``POST`` takes an audience, content (a template's name, or literal ``title``/``body``), options and a
schedule, stores the notification (a known ``idempotency_key`` returns the earlier one with 200) and
wakes the runner that expands it when due (``hub/notifications/_runner.py``). ``GET`` lists them
newest first; ``GET /{id}`` shows one with its funnel; ``POST /{id}/cancel`` cancels what has not
been sent.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgspec
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._duration import parse_seconds
from ..._levels import parse_level
from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import (
    MAX_TIME,
    MIN_TIME,
    NotificationListQuery,
    NotificationRequest,
    Schedule,
    bad_query,
    decode_body,
    invalid,
    parse_query,
)
from .._state import hub_state
from .._timezones import is_iana_zone
from ..notifications._create import template_content
from ..notifications._schedule import local_time_of
from ..store import notifications as store
from ..store import templates as template_store
from .audiences import condition, resolve
from .users import USERS_SCOPE


def _schedule(given: Schedule | None, now: _dt.datetime) -> tuple[dict[str, Any], _dt.datetime]:
    """(the schedule as stored, when to expand); 422 for contradictions."""
    if given is None:
        return {}, now
    kinds = [k for k in ("at", "delay", "local_time") if getattr(given, k) is not None]
    if len(kinds) > 1:
        raise invalid("schedule", f"give one of at, delay and local_time, not {' and '.join(kinds)}")
    if given.timezone is not None and not is_iana_zone(given.timezone):
        raise invalid("schedule.timezone", f"unknown IANA time zone {given.timezone!r}")
    if given.at is not None:
        at = given.at if given.at.tzinfo is not None else given.at.replace(tzinfo=_dt.UTC)
        if at >= MAX_TIME:
            raise invalid("schedule.at", "too far in the future")
        return {"at": at.astimezone(_dt.UTC).isoformat()}, max(at, now)
    if given.delay is not None:
        try:
            seconds = parse_seconds(given.delay, "schedule.delay")
        except ValueError as exc:
            raise invalid("schedule.delay", str(exc)) from None
        if seconds > 366 * 86400:
            raise invalid("schedule.delay", "at most 366 days")
        return {"delay_s": seconds}, now + _dt.timedelta(seconds=seconds)
    if given.local_time is not None:
        if given.date is None:
            raise invalid("schedule.date", "required with local_time (YYYY-MM-DD)")
        stored = {"local_time": given.local_time, "date": given.date, "timezone": given.timezone}
        try:
            local = local_time_of(stored)
            assert local is not None
            earliest = local.earliest
        except (ValueError, OverflowError) as exc:
            raise invalid("schedule", f"not a date and time: {exc}") from None
        if not MIN_TIME <= earliest < MAX_TIME - _dt.timedelta(days=2):
            raise invalid("schedule.date", "must be between 1970 and 9998")
        return stored, max(earliest, now)
    if given.date is not None:
        raise invalid("schedule.local_time", "required with date (HH:MM)")
    return {}, now


def _create(
    conn: sa.Connection, body: NotificationRequest, *, now: _dt.datetime, key_id: str, ttl: int
) -> tuple[dict[str, Any], bool]:
    stored_audience = resolve(conn, body.audience)
    condition(stored_audience, now=now)  # the filter is checked now, not when it is due
    if body.template is not None:
        template = template_store.get_template(conn, body.template)
        if template is None:
            raise invalid("template", f"no template named {body.template!r}")
        content = template_content(template)
    elif body.title is not None:
        content = {"title": body.title, "body": body.body}
    else:
        raise invalid("body", "give a template or a title")
    try:
        level = parse_level(body.level)
    except ValueError as exc:
        raise invalid("level", str(exc)) from None
    schedule, start_at = _schedule(body.schedule, now)
    options = {
        "data": body.data,
        "image": body.image,
        "link": body.link,
        "actions": [msgspec.structs.asdict(a) for a in body.actions or []],
        "category": body.category,
        "time_sensitive": body.time_sensitive,
    }
    values = {
        "audience": stored_audience,
        "content": content,
        "options": options,
        "level": int(level),
        "ttl": body.ttl if body.ttl is not None else ttl,
        "collapse_key": body.collapse_key,
        "idempotency_key": body.idempotency_key,
        "schedule": schedule,
        "start_at": start_at,
        "key_id": key_id,
    }
    return store.create(conn, values, now=now)


def _wake(request: Request) -> None:
    runner = getattr(request.app.state, "notifications", None)
    if runner is not None:
        runner.wake()


async def create(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, USERS_SCOPE)
    body = decode_body(await request.body(), NotificationRequest)
    found, created = await state.db(
        _create, body, now=state.clock(), key_id=key.id, ttl=state.config.push_ttl
    )
    if created:
        _wake(request)
    return JSONResponse(found, status_code=201 if created else 200)


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    query = parse_query(request.query_params, NotificationListQuery)
    try:
        after = None if query.cursor is None else store.decode_cursor(query.cursor)
    except ValueError:
        raise bad_query("cursor", "not a cursor this hub gave") from None
    page, cursor = await state.db_read(store.list_page, limit=query.limit, after=after)
    return JSONResponse({"notifications": page, "next_cursor": cursor})


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    notification_id = str(request.path_params["notification_id"])
    found = await state.db_read(store.get, notification_id)
    if found is None:
        raise ApiError(404, "not_found", f"no notification {notification_id!r}")
    return JSONResponse(found)


async def cancel(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, USERS_SCOPE)
    notification_id = str(request.path_params["notification_id"])
    found = await state.db(store.cancel, notification_id, now=state.clock())
    if found is None:
        raise ApiError(404, "not_found", f"no notification {notification_id!r}")
    return JSONResponse(found)


routes = [
    Route("/v1/notifications", create, methods=["POST"]),
    Route("/v1/notifications", list_all, methods=["GET"]),
    Route("/v1/notifications/{notification_id}", get_one, methods=["GET"]),
    Route("/v1/notifications/{notification_id}/cancel", cancel, methods=["POST"]),
]
