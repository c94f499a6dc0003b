"""``/v1/device-groups``: the named groups of team devices an ``escalate`` rule's steps push to
(docs/rules.md#escalation).

``GET /v1/device-groups`` (read) lists them with the devices their members name now;
``GET /v1/device-groups/{name}`` (read) one; ``PUT`` (admin) sets a group's members (each a registered
team device's id or name: an unknown one is a 422 naming it); ``DELETE`` (admin) removes it, or
answers 409 ``group_in_use`` naming the escalate rules whose steps still push to it. The rows
are ``store/rules.py``'s, the same ones ``pushlog rules group`` and the rules file's ``[groups]`` write;
those two may also name phones before they are registered, this API checks them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._auth import authenticate
from .._errors import ApiError
from .._json import JSONResponse
from .._models import DeviceGroupRequest, decode_body, invalid
from .._state import hub_state
from ..store import rules as rule_store
from ._names import path_name


def _as_dicts(conn: sa.Connection, found: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The API form of groups (name -> members as declared)."""
    named = rule_store.team_devices_named(conn, sorted({m for members in found.values() for m in members}))
    result = []
    for name, members in found.items():
        devices = {d: n for member in members for d, n in named.get(member, [])}
        result.append(
            {
                "name": name,
                "members": members,
                "devices": [{"id": d, "name": n} for d, n in devices.items()],
            }
        )
    return result


def _one(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    found = _as_dicts(conn, rule_store.groups(conn, name))
    return found[0] if found else None


async def list_all(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    found = await state.db_read(lambda conn: _as_dicts(conn, rule_store.groups(conn)))
    return JSONResponse({"groups": found})


async def get_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    name = path_name(request)
    found = await state.db_read(_one, name)
    if found is None:
        raise ApiError(404, "not_found", f"no device group named {name!r}")
    return JSONResponse(found)


async def put_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    name = path_name(request)
    members = list(dict.fromkeys(decode_body(await request.body(), DeviceGroupRequest).members))

    def write(conn: sa.Connection) -> tuple[dict[str, Any], bool]:
        named = rule_store.team_devices_named(conn, members)
        for index, member in enumerate(members):
            if not named[member]:
                raise invalid(
                    f"members[{index}]",
                    f"no registered team device with id or name {member!r} (see GET /v1/devices)",
                )
        created = not rule_store.groups(conn, name)
        rule_store.set_group(conn, name, members)
        found = _one(conn, name)
        assert found is not None
        return found, created

    found, created = await state.db(write)
    return JSONResponse(found, status_code=201 if created else 200)


async def delete_one(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "admin")
    name = path_name(request)

    try:
        removed = await state.db(rule_store.remove_group, name)
    except rule_store.GroupInUseError as exc:
        raise ApiError(409, "group_in_use", str(exc)) from None
    if not removed:
        raise ApiError(404, "not_found", f"no device group named {name!r}")
    return Response(status_code=204)


routes = [
    Route("/v1/device-groups", list_all, methods=["GET"]),
    Route("/v1/device-groups/{name}", get_one, methods=["GET"]),
    Route("/v1/device-groups/{name}", put_one, methods=["PUT"]),
    Route("/v1/device-groups/{name}", delete_one, methods=["DELETE"]),
]
