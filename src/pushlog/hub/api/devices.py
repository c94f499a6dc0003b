"""``/v1/devices``: register (or refresh) Web Push subscriptions and FCM/APNs tokens, list, change
preferences, remove; ``/v1/users/{user_id}/devices``: an app user's devices.

Two kinds of device (DESIGN §8), kept apart by key scope: team devices (no ``user_id``) are the
``read`` scope's, an app's users' devices (``user_id``) the ``users`` scope's; ``admin`` has both. A
key of one branch neither sees nor changes the other's devices (they answer 404, as if absent).

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
from .._state import HubState, hub_state
from .._timezones import is_iana_zone
from ..store import devices as device_store
from ..store.device_tokens import DeviceTokenVault, open_vault
from ..store.keys import KeyRecord

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


async def _vault(state: HubState) -> DeviceTokenVault:
    return await anyio.to_thread.run_sync(open_vault, state.config.data_dir, state.config.device_token_key)


def _sees(key: KeyRecord, device: dict[str, Any] | None) -> bool:
    """Whether ``key`` may see and change ``device``: team devices for read keys, app users' devices
    for users keys, both for admin."""
    if device is None:
        return False
    return key.scope == "admin" or (key.scope == "users") == (device["user_id"] is not None)


def _profile(body: DeviceRegistration, key: KeyRecord) -> device_store.Profile:
    """The registration's app-user fields, checked against the key: a users key registers only app
    users' devices (``user_id`` required), a read key only team devices."""
    if body.user_id is None:
        if key.scope == "users":
            raise invalid("user_id", "required with a users key: it registers devices of the app's users")
        extra = [
            f for f in ("platform", "app_version", "locale", "timezone", "attributes") if getattr(body, f)
        ]
        if extra:
            raise invalid(extra[0], "only for an app user's device (give user_id)")
    elif key.scope != "users" and key.scope != "admin":
        raise ApiError(403, "forbidden", f"this is a {key.scope} key; an app user's device needs a users key")
    if body.timezone is not None and not is_iana_zone(body.timezone):
        raise invalid("timezone", f"{body.timezone!r} is not an IANA time zone name (e.g. Europe/Paris)")
    return device_store.Profile(
        user_id=body.user_id,
        platform=body.platform,
        app_version=body.app_version,
        locale=body.locale,
        timezone=body.timezone,
        attributes=body.attributes,
        installation_id=body.installation_id,
    )


async def register(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "read", "users")
    body = decode_body(await request.body(), DeviceRegistration)
    profile = _profile(body, key)
    if body.kind in NATIVE_KINDS:
        return await _register_native(request, body, key_id=key.id, profile=profile)
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
        profile=profile,
    )
    device, created = await state.db(
        device_store.register_webpush,
        registration,
        vault=await _vault(state),
        now=state.clock(),
        key_id=key.id,
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


async def _register_native(
    request: Request, body: DeviceRegistration, *, key_id: str, profile: device_store.Profile
) -> Response:
    """``{"kind": "fcm"|"apns", "token", "name"?, "preferences"?, ...}``: a device on a native transport."""
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
    registration = device_store.NativeRegistration(
        kind=kind,
        name=body.name,
        token=token,
        min_level=Level(prefs.get("min_level", int(PUSH_FLOOR))),
        channels=prefs.get("channels"),
        profile=profile,
    )
    device, created = await state.db(
        device_store.register_native,
        registration,
        vault=await _vault(state),
        now=state.clock(),
        key_id=key_id,
    )
    return JSONResponse(device, status_code=201 if created else 200)


async def list_devices(request: Request) -> Response:
    """The team's devices (read or admin key)."""
    state = hub_state(request)
    await authenticate(request, "read")
    found = await state.db_read(device_store.list_devices, await _vault(state), team=True)
    return JSONResponse({"devices": found})


async def list_user_devices(request: Request) -> Response:
    """One app user's devices (users or admin key); an unknown user has none."""
    state = hub_state(request)
    await authenticate(request, "users")
    user_id = request.path_params["user_id"]
    found = await state.db_read(device_store.list_devices, await _vault(state), user_id=user_id)
    return JSONResponse({"devices": found})


async def _visible(request: Request, state: HubState, key: KeyRecord) -> str:
    """The path's device id, if it exists and ``key`` may see it; else 404."""
    device_id: str = request.path_params["device_id"]
    device = await state.db_read(device_store.get_device, device_id, await _vault(state))
    if not _sees(key, device):
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return device_id


async def update_device(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "read", "users")
    body = decode_body(await request.body(), DeviceChange)
    changes = _preferences(body.preferences, "preferences")
    if body.name is not msgspec.UNSET:
        changes["name"] = body.name
    device_id = await _visible(request, state, key)
    device = await state.db(
        device_store.update_device, device_id, changes, vault=await _vault(state), now=state.clock()
    )
    if device is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return JSONResponse(device)


async def remove_device(request: Request) -> Response:
    state = hub_state(request)
    key = await authenticate(request, "read", "users")
    device_id = await _visible(request, state, key)
    if not await state.db(device_store.remove_device, device_id):
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return Response(status_code=204)


routes = [
    Route("/v1/devices", register, methods=["POST"]),
    Route("/v1/devices", list_devices, methods=["GET"]),
    Route("/v1/devices/{device_id}", update_device, methods=["PATCH"]),
    Route("/v1/devices/{device_id}", remove_device, methods=["DELETE"]),
    Route("/v1/users/{user_id}/devices", list_user_devices, methods=["GET"]),
]
