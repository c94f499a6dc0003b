"""Real Firefox receives our Web Push through the Mozilla-protocol stand-in and decrypts it.

A tiny page (served by this test) registers a service worker and subscribes with the hub's VAPID key;
the subscription's endpoint is on :class:`MozPushServer`. We send with :class:`WebPushSender`; Firefox
decrypts the aes128gcm body itself, its service worker posts the plaintext back to this test, and the
push server records Firefox's ``ack`` (code 100).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from tests.support.firefox import Firefox
from tests.support.mozpush import ACK_DELIVERED, MozPushServer
from tests.support.push_service import ServerThread

from pushlog.hub.delivery import PushContent
from pushlog.hub.delivery._base import Outcome, PushMessage, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys, public_key_b64

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!doctype html><meta charset="utf-8"><title>push test</title>
<script>
const KEY = "%(key)s";
function bytes(b64) {
  const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64.length + 3) %% 4));
  return Uint8Array.from(s, c => c.charCodeAt(0));
}
async function report(body) {
  await fetch("/report", {method: "POST", headers: {"Content-Type": "application/json"},
                          body: JSON.stringify(body)});
}
async function main() {
  const reg = await navigator.serviceWorker.register("/sw.js");
  await navigator.serviceWorker.ready;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const timeout = new Promise(
        (_, reject) => setTimeout(() => reject(new Error("subscribe timed out")), 5000));
      const sub = await Promise.race([
        reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: bytes(KEY)}), timeout]);
      await report({kind: "subscription", subscription: sub.toJSON()});
      return;
    } catch (err) {
      await report({kind: "error", message: String(err)});
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  }
}
main().catch(err => report({kind: "error", message: "main: " + err}));
</script>"""

SERVICE_WORKER = """
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", event => event.waitUntil(self.clients.claim()));
self.addEventListener("push", event => {
  const text = event.data ? event.data.text() : null;
  event.waitUntil(Promise.all([
    fetch("/report", {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify({kind: "push", data: text})}),
    self.registration.showNotification("pushlog test", {body: text || ""}),
  ]));
});
"""


class ProbePage:
    """Serves the page and the service worker, collects what they report."""

    def __init__(self, vapid_public_key: str) -> None:
        self.reports: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._key = vapid_public_key
        routes = [
            Route("/", self._page),
            Route("/sw.js", self._sw),
            Route("/report", self._report, methods=["POST"]),
        ]
        self.server = ServerThread(Starlette(routes=routes))

    async def _page(self, request: Request) -> Response:
        return HTMLResponse(PAGE % {"key": self._key})

    async def _sw(self, request: Request) -> Response:
        return Response(SERVICE_WORKER, media_type="text/javascript")

    async def _report(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self._cond:
            self.reports.append(body)
            self._cond.notify_all()
        return JSONResponse({"ok": True})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"

    def wait_for(self, kind: str, timeout: float, *, count: int = 1) -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]] | None:
            hits = [r for r in self.reports if r.get("kind") == kind]
            return hits if len(hits) >= count else None

        with self._cond:
            hits = self._cond.wait_for(found, timeout)
            if not hits:
                raise AssertionError(f"no {kind!r} report within {timeout} s; reports: {self.reports}")
            return hits


@pytest.fixture
def mozpush() -> Iterator[MozPushServer]:
    with MozPushServer() as server:
        yield server


async def test_firefox_receives_and_decrypts_our_push(mozpush: MozPushServer) -> None:
    assert shutil.which("firefox-esr"), "firefox-esr is missing: `make system-deps` installs it"
    pem = generate_vapid_keys()
    page = ProbePage(public_key_b64(pem))
    page.server.start()
    sender = WebPushSender(VapidSigner(pem, "mailto:ops@example.com"), allow_private_endpoints=True)
    firefox = Firefox(push_server_url=mozpush.ws_url, url=page.url)
    try:
        firefox.start()
        try:
            [report] = page.wait_for("subscription", 90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nfirefox log:\n{firefox.log()}") from None
        subscription = report["subscription"]
        registration = mozpush.wait_for_registration(5)
        assert subscription["endpoint"] == registration.endpoint
        assert registration.key is not None

        target = WebPushTarget(
            endpoint=subscription["endpoint"],
            p256dh=subscription["keys"]["p256dh"],
            auth=subscription["keys"]["auth"],
        )
        content = PushContent(title="Payment failed", body="card declined · €29", collapse_key="pay")
        message = PushMessage(delivery_id="d1", content=content, ttl=600)
        payload = message.payload
        result = await sender.send(target, message)
        assert result.outcome is Outcome.SENT, result

        [push] = page.wait_for("push", 30)
        assert json.loads(push["data"]) == payload  # Firefox decrypted exactly what we encrypted
        ack = mozpush.wait_for_ack(30, channel_id=registration.channel_id)
        assert ack.code == ACK_DELIVERED
        assert ack.version == mozpush.forwarded[-1].version
    finally:
        await sender.aclose()
        firefox.stop()
        page.server.stop()
