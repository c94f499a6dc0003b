"""``/v1/rules``: rules over the event stream (docs/rules.md).

``GET /v1/rules`` (read) lists them with their state; ``GET /v1/rules/{name}`` (read) adds the state
history; ``PUT /v1/rules/{name}`` (admin) declares one, idempotently; ``DELETE`` (admin) removes it.
A publish key may PUT ``expect`` rules only (``pushlog.expect`` registers with the app's own key) and
may not change a rule an admin key or the rules file declared (409).
"""

from __future__ import annotations

import re
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._clock import format_time
from .._errors import ApiError
from .._json import JSONResponse
from .._models import RuleRequest, decode_body
from .._state import hub_state
from ..rules import RuleSpec, declare, spec_from_request
from ..store import rules as rule_store
from ..store.keys import scope_allows

NAME_RE: Final = re.compile(r"\S(?:.{0,126}\S)?")


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    if not NAME_RE.fullmatch(name) or "\n" in name:
        raise ApiError(400, "invalid_name", "rule name: 1-128 characters on one line, no surrounding spaces")
    return name


def as_dict(row: Any, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API form of a rule row."""
    spec = RuleSpec.from_json(row.kind, row.spec)
    found = {
        "name": row.name,
        "kind": row.kind,
        "match": spec.match,
        "every_s": spec.every_s,
        "grace_s": spec.grace_s,
        "count": spec.count,
        "within_s": spec.within_s,
        "rate": spec.rate,
        "quiet_s": spec.quiet_s,
        "level": spec.alert_level.wire_name if row.kind in ("expect", "threshold") else None,
        "title": spec.title,
        "steps": spec.steps,
        "paused": spec.paused,
        "source": row.source,
        "state": row.state,
        "state_since": format_time(row.state_since),
        "due_at": format_time(row.due_at),
        "last_match_at": format_time(row.last_match_at),
        "alert_event_id": row.alert_event_id,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }
    if history is not None:
        found["history"] = history
    return found


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    rows = await state.db_read(rule_store.list_rules)
    return JSONResponse({"rules": [as_dict(row) for row in rows]})


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    name = _name(request)

    def read(conn: Any) -> dict[str, Any] | None:
        row = rule_store.get_rule(conn, name)
        return None if row is None else as_dict(row, rule_store.history(conn, row.id))

    found = await state.db_read(read)
    if found is None:
        raise ApiError(404, "not_found", f"no rule named {name!r}")
    return JSONResponse(found)


async def put_one(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "publish")
    name = _name(request)
    admin = scope_allows(key.scope, "admin")
    spec = spec_from_request(decode_body(await request.body(), RuleRequest))
    if not admin and spec.kind != "expect":
        raise ApiError(
            403, "forbidden", "a publish key may declare expect rules only; this needs an admin key"
        )
    source = "api" if admin else "client"

    def write(conn: Any) -> dict[str, Any]:
        row = rule_store.get_rule(conn, name)
        if row is not None and not admin and row.source != "client":
            raise ApiError(
                409, "conflict", f"rule {name!r} was declared by {row.source}; change it with an admin key"
            )
        declared = declare(conn, name=name, spec=spec, source=source, key_id=key.id, now=state.clock())
        return as_dict(declared.row)

    found = await state.db(write)
    state.rules.invalidate()
    return JSONResponse(found)


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    name = _name(request)
    if not await state.db(rule_store.delete_rule, name):
        raise ApiError(404, "not_found", f"no rule named {name!r}")
    state.rules.invalidate()
    return Response(status_code=204)


routes = [
    Route("/v1/rules", list_all, methods=["GET"]),
    Route("/v1/rules/{name}", get_one, methods=["GET"]),
    Route("/v1/rules/{name}", put_one, methods=["PUT"]),
    Route("/v1/rules/{name}", delete_one, methods=["DELETE"]),
]
