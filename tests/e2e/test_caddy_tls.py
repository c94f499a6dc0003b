"""The deployment of docs/deploy.md end to end: the hub behind Caddy with TLS, Firefox receiving a push.

The real hub runs as ``pushlog serve --public-url https://127.0.0.1:<port> --forwarded-allow-ips
127.0.0.1`` and Debian's Caddy runs integrations/caddy/Caddyfile.local unchanged (``tls internal`` on
127.0.0.1; free high ports, its data and local CA in a temporary directory, as ``nobody`` when the
tests run as root). A fresh
Firefox profile trusts that CA (certutil into cert9.db) and nothing is relaxed for insecure origins:
``dom.serviceWorkers.testing.enabled`` is off, so the service worker registers only because the page
is a secure context served over https with a certificate Firefox accepts.

Through the proxy: sign in, enable push (service worker, ``pushManager.subscribe`` with the Mozilla
push stand-in, ``POST /v1/devices``), watch the live feed (a Server-Sent-Events stream, which Caddy
must pass on unbuffered). An app process publishes a WARNING through the proxy too (its DSN is the
public https URL; it trusts the CA through ``SSL_CERT_FILE``). Firefox decrypts the push, the service
worker shows the notification (its link is the public URL) and reports it delivered through the
proxy, and the event appears in the open feed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.caddy import Caddy
from tests.support.firefox import Firefox
from tests.support.hub_server import ProcessHub, free_port, start_hub_process, wait_until
from tests.support.mozpush import ACK_DELIVERED, MozPushServer
from tests.support.webapp_driver import (
    NOT_YET,
    deliveries,
    enable_push_through_the_ui,
    event_by_title,
    js,
    js_async,
    log_in_separate_process,
    shown_notifications,
    wait_js,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

CADDYFILE = Path(__file__).resolve().parents[2] / "integrations" / "caddy" / "Caddyfile.local"

for _program in ("firefox-esr", "caddy", "certutil"):
    if shutil.which(_program) is None:  # pragma: no cover - `make system-deps` installs them
        pytest.fail(f"{_program} is missing: run `make system-deps`", pytrace=False)


@pytest.fixture
def push() -> Iterator[MozPushServer]:
    with MozPushServer() as server:
        yield server


@pytest.fixture
def https_port() -> int:
    """Caddy's port, chosen first: the hub's --public-url names it."""
    return free_port()


@pytest.fixture
def hub(tmp_path: Path, https_port: int) -> Iterator[ProcessHub]:
    args = [
        "--allow-private-endpoints",  # the push stand-in's endpoint is on 127.0.0.1
        "--public-url",
        f"https://127.0.0.1:{https_port}",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]
    with start_hub_process(tmp_path / "hub-data", args=args, quiet=False, timeout=60) as running:
        yield running


@pytest.fixture
def caddy(hub: ProcessHub, https_port: int) -> Iterator[Caddy]:
    with Caddy(CADDYFILE, upstream=f"127.0.0.1:{hub.port}", https_port=https_port) as proxy:
        yield proxy


@pytest.fixture
def firefox(tmp_path: Path, push: MozPushServer, caddy: Caddy) -> Iterator[Firefox]:
    with Firefox(
        push_server_url=push.ws_url,
        marionette=True,
        workdir=tmp_path / "firefox",
        prefs={"dom.serviceWorkers.testing.enabled": False},  # a secure context or nothing
        root_cas=[caddy.root_ca],
    ) as browser:
        yield browser


def test_the_proxy_serves_caddys_certificate_and_keeps_metrics_inside(caddy: Caddy, hub: ProcessHub) -> None:
    assert caddy.uid() != 0, "Caddy needs no privileges: high ports, no system trust store"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{caddy.base_url}/healthz", timeout=10)  # the system's CAs do not know it
    with httpx.Client(base_url=caddy.base_url, verify=caddy.ssl_context(), timeout=10) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.get("/metrics").status_code == 404  # Caddyfile.local: for Prometheus on this host
    with hub.client(hub.admin_key) as direct:
        assert direct.get("/metrics").status_code == 200


def test_web_app_over_https_through_caddy_registers_its_service_worker_and_firefox_gets_the_push(
    hub: ProcessHub, caddy: Caddy, push: MozPushServer, firefox: Firefox
) -> None:
    driver = firefox.driver
    assert driver is not None
    public = caddy.base_url

    # 1. Sign in and enable push, all over https through Caddy.
    enable_push_through_the_ui(driver, public, hub.read_key)
    page = js(driver, "return {origin: location.origin, secure: window.isSecureContext};")
    assert page == {"origin": public, "secure": True}, page
    worker = js_async(
        driver,
        "const r = await navigator.serviceWorker.ready;"
        "return {scope: r.scope, state: r.active && r.active.state, script: r.active && r.active.scriptURL};",
    )
    assert worker == {"scope": f"{public}/", "state": "activated", "script": f"{public}/sw.js"}, worker
    registration = push.wait_for_registration(timeout=30)
    with hub.client(hub.read_key) as client:
        devices = client.get("/v1/devices").json()["devices"]
    assert [d["kind"] for d in devices] == ["webpush"], devices

    # 2. The live feed, open in the page: its stream runs through the proxy.
    driver.navigate(f"{public}/#/")
    wait_js(
        driver,
        "(document.querySelector('#live') || {}).dataset?.state === 'live'",
        timeout=30,
        what="the feed's live stream through Caddy",
    )

    # 3. An app logs a WARNING to the public https URL, trusting Caddy's CA.
    dsn = f"https://{hub.publish_key}@127.0.0.1:{caddy.https_port}"
    log_in_separate_process(
        dsn, "warning", "Disk almost full", "/var at 93%", env={"SSL_CERT_FILE": str(caddy.root_ca)}
    )

    # 4. What a person sees: Firefox decrypted the push and shows the notification ...
    ack = push.wait_for_ack(timeout=60, count=1)
    assert ack.code == ACK_DELIVERED, ack
    assert ack.channel_id == registration.channel_id
    warning = event_by_title(hub, "Disk almost full")
    shown = wait_until(
        lambda: [n for n in shown_notifications(driver) if n["title"] == "Disk almost full"],
        timeout=30,
        interval=0.2,
        retry_on=NOT_YET,
        what="the WARNING notification",
    )
    assert shown[0]["body"].endswith("/var at 93%"), shown
    assert shown[0]["data"]["url"] == f"{public}/#/events/{warning['id']}"
    # ... the event arrives in the open feed ...
    wait_js(
        driver,
        "[...document.querySelectorAll('#events .event-title')]"
        ".some(e => e.textContent === 'Disk almost full')",
        timeout=30,
        what="the WARNING in the live feed",
    )
    # ... and the service worker's receipt reached the hub through the proxy.
    delivered = wait_until(
        lambda: [d for d in deliveries(hub, warning["id"]) if d["status"] == "delivered"],
        timeout=30,
        interval=0.1,
        retry_on=NOT_YET,
        what="the hub to record the WARNING as delivered",
    )
    assert len(delivered) == 1
