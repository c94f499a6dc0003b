"""``/v1/devices``: register (or refresh) Web Push subscriptions, list, change preferences, remove.

Endpoints are checked by :func:`pushlog.hub._endpoints.validate_endpoint` (https, public addresses
only) unless the hub runs with ``allow_private_endpoints``. Subscription keys are checked for shape:
``p256dh`` a base64url uncompressed P-256 point (65 bytes), ``auth`` 16 bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._levels import PUSH_FLOOR, Level, parse_level
from .._auth import authenticate
from .._endpoints import EndpointError, validate_endpoint
from .._errors import ApiError
from .._state import hub_state
from .._validate import invalid, parse_json
from ..store import devices as device_store


def _b64url_bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise invalid(where, "required base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise invalid(where, "not base64url") from None


def _preferences(data: Any, where: str) -> dict[str, Any]:
    """``{"min_level", "channels"}`` as store columns; only the keys given."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise invalid(where, "must be an object")
    result: dict[str, Any] = {}
    if "min_level" in data:
        try:
            result["min_level"] = int(parse_level(data["min_level"]))
        except ValueError as exc:
            raise invalid(f"{where}.min_level", str(exc)) from None
    if "channels" in data:
        channels = data["channels"]
        if channels is not None and (
            not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels)
        ):
            raise invalid(f"{where}.channels", "must be an array of channel names or null (all channels)")
        result["channels"] = channels
    return result


def _name(body: dict[str, Any]) -> str | None:
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise invalid("name", "must be a string of at most 200 characters")
    return name


async def register(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise invalid("body", "must be an object")
    kind = body.get("kind", "webpush")
    if kind != "webpush":
        raise invalid("kind", "only 'webpush' devices can be registered on this hub so far")
    sub = body.get("subscription")
    if not isinstance(sub, dict):
        raise invalid("subscription", "required object {endpoint, keys: {p256dh, auth}}")
    endpoint = sub.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise invalid("subscription.endpoint", "required string")
    keys = sub.get("keys")
    if not isinstance(keys, dict):
        raise invalid("subscription.keys", "required object {p256dh, auth}")
    p256dh = _b64url_bytes(keys.get("p256dh"), "subscription.keys.p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise invalid("subscription.keys.p256dh", "must be an uncompressed P-256 public key (65 bytes)")
    if len(_b64url_bytes(keys.get("auth"), "subscription.keys.auth")) != 16:
        raise invalid("subscription.keys.auth", "must be 16 bytes")
    try:
        await anyio.to_thread.run_sync(
            lambda: validate_endpoint(
                endpoint, allow_private=state.config.allow_private_endpoints, resolver=state.resolver
            )
        )
    except EndpointError as exc:
        raise ApiError(422, "invalid_endpoint", str(exc)) from None
    prefs = _preferences(body.get("preferences"), "preferences")
    registration = device_store.WebPushRegistration(
        name=_name(body),
        endpoint=endpoint,
        p256dh=keys["p256dh"],
        auth=keys["auth"],
        min_level=Level(prefs.get("min_level", int(PUSH_FLOOR))),
        channels=prefs.get("channels"),
    )
    device, created = await state.db(device_store.register_webpush, registration, now=state.clock())
    return JSONResponse(device, status_code=201 if created else 200)


async def list_devices(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    return JSONResponse({"devices": await state.db_read(device_store.list_devices)})


async def update_device(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise invalid("body", "must be an object")
    changes = _preferences(body.get("preferences"), "preferences")
    if "name" in body:
        changes["name"] = _name(body)
    device_id = request.path_params["device_id"]
    device = await state.db(device_store.update_device, device_id, changes, now=state.clock())
    if device is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return JSONResponse(device)


async def remove_device(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    device_id = request.path_params["device_id"]
    if not await state.db(device_store.remove_device, device_id):
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return Response(status_code=204)


routes = [
    Route("/v1/devices", register, methods=["POST"]),
    Route("/v1/devices", list_devices, methods=["GET"]),
    Route("/v1/devices/{device_id}", update_device, methods=["PATCH"]),
    Route("/v1/devices/{device_id}", remove_device, methods=["DELETE"]),
]
