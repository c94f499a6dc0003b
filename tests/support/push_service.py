"""An RFC 8030 push service stand-in, and a test "user agent" that can read what it is sent.

:class:`PushService` is a real HTTP server (Starlette under uvicorn, in a thread, on 127.0.0.1) that
accepts ``POST /push/<subscription-id>`` like a browser vendor's push service does. It checks each
request the way real services do and answers 400 (bad ``TTL``/``Urgency``/``Topic``/encoding),
401/403 (missing or invalid VAPID), 413 (body over 4096 bytes), 404 (unknown subscription) or 201.
Tests can script answers (``respond_with(429, retry_after="7")``) and mark subscriptions gone (410).

Every request is recorded as a :class:`ReceivedPush`; when the subscription belongs to a
:class:`Subscriber` made by :meth:`PushService.subscribe`, the body is decrypted with the subscriber's
private key, so tests assert on the real bytes that went over the wire.

Usage::

    with PushService() as service:
        phone = service.subscribe()
        ... send to phone.endpoint with phone.p256dh / phone.auth ...
        [push] = service.wait_for(1)
        assert push.payload["title"] == "Payment failed"
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import http_ece
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_BODY = 4096


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidError(ValueError):
    """The request's VAPID authorization is missing or invalid; ``status`` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def verify_vapid(authorization: str | None, *, audience: str, now: float | None = None) -> dict[str, Any]:
    """Check a ``vapid t=<jwt>,k=<key>`` header independently of the hub's code (RFC 8292).

    Verifies the ES256 signature against ``k`` with ``cryptography``, and the claims: ``aud`` equals
    ``audience``, ``exp`` in the future and at most 24 h ahead, ``sub`` a mailto:/https: URI.
    Returns ``{"claims": ..., "header": ..., "public_key": k}``; raises :class:`VapidError`.
    """
    if not authorization:
        raise VapidError(401, "missing Authorization")
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(401, f"unsupported authorization scheme {scheme!r}")
    fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
    token, key_text = fields.get("t"), fields.get("k")
    if not token or not key_text:
        raise VapidError(401, "vapid authorization needs t= and k=")
    try:
        raw_key = b64url_decode(key_text)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
        head_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(claims_b64))
        sig = b64url_decode(sig_b64)
    except (ValueError, TypeError) as exc:
        raise VapidError(403, f"malformed VAPID token: {exc}") from None
    if header.get("alg") != "ES256":
        raise VapidError(403, f"alg must be ES256, got {header.get('alg')!r}")
    if len(sig) != 64:
        raise VapidError(403, "ES256 signature must be 64 bytes (r||s)")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public_key.verify(der, f"{head_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError(403, "VAPID signature does not verify") from None
    moment = time.time() if now is None else now
    if claims.get("aud") != audience:
        raise VapidError(403, f"aud {claims.get('aud')!r} is not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= moment or exp > moment + 24 * 3600:
        raise VapidError(403, f"exp {exp!r} is not within the next 24 h")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")) or " " in sub:
        raise VapidError(403, f"sub {sub!r} is not a mailto: or https: URI")
    return {"claims": claims, "header": header, "public_key": key_text}


def check_request(
    headers: dict[str, str], body: bytes, *, audience: str, now: float
) -> tuple[int, str, dict[str, Any] | None]:
    """Validate an RFC 8030 push request as a real push service does.

    ``headers`` are lowercased. Returns ``(status, error, vapid)``: 201 when acceptable, otherwise
    400 (TTL/Urgency/Topic/encoding), 401/403 (VAPID) or 413 (body over 4096 bytes).
    """
    ttl = headers.get("ttl")
    if ttl is None or not ttl.isdigit():
        return 400, f"TTL header missing or invalid: {ttl!r}", None
    urgency = headers.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        return 400, f"invalid Urgency {urgency!r}", None
    topic = headers.get("topic")
    if topic is not None and not TOPIC.fullmatch(topic):
        return 400, f"invalid Topic {topic!r}", None
    try:
        vapid = verify_vapid(headers.get("authorization"), audience=audience, now=now)
    except VapidError as exc:
        return exc.status, str(exc), None
    if len(body) > MAX_BODY:
        return 413, f"body is {len(body)} bytes, limit {MAX_BODY}", vapid
    if body and headers.get("content-encoding") != "aes128gcm":
        return 400, f"Content-Encoding must be aes128gcm, got {headers.get('content-encoding')!r}", vapid
    return 201, "", vapid


@dataclasses.dataclass
class Subscriber:
    """A browser's side of a subscription: holds the private key, decrypts what it is sent."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = dataclasses.field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = dataclasses.field(default_factory=lambda: uuid.uuid4().bytes)

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription(self) -> dict[str, Any]:
        """``PushSubscription.toJSON()`` as a browser would give it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> bytes:
        decrypted: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return decrypted


@dataclasses.dataclass
class ReceivedPush:
    """One request the service received and what it answered."""

    subscription_id: str
    headers: dict[str, str]
    body: bytes
    status: int
    error: str = ""
    vapid: dict[str, Any] | None = None
    plaintext: bytes | None = None
    client_port: int | None = None  # the TCP connection it came on (connection reuse shows here)

    @property
    def payload(self) -> Any:
        if self.plaintext is None:
            raise AssertionError(f"push was not decrypted (status {self.status}: {self.error})")
        return json.loads(self.plaintext)


@dataclasses.dataclass
class _Scripted:
    status: int
    retry_after: str | None
    body: str


#: How long the stand-ins keep an idle keep-alive connection open. Real push services keep them for
#: minutes; it must stay above the hub sender's pool idle time (``webpush._sender.KEEPALIVE_SECONDS``),
#: or a send that reuses a connection just as the server closes it (uvicorn's default is 5 s, easily
#: the gap between two steps of a test on a loaded machine) fails with "Server disconnected" and is
#: retried only after a backoff on the hub's clock, which a test's manual clock never reaches.
IDLE_KEEPALIVE_SECONDS = 120


class ServerThread:
    """Run an ASGI app under a real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            ws_ping_interval=None,
            timeout_keep_alive=IDLE_KEEPALIVE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            pause.wait(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()


class PushService:
    """The RFC 8030 stand-in; see the module docstring."""

    def __init__(self, *, clock: Callable[[], float] = time.time, delay: float = 0.0) -> None:
        self._clock = clock
        #: Seconds each push takes to answer (keeps a hub's sends in flight, e.g. for kill -9 tests).
        self.delay = delay
        self._lock = threading.Condition()
        self._subscribers: dict[str, Subscriber] = {}
        self._gone: set[str] = set()
        self._script: collections.deque[_Scripted] = collections.deque()
        self.received: list[ReceivedPush] = []
        routes: list[BaseRoute] = [Route("/push/{sub_id}", self._push, methods=["POST"])]
        self._server = ServerThread(Starlette(routes=routes))

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> PushService:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> PushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    # test controls -------------------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        """A new subscription on this service, with its own keys."""
        sub_id = uuid.uuid4().hex
        subscriber = Subscriber(endpoint=f"{self.origin}/push/{sub_id}")
        with self._lock:
            self._subscribers[sub_id] = subscriber
        return subscriber

    def expire(self, subscriber: Subscriber) -> None:
        """From now on, pushes to this subscription are answered 410 Gone."""
        with self._lock:
            self._gone.add(subscriber.endpoint.rsplit("/", 1)[1])

    def respond_with(
        self, status: int, *, retry_after: str | None = None, times: int = 1, body: str = ""
    ) -> None:
        """Answer the next ``times`` valid pushes with ``status`` (and ``Retry-After``) instead of 201."""
        with self._lock:
            self._script.extend(_Scripted(status, retry_after, body) for _ in range(times))

    def wait_for(self, count: int, *, timeout: float = 10.0, status: int | None = None) -> list[ReceivedPush]:
        """Block until at least ``count`` pushes (with ``status``, if given) arrived; return them."""

        def matching() -> list[ReceivedPush]:
            return [p for p in self.received if status is None or p.status == status]

        def enough() -> bool:  # woken on every push: count without a copy when any status will do
            return (len(self.received) if status is None else len(matching())) >= count

        with self._lock:
            if not self._lock.wait_for(enough, timeout):
                raise AssertionError(f"expected {count} pushes, got {len(matching())}: {self.received!r}")
            return matching()

    # the protocol --------------------------------------------------------------------------------
    def _check(
        self, sub_id: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, Any] | None]:
        status, error, vapid = check_request(headers, body, audience=self.origin, now=self._clock())
        if status != 201:
            return status, error, vapid
        if sub_id in self._gone:
            return 410, "subscription expired", vapid
        if sub_id not in self._subscribers:
            return 404, "no such subscription", vapid
        return 201, "", vapid

    async def _push(self, request: Request) -> Response:
        sub_id = request.path_params["sub_id"]
        body = await request.body()
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            status, error, vapid = self._check(sub_id, headers, body)
            extra: dict[str, str] = {}
            answer = error
            if status == 201 and self._script:
                scripted = self._script.popleft()
                status, answer = scripted.status, scripted.body
                if scripted.retry_after is not None:
                    extra["Retry-After"] = scripted.retry_after
            plaintext = None
            if status == 201:
                try:
                    plaintext = self._subscribers[sub_id].decrypt(body)
                except Exception as exc:  # a real UA would drop it: record why
                    status, error = 400, f"cannot decrypt: {type(exc).__name__}: {exc}"
                    answer = error
            if status == 201:
                extra["Location"] = f"{self.origin}/message/{uuid.uuid4().hex}"
            self.received.append(
                ReceivedPush(
                    sub_id,
                    headers,
                    body,
                    status,
                    error=error,
                    vapid=vapid,
                    plaintext=plaintext,
                    client_port=request.client.port if request.client else None,
                )
            )
            self._lock.notify_all()
        return Response(answer, status_code=status, headers=extra)
