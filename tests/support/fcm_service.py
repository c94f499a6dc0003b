"""An FCM HTTP v1 stand-in with its OAuth2 token endpoint, speaking the real protocol.

:class:`FcmService` is a Starlette app under uvicorn (``ServerThread``) on 127.0.0.1:

* ``POST /token`` is the service account's ``token_uri``: it takes the RFC 7523 JWT-bearer grant,
  verifies the assertion like Google does (RS256 signature with the public half of the test service
  account's key, ``kid``, ``iss`` = the client email, ``aud`` = this ``token_uri``, ``scope`` =
  firebase.messaging, ``iat``/``exp`` against the stand-in's clock) and answers an access token;
* ``POST /v1/projects/{project}/messages:send`` checks the ``Authorization: Bearer`` token (issued,
  unexpired, not revoked: else 401 UNAUTHENTICATED), the project, and the message (one ``token``;
  ``data`` values strings; no field name FCM's Message resource lacks, at the top and in
  ``notification``, ``android``, ``android.notification``, ``apns`` and ``webpush``; notification
  values strings and ``image`` a URL; ``apns.payload.aps`` with ``mutable-content`` 1 and a string
  ``category``; ``android.priority`` HIGH/NORMAL; ``android.ttl`` like ``"3600s"``; at most 4096 bytes)
  before accepting it as a :class:`ReceivedMessage`. Unknown tokens get FCM's real
  INVALID_ARGUMENT answer, unregistered ones UNREGISTERED; :meth:`FcmService.fail_next` scripts any
  other documented error with its real JSON body.

Usage::

    with FcmService() as fcm:
        account = fcm.service_account()          # the JSON a Firebase console would download
        token = fcm.register()                   # a device's registration token
        ... FcmSender(ServiceAccount.from_info(account), base_url=fcm.origin) ...
        [message] = fcm.wait_for(1)
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.support.push_service import ServerThread

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
TTL = re.compile(r"\d+(\.\d{1,9})?s")
MAX_MESSAGE = 4096

#: FCM's documented errors: (HTTP status, google.rpc status, message, with an FcmError detail).
ERRORS: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
}


def error_body(
    reason: str, *, field_violation: bool = True, message: str | None = None
) -> tuple[int, dict[str, Any]]:
    """FCM's real answer for ``reason``: (status, JSON body); ``message`` overrides the text."""
    status, rpc_status, default = ERRORS[reason]
    message = message or default
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR, "errorCode": reason}]
    if reason == "INVALID_ARGUMENT" and field_violation:
        details.append(
            {"@type": BAD_REQUEST, "fieldViolations": [{"field": "message.token", "description": message}]}
        )
    return status, {"error": {"code": status, "message": message, "status": rpc_status, "details": details}}


#: The fields of FCM HTTP v1's Message resource and of the parts pushlog fills; FCM refuses unknown names.
MESSAGE_FIELDS = {
    "name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition"
}  # fmt: skip
NOTIFICATION_FIELDS = {"title", "body", "image"}
ANDROID_FIELDS = {
    "collapse_key", "priority", "ttl", "restricted_package_name", "data", "notification", "fcm_options",
    "direct_boot_ok",
}  # fmt: skip
ANDROID_NOTIFICATION_FIELDS = {
    "title", "body", "icon", "color", "sound", "tag", "click_action", "body_loc_key", "body_loc_args",
    "title_loc_key", "title_loc_args", "channel_id", "ticker", "sticky", "event_time", "local_only",
    "notification_priority", "default_sound", "default_vibrate_timings", "default_light_settings",
    "vibrate_timings", "visibility", "notification_count", "light_settings", "image",
    "bypass_proxy_notification",
}  # fmt: skip
APNS_FIELDS = {"headers", "payload", "fcm_options", "live_activity_token"}
WEBPUSH_FIELDS = {"headers", "data", "notification", "fcm_options"}


def _check_fields(value: Any, known: set[str], where: str) -> str:
    """FCM's answer to a field name its Message resource does not have ("" when all are known)."""
    if not isinstance(value, dict):
        return f"Invalid value at '{where}': not an object"
    for name in value:
        if name not in known:
            return f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    return ""


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _check_rich(message: dict[str, Any]) -> str:
    """The rich parts pushlog sends: notification title/body/image, android.notification, apns.payload."""
    notification = message.get("notification", {})
    why = _check_fields(notification, NOTIFICATION_FIELDS, "message.notification")
    if why:
        return why
    if not all(isinstance(v, str) for v in notification.values()):
        return "message.notification values must be strings"
    if "image" in notification and not _is_url(notification["image"]):
        return "message.notification.image must be a URL"
    android = message.get("android", {})
    why = _check_fields(android, ANDROID_FIELDS, "message.android") or _check_fields(
        android.get("notification", {}), ANDROID_NOTIFICATION_FIELDS, "message.android.notification"
    )
    if why:
        return why
    apns = message.get("apns", {})
    why = _check_fields(apns, APNS_FIELDS, "message.apns")
    if why:
        return why
    aps = apns.get("payload", {}).get("aps", {})
    if not isinstance(aps, dict):
        return "message.apns.payload.aps must be an object"
    if aps.get("mutable-content", 1) != 1 or not isinstance(aps.get("category", ""), str):
        return "message.apns.payload.aps: mutable-content must be 1 and category a string"
    return _check_fields(message.get("webpush", {}), WEBPUSH_FIELDS, "message.webpush")


@dataclasses.dataclass(frozen=True)
class ReceivedMessage:
    token: str
    body: dict[str, Any]  # the whole request JSON
    bearer: str

    @property
    def message(self) -> dict[str, Any]:
        result: dict[str, Any] = self.body["message"]
        return result

    @property
    def data(self) -> dict[str, str]:
        result: dict[str, str] = self.message["data"]
        return result


