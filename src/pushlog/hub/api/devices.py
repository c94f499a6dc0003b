"""``/v1/devices``: register (or refresh) Web Push subscriptions and FCM/APNs tokens, list, change
preferences, remove.

Native tokens (``kind`` fcm or apns, ``token``) are accepted only when the hub has that transport's
credentials, and are sealed by the device-token vault before they reach the store.

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

from ..._levels import PUSH_FLOOR, Level, parse_level
from .._auth import authenticate
from .._endpoints import EndpointError, validate_endpoint
from .._errors import ApiError
from .._json import JSONResponse
from .._models import DeviceChange, DeviceRegistration, Preferences, decode_body, invalid
from .._state import hub_state
from ..store import devices as device_store
from ..store.device_tokens import open_vault

NATIVE_KINDS = ("fcm", "apns")
MAX_TOKEN_CHARS = 4096


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
    if body.kind in NATIVE_KINDS:
        return await _register_native(request, body, key_id=key.id)
    sub = body.subscription
    if sub is None:
        raise invalid("subscription", "required object {endpoint, keys: {p256dh, auth}} for kind 'webpush'")
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
        min_level=Level(prefs.get("min_level", int(PUSH_FLOOR))),
        channels=prefs.get("channels"),
    )
    device, created = await state.db(
        device_store.register_webpush, registration, now=state.clock(), key_id=key.id
    )
    return JSONResponse(device, status_code=201 if created else 200)


def _native_token(kind: str, value: str | None) -> str:
    if value is None or not value or len(value) > MAX_TOKEN_CHARS or value != value.strip():
        raise invalid("token", f"required: the {kind.upper()} device token as the app received it")
    if kind == "apns" and (
        len(value) % 2 or len(value) < 64 or any(c not in "0123456789abcdefABCDEF" for c in value)
    ):
        raise invalid("token", "an APNs device token is hex (64 characters or more)")
    return value


async def _register_native(request: Request, body: DeviceRegistration, *, key_id: str) -> Response:
    """``{"kind": "fcm"|"apns", "token", "name"?, "preferences"?}``: a team device on a native transport."""
    state = hub_state(request)
    kind = body.kind
    if kind not in state.config.native_kinds:
        flags = (
            "--fcm-credentials" if kind == "fcm" else "--apns-key/--apns-key-id/--apns-team-id/--apns-topic"
        )
        raise ApiError(
            422,
            "transport_not_configured",
            f"kind {kind!r}: this hub has no {kind.upper()} credentials ({flags})",
        )
    token = _native_token(kind, body.token)
    prefs = _preferences(body.preferences, "preferences")
    vault = await anyio.to_thread.run_sync(open_vault, state.config.data_dir, state.config.device_token_key)
    registration = device_store.NativeRegistration(
        kind=kind,
        name=body.name,
        token_hash=vault.lookup_hash(kind, token),
        token_ciphertext=vault.encrypt(kind, token),
        min_level=Level(prefs.get("min_level", int(PUSH_FLOOR))),
        channels=prefs.get("channels"),
    )
    device, created = await state.db(
        device_store.register_native, registration, now=state.clock(), key_id=key_id
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
