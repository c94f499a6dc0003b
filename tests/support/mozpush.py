"""A stand-in for Mozilla's push server that a real Firefox connects to.

Firefox reaches its push service through a WebSocket (``dom.push.serverURL``, subprotocol
``push-notification``). :class:`MozPushServer` speaks that protocol on ``ws_url``:

* ``hello`` -> ``{"messageType": "hello", "uaid": ..., "status": 200, "use_webpush": true}``
* ``register`` (``channelID``, ``key`` = the application server key) -> ``status`` 200 and a
  ``pushEndpoint`` on this same server (``http://127.0.0.1:PORT/wpush/<channelID>``)
* ``unregister`` -> status 200; a ``{}`` ping -> ``{}``
* ``ack`` (``updates: [{channelID, version, code}]``) and ``nack`` are recorded as :class:`Ack`
  (code 100 delivered, 101 decryption failed, 102 not delivered).

The same server accepts RFC 8030 POSTs at the push endpoints (validated like a real service: TTL,
Urgency, Topic, VAPID with ``aud`` = this origin and, as autopush does, ``k`` equal to the key the
subscription was made with) and forwards each body to the connected Firefox as a ``notification`` with
a unique ``version``; if Firefox is not connected it is queued until the next ``hello``.

API for tests::

    with MozPushServer() as push:
        with Firefox(push_server_url=push.ws_url, url=page_url):  # tests.support.firefox
            registration = push.wait_for_registration(timeout=60)
            ... send a Web Push to registration.endpoint ...
            ack = push.wait_for_ack(timeout=30)
            assert ack.code == 100
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from tests.support.push_service import ServerThread, check_request

ACK_DELIVERED = 100
ACK_DECRYPT_FAILED = 101
ACK_NOT_DELIVERED = 102


@dataclasses.dataclass(frozen=True)
class Registration:
    uaid: str
    channel_id: str
    key: str | None  # the applicationServerKey Firefox registered with (base64url), if any
    endpoint: str


@dataclasses.dataclass(frozen=True)
class Ack:
    channel_id: str
    version: str
    code: int
    message_type: str = "ack"


@dataclasses.dataclass(frozen=True)
class Forwarded:
    """A push the server accepted at an endpoint and forwarded (or queued) for Firefox."""

    channel_id: str
    version: str
    body: bytes
    headers: dict[str, str]


@dataclasses.dataclass
class Rejected:
    channel_id: str
    status: int
    error: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class MozPushServer:
    """Mozilla's push protocol (WebSocket) and RFC 8030 endpoints on one local server."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self.registrations: dict[str, Registration] = {}
        self.acks: list[Ack] = []
        self.forwarded: list[Forwarded] = []
        self.rejected: list[Rejected] = []
        self.hellos: list[dict[str, Any]] = []
        self._sockets: dict[str, WebSocket] = {}  # uaid -> connected Firefox
        self._pending: dict[str, list[dict[str, Any]]] = {}  # uaid -> notifications to deliver
        routes: list[BaseRoute] = [
            WebSocketRoute("/", self._websocket),
            Route("/wpush/{channel_id}", self._push, methods=["POST"]),
        ]
        self._server = ServerThread(Starlette(routes=routes))

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> MozPushServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MozPushServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def ws_url(self) -> str:
        """What ``dom.push.serverURL`` must be set to."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def origin(self) -> str:
        """Origin of the push endpoints (the VAPID ``aud`` for them)."""
        return f"http://127.0.0.1:{self.port}"

    # waiting -------------------------------------------------------------------------------------
    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
            if not result:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; hellos={len(self.hellos)} "
                    f"registrations={list(self.registrations)} acks={self.acks} rejected={self.rejected}"
                )
            return result

    def wait_for_registration(self, timeout: float = 60.0) -> Registration:
        """The first (or only) registration Firefox made."""
        return self._wait(lambda: next(iter(self.registrations.values()), None), timeout, "a registration")  # type: ignore[no-any-return]

    def wait_for_ack(self, timeout: float = 30.0, *, channel_id: str | None = None, count: int = 1) -> Ack:
        """Block until ``count`` acks (for ``channel_id``, if given) arrived; return the last one."""

        def found() -> Ack | None:
            acks = [a for a in self.acks if channel_id is None or a.channel_id == channel_id]
            return acks[count - 1] if len(acks) >= count else None

        return self._wait(found, timeout, f"{count} ack(s)")  # type: ignore[no-any-return]

    def received_acks(self) -> list[Ack]:
        with self._cond:
            return list(self.acks)

    # the WebSocket protocol ------------------------------------------------------------------------
    async def _websocket(self, ws: WebSocket) -> None:
        await ws.accept(subprotocol="push-notification")
        uaid: str | None = None
        try:
            while True:
                text = await ws.receive_text()
                message = json.loads(text) if text.strip() else {}
                kind = message.get("messageType")
                if not kind:  # ping
                    await ws.send_text("{}")
                elif kind == "hello":
                    uaid = str(message.get("uaid") or uuid.uuid4().hex)
                    with self._cond:
                        self.hellos.append(message)
                        self._sockets[uaid] = ws
                        pending = self._pending.pop(uaid, [])
                        self._cond.notify_all()
                    reply = {"messageType": "hello", "uaid": uaid, "status": 200, "use_webpush": True}
                    reply["broadcasts"] = {}
                    await ws.send_text(json.dumps(reply))
                    for notification in pending:
                        await ws.send_text(json.dumps(notification))
                elif kind == "register" and uaid is not None:
                    channel_id = str(message["channelID"])
                    endpoint = f"{self.origin}/wpush/{channel_id}"
                    with self._cond:
                        self.registrations[channel_id] = Registration(
                            uaid, channel_id, message.get("key"), endpoint
                        )
                        self._cond.notify_all()
                    reply = {
                        "messageType": "register",
                        "channelID": channel_id,
                        "status": 200,
                        "pushEndpoint": endpoint,
                    }
                    await ws.send_text(json.dumps(reply))
                elif kind == "unregister":
                    channel_id = str(message.get("channelID"))
                    with self._cond:
                        self.registrations.pop(channel_id, None)
                    reply = {"messageType": "unregister", "channelID": channel_id, "status": 200}
                    await ws.send_text(json.dumps(reply))
                elif kind == "ack":
                    with self._cond:
                        for update in message.get("updates", []):
                            self.acks.append(
                                Ack(
                                    str(update.get("channelID")),
                                    str(update.get("version")),
                                    int(update.get("code", 100)),
                                )
                            )
                        self._cond.notify_all()
                elif kind == "nack":
                    with self._cond:
                        self.acks.append(
                            Ack(
                                "",
                                str(message.get("version")),
                                int(message.get("code", 0)),
                                message_type="nack",
                            )
                        )
                        self._cond.notify_all()
                # other message types (broadcast_subscribe, ...) need no answer here
        except WebSocketDisconnect:
            pass
        finally:
            if uaid is not None:
                with self._cond:
                    if self._sockets.get(uaid) is ws:
                        del self._sockets[uaid]

    # RFC 8030 endpoints ----------------------------------------------------------------------------
    async def _push(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, error, vapid = check_request(headers, body, audience=self.origin, now=self._clock())
        with self._cond:
            registration = self.registrations.get(channel_id)
            if status == 201 and registration is None:
                status, error = 410, "no such registration"
            if (
                status == 201
                and registration
                and registration.key
                and vapid
                and _normalise_key(registration.key) != _normalise_key(vapid["public_key"])
            ):
                status, error = 401, "VAPID key differs from the subscription's applicationServerKey"
            if status != 201 or registration is None:
                self.rejected.append(Rejected(channel_id, status, error))
                self._cond.notify_all()
                return Response(error, status_code=status)
            version = uuid.uuid4().hex
            notification: dict[str, Any] = {
                "messageType": "notification",
                "channelID": channel_id,
                "version": version,
                "ttl": int(headers.get("ttl", "0")),
            }
            if body:
                notification["data"] = _b64url(body)
                notification["headers"] = {"encoding": headers.get("content-encoding", "aes128gcm")}
            self.forwarded.append(Forwarded(channel_id, version, body, headers))
            ws = self._sockets.get(registration.uaid)
            if ws is None:
                self._pending.setdefault(registration.uaid, []).append(notification)
            self._cond.notify_all()
        if ws is not None:
            await ws.send_text(json.dumps(notification))
        return Response(status_code=201, headers={"Location": f"{self.origin}/m/{version}"})


def _normalise_key(key: str) -> str:
    return key.rstrip("=").replace("+", "-").replace("/", "_")


__all__ = [
    "ACK_DECRYPT_FAILED",
    "ACK_DELIVERED",
    "ACK_NOT_DELIVERED",
    "Ack",
    "Forwarded",
    "MozPushServer",
    "Registration",
]
