"""An APNs stand-in speaking the real provider API: HTTP/2 over TLS on hypercorn, token auth, real reasons.

:class:`ApnsService` serves ``POST /3/device/<token>`` under hypercorn with a self-signed certificate
(:func:`tests.support.tls.self_signed`; clients trust :attr:`ApnsService.ca_file`) and ALPN ``h2`` only;
a request that still arrives over HTTP/1.1 is refused (505), as APNs refuses anything but HTTP/2.
Each request is checked like APNs does, answering its documented JSON ``{"reason": ...}``:

* the provider token: ``authorization: bearer <JWT>`` with ``alg`` ES256, ``kid`` the key id, ``iss``
  the team id, verified with the public half of the team's key (else 403 InvalidProviderToken /
  MissingProviderToken); older than an hour by the stand-in's clock: 403 ExpiredProviderToken; a new
  token less than 20 minutes after the previous one: 429 TooManyProviderTokenUpdates;
* headers: ``apns-topic`` (400 MissingTopic / DeviceTokenNotForTopic), ``apns-push-type``,
  ``apns-priority`` 10/5/1 (400 BadPriority), ``apns-expiration`` an integer (400 BadExpirationDate),
  ``apns-collapse-id`` at most 64 bytes (400 BadCollapseId);
* the payload: JSON with an ``aps`` dictionary (400 PayloadEmpty / BadMessage... as ``PayloadEmpty``),
  at most 4096 bytes (413 PayloadTooLarge);
* the rich parts (:func:`check_rich`): ``aps.alert`` with string ``title``/``body``, ``category`` a
  string, ``mutable-content`` 1, and ``mutable-content`` set whenever the payload has an ``image`` (a
  notification service extension only runs with it). APNs itself accepts such payloads and iOS
  silently shows them without the image or buttons, so the stand-in refuses them with a
  ``BadPayload (stand-in: ...)`` reason a test cannot miss;
* the device token: unknown -> 400 BadDeviceToken, unregistered -> 410 Unregistered with the
  timestamp (ms) of the unregistration.

:meth:`ApnsService.fail_next` scripts any other documented answer (429 TooManyRequests, 500
InternalServerError, 503 ServiceUnavailable, with Retry-After). Accepted notifications are kept as
:class:`ReceivedNotification` with the HTTP version they came over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.support.tls import self_signed

TOKEN_MAX_AGE = 3600
TOKEN_MIN_UPDATE = 20 * 60
MAX_PAYLOAD = 4096
PUSH_TYPES = {
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
}


def check_rich(payload: dict[str, Any]) -> str:
    """What iOS would silently ignore in ``payload`` ("" when nothing)."""
    aps = payload["aps"]
    alert = aps.get("alert")
    if alert is not None and not (
        isinstance(alert, str)
        or (isinstance(alert, dict) and all(isinstance(alert.get(k, ""), str) for k in ("title", "body")))
    ):
        return "aps.alert must be a string or {title, body} strings"
    if "category" in aps and not (isinstance(aps["category"], str) and aps["category"]):
        return "aps.category must be a non-empty string"
    if aps.get("mutable-content", 1) != 1:
        return "aps.mutable-content must be 1"
    if payload.get("image") is not None and aps.get("mutable-content") != 1:
        return "an image needs aps.mutable-content 1 (the service extension attaches it)"
    return ""


@dataclasses.dataclass(frozen=True)
class ReceivedNotification:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]
    http_version: str
    size: int
    connection: tuple[str, int]  # the client's address and port: one per TCP connection

    @property
    def aps(self) -> dict[str, Any]:
        result: dict[str, Any] = self.payload["aps"]
        return result


@dataclasses.dataclass
class _Scripted:
    status: int
    reason: str
    retry_after: str | None


class ApnsService:
    """The APNs stand-in; see the module docstring."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        topic: str = "dev.pushlog.app",
        team_id: str = "TEAM123456",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.team_id = team_id
        self.key_id = "KEY" + secrets.token_hex(4).upper()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._clock = clock
        self._lock = threading.Condition()
        self._devices: dict[str, float | None] = {}  # token -> unregistered at (epoch s) or None
        self._script: list[_Scripted] = []
        self._last_token: tuple[str, float] | None = None  # (jwt, when first seen)
        self.provider_tokens: list[dict[str, Any]] = []  # distinct verified token claims, in order
        self.received: list[ReceivedNotification] = []
        self.refused: list[tuple[int, str]] = []
        self.ca_file, self._key_file = self_signed(tmp_path, names=("localhost",))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        # Listening before hypercorn starts: a client connecting right after __enter__ waits in the
        # backlog instead of being refused while the server task is still setting up.
        sock.listen(128)
        self.port: int = sock.getsockname()[1]
        self._fd = sock.detach()  # hypercorn takes ownership of the bound socket
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    # lifecycle ---------------------------------------------------------------------------------
    def _run(self) -> None:
        config = Config()
        config.bind = [f"fd://{self._fd}"]
        config.certfile, config.keyfile = str(self.ca_file), str(self._key_file)
        config.alpn_protocols = ["h2"]  # APNs negotiates HTTP/2 only
        config.loglevel = "WARNING"
        config.accesslog = None
        app = Starlette(routes=[Route("/3/device/{token}", self._push, methods=["POST"])])

        async def main() -> None:
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._started.set)
            await serve(app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        asyncio.run(main())

    def __enter__(self) -> ApnsService:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("APNs stand-in did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    # test controls -----------------------------------------------------------------------------
    def key_pem(self) -> str:
        """The team's .p8 key (what Apple's developer console downloads once)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def register(self) -> str:
        """A device token (64 hex characters) for the topic's app."""
        token = secrets.token_hex(32)
        with self._lock:
            self._devices[token] = None
        return token

    def unregister(self, token: str, *, at: float) -> None:
        """The app was removed at ``at`` (epoch seconds): sends answer 410 Unregistered with that time."""
        with self._lock:
            self._devices[token] = at

    def fail_next(self, status: int, reason: str, *, retry_after: str | None = None) -> None:
        with self._lock:
            self._script.append(_Scripted(status, reason, retry_after))

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[ReceivedNotification]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"expected {count} notifications, got {self.received!r} ({self.refused})"
                )
            return list(self.received)

    # the protocol ------------------------------------------------------------------------------
    def _error(self, status: int, reason: str, *, timestamp: float | None = None, **headers: str) -> Response:
        with self._lock:
            self.refused.append((status, reason))
        body: dict[str, Any] = {"reason": reason}
        if timestamp is not None:
            body["timestamp"] = int(timestamp * 1000)
        return JSONResponse(body, status_code=status, headers=headers or None)

    def _check_provider_token(self, authorization: str) -> tuple[int, str]:
        if not authorization.lower().startswith("bearer "):
            return 403, "MissingProviderToken"
        token = authorization[7:]
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
                return 403, "InvalidProviderToken"
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.PyJWTError:
            return 403, "InvalidProviderToken"
        if claims["iss"] != self.team_id:
            return 403, "InvalidProviderToken"
        now = self._clock()
        if now - claims["iat"] > TOKEN_MAX_AGE:
            return 403, "ExpiredProviderToken"
        with self._lock:
            if self._last_token is None or self._last_token[0] != token:
                if self._last_token is not None and now - self._last_token[1] < TOKEN_MIN_UPDATE:
                    return 429, "TooManyProviderTokenUpdates"
                self._last_token = (token, now)
                self.provider_tokens.append(claims)
        return 0, ""

    def _check_headers(self, headers: dict[str, str]) -> str:
        if "apns-topic" not in headers:
            return "MissingTopic"
        if headers["apns-topic"] != self.topic:
            return "DeviceTokenNotForTopic"
        if headers.get("apns-push-type", "alert") not in PUSH_TYPES:
            return "InvalidPushType"
        if headers.get("apns-priority", "10") not in ("10", "5", "1"):
            return "BadPriority"
        if not headers.get("apns-expiration", "0").isdigit():
            return "BadExpirationDate"
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return "BadCollapseId"
        return ""

    async def _push(self, request: Request) -> Response:
        version = str(request.scope.get("http_version"))
        # Read the whole stream before answering: hypercorn drops the connection when DATA frames arrive
        # for a stream it already closed with an early answer.
        body = await request.body()
        if version != "2":
            return self._error(505, "HTTP/2 required")
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, reason = self._check_provider_token(headers.get("authorization", ""))
        if status:
            return self._error(status, reason)
        reason = self._check_headers(headers)
        if reason:
            return self._error(400, reason)
        if len(body) > MAX_PAYLOAD:
            return self._error(413, "PayloadTooLarge")
        try:
            payload = json.loads(body)
        except ValueError:
            return self._error(400, "PayloadEmpty" if not body else "BadMessageId")
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return self._error(400, "PayloadEmpty")
        why = check_rich(payload)
        if why:
            return self._error(400, f"BadPayload (stand-in: {why})")
        token = request.path_params["token"]
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
            known = token in self._devices
            gone_at = self._devices.get(token)
        if scripted is not None:
            extra = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            return self._error(scripted.status, scripted.reason, **extra)
        if not known:
            return self._error(400, "BadDeviceToken")
        if gone_at is not None:
            return self._error(410, "Unregistered", timestamp=gone_at)
        received = ReceivedNotification(
            token=token,
            headers=headers,
            payload=payload,
            http_version=version,
            size=len(body),
            connection=tuple(request.scope.get("client") or ("", 0)),  # type: ignore[arg-type]
        )
        with self._lock:
            self.received.append(received)
            self._lock.notify_all()
        return Response(status_code=200, headers={"apns-id": secrets.token_hex(16)})
