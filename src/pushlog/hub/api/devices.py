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
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._levels import Level, parse_level
from .._auth import authenticate
from .._endpoints import EndpointError, validate_endpoint
from .._errors import ApiError
from .._json import JSONResponse
from .._models import DeviceChange, DeviceRegistration, Preferences, decode_body, invalid
from .._state import hub_state
from ..store import devices as device_store


def _b64url_bytes(value: str, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise invalid(where, "not base64url") from None


def _preferences(given: Preferences | None, where: str) -> dict[str, Any]:
    """``{"min_level", "channels"}`` as store columns; only the keys given."""
    if given is None:
        return {}
    result: dict[str, Any] = {}
    if given.min_level is not msgspec.UNSET:
        try:
            result["min_level"] = int(parse_level(given.min_level))
        except ValueError as exc:
            raise invalid(f"{where}.min_level", str(exc)) from None
    if given.channels is not msgspec.UNSET:
        result["channels"] = given.channels
    return result


async def register(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "read")
    body = decode_body(await request.body(), DeviceRegistration)
    sub = body.subscription
    p256dh = _b64url_bytes(sub.keys.p256dh, "subscription.keys.p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise invalid("subscription.keys.p256dh", "must be an uncompressed P-256 public key (65 bytes)")
    if len(_b64url_bytes(sub.keys.auth, "subscription.keys.auth")) != 16:
        raise invalid("subscription.keys.auth", "must be 16 bytes")
    try:
        await anyio.to_thread.run_sync(
            lambda: validate_endpoint(
                sub.endpoint, allow_private=state.config.allow_private_endpoints, resolver=state.resolver
            )
        )
    except EndpointError as exc:
        raise ApiError(422, "invalid_endpoint", str(exc)) from None
    prefs = _preferences(body.preferences, "preferences")
    registration = device_store.WebPushRegistration(
        name=body.name,
        endpoint=sub.endpoint,
        p256dh=sub.keys.p256dh,
        auth=sub.keys.auth,
        min_level=Level(prefs.get("min_level", int(Level.WARNING))),
        channels=prefs.get("channels"),
    )
    device, created = await state.db(
        device_store.register_webpush, registration, now=state.clock(), key_id=key.id
    )
    return JSONResponse(device, status_code=201 if created else 200)


async def list_devices(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    return JSONResponse({"devices": await state.db_read(device_store.list_devices)})


async def update_device(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    body = decode_body(await request.body(), DeviceChange)
    changes = _preferences(body.preferences, "preferences")
    if body.name is not msgspec.UNSET:
        changes["name"] = body.name
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