@dataclasses.dataclass
class _Scripted:
    status: int
    body: dict[str, Any]
    retry_after: str | None


class FcmService:
    """The FCM + OAuth stand-in; see the module docstring."""

    def __init__(self, *, project_id: str = "pushlog-test", clock: Callable[[], float] = time.time) -> None:
        self.project_id = project_id
        self.client_email = f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
        self.key_id = secrets.token_hex(20)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._clock = clock
        self._lock = threading.Condition()
        self._access: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self._registered: set[str] = set()
        self._unregistered: set[str] = set()
        self._script: list[_Scripted] = []
        self.token_lifetime = 3600
        self.exchanges: list[dict[str, Any]] = []  # verified assertion claims, in order
        self.received: list[ReceivedMessage] = []
        self.refused: list[tuple[int, str]] = []  # (status, why) of requests not accepted
        routes = [
            Route("/token", self._token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
        ]
        self._server = ServerThread(Starlette(routes=routes))

    # lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> FcmService:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def origin(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/token"

    # test controls -----------------------------------------------------------------------------
    def service_account(self) -> dict[str, Any]:
        """The service-account JSON for this project (what Firebase's console downloads)."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }

    def register(self) -> str:
        """A new device registration token this project knows."""
        token = f"fcm:{secrets.token_urlsafe(48)}"
        with self._lock:
            self._registered.add(token)
        return token

    def unregister(self, token: str) -> None:
        """The app was uninstalled: sends to ``token`` answer UNREGISTERED."""
        with self._lock:
            self._unregistered.add(token)

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401 UNAUTHENTICATED)."""
        with self._lock:
            self._access.clear()

    def fail_next(
        self,
        reason: str,
        *,
        retry_after: str | None = None,
        field_violation: bool = True,
        message: str | None = None,
    ) -> None:
        """Answer the next valid send with FCM's documented error ``reason``."""
        status, body = error_body(reason, field_violation=field_violation, message=message)
        with self._lock:
            self._script.append(_Scripted(status, body, retry_after))

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[ReceivedMessage]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"expected {count} FCM messages, got {self.received!r} (refused {self.refused})"
                )
            return list(self.received)

    # the protocol ------------------------------------------------------------------------------
    def _refuse(self, status: int, rpc_status: str, why: str) -> Response:
        with self._lock:
            self.refused.append((status, why))
        return JSONResponse(
            {"error": {"code": status, "message": why, "status": rpc_status}}, status_code=status
        )

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(assertion)
        if header.get("alg") != "RS256" or header.get("kid") != self.key_id:
            raise ValueError(f"unexpected JWT header {header}")
        claims: dict[str, Any] = jwt.decode(
            assertion,
            self._key.public_key(),
            algorithms=["RS256"],
            audience=self.token_uri,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "require": ["iss", "aud", "iat", "exp", "scope"],
            },
        )
        now = self._clock()
        if claims["iss"] != self.client_email:
            raise ValueError(f"iss {claims['iss']!r} is not the service account")
        if SCOPE not in str(claims["scope"]).split():
            raise ValueError(f"scope {claims['scope']!r} lacks firebase.messaging")
        if not claims["iat"] - 60 <= now < claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            raise ValueError("assertion not valid now (or longer than one hour)")
        return claims

    async def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != GRANT_TYPE:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = self._verify_assertion(str(form.get("assertion") or ""))
        except (ValueError, jwt.PyJWTError) as exc:
            with self._lock:
                self.refused.append((400, f"assertion: {exc}"))
            return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, status_code=400)
        access = f"ya29.{secrets.token_urlsafe(32)}"
        with self._lock:
            self._access[access] = self._clock() + self.token_lifetime
            self.exchanges.append(claims)
        return JSONResponse(
            {"access_token": access, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _check_message(self, body: Any) -> str:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("token"), str):
            return "message.token is required (one token per request)"
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return "message.data values must be strings"
        why = _check_fields(message, MESSAGE_FIELDS, "message") or _check_rich(message)
        if why:
            return why
        android = message.get("android", {})
        if android.get("priority") not in (None, "HIGH", "NORMAL"):
            return f"android.priority {android.get('priority')!r}"
        if "ttl" in android and not TTL.fullmatch(str(android["ttl"])):
            return f"android.ttl {android['ttl']!r} is not a duration"
        if len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_MESSAGE:
            return "Message is too big"
        return ""

    async def _send(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        bearer = authorization.removeprefix("Bearer ")
        with self._lock:
            expiry = self._access.get(bearer) if authorization.startswith("Bearer ") else None
        if expiry is None or self._clock() >= expiry:
            return self._refuse(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.path_params["project"] != self.project_id:
            return self._refuse(403, "PERMISSION_DENIED", "Permission denied on the project")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        why = self._check_message(body)
        if why:
            return self._refuse(400, "INVALID_ARGUMENT", why)
        token = body["message"]["token"]
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
            if scripted is None and token in self._unregistered:
                status, answer = error_body("UNREGISTERED")
                scripted = _Scripted(status, answer, None)
            elif scripted is None and token not in self._registered:
                status, answer = error_body("INVALID_ARGUMENT")
                scripted = _Scripted(status, answer, None)
            if scripted is not None:
                self.refused.append((scripted.status, json.dumps(scripted.body)))
                headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else None
                return JSONResponse(scripted.body, status_code=scripted.status, headers=headers)
            self.received.append(ReceivedMessage(token=token, body=body, bearer=bearer))
            name = f"projects/{self.project_id}/messages/{len(self.received)}"
            self._lock.notify_all()
        return JSONResponse({"name": name})
