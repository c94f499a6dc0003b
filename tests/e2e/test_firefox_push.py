"""Web Push end to end in a real Firefox, offline.

The real hub runs as ``pushlog serve --allow-private-endpoints`` (a subprocess); Firefox ESR runs
headless with its push service pointed at :class:`MozPushServer`, a stand-in that speaks Mozilla's
push WebSocket protocol. Marionette drives the hub's own web app: sign in with the read key, open
Devices, click "Enable push on this device" (service worker, ``pushManager.subscribe`` with the hub's
VAPID key, ``POST /v1/devices``). Then a separate Python process logs through ``PushHandler``:

* WARNING: the hub encrypts and sends the push, the stand-in forwards it, Firefox decrypts it (ack
  code 100), the service worker shows the notification and reports it delivered to the hub; clicking
  Firefox's notification window opens the event in the web app and reports it opened; clicking one
  whose event has a ``link`` opens that link instead.
* CRITICAL: the same, then re-pushed every ``--critical-repeat`` seconds; acknowledging it through the
  web app stops the re-push.
* Devices: the view recognises this browser's device; removing it there also unsubscribes the browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from marionette_driver.marionette import Marionette
from tests.support.firefox import Firefox
from tests.support.hub_server import ProcessHub, start_hub_process, wait_until
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

REPEAT_SECONDS = 2.0

if shutil.which("firefox-esr") is None:  # pragma: no cover - `make system-deps` installs it
    pytest.fail("firefox-esr is missing: run `make system-deps`", pytrace=False)


@pytest.fixture
def push() -> Iterator[MozPushServer]:
    with MozPushServer() as server:
        yield server


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ProcessHub]:
    args = ["--allow-private-endpoints", "--critical-repeat", str(REPEAT_SECONDS), "--critical-expiry", "600"]
    with start_hub_process(tmp_path / "hub-data", args=args, quiet=False, timeout=60) as running:
        yield running


@pytest.fixture
def firefox(tmp_path: Path, push: MozPushServer) -> Iterator[Firefox]:
    with Firefox(
        push_server_url=push.ws_url, marionette=True, system_access=True, workdir=tmp_path
    ) as browser:
        yield browser


CLICK_ALERT = """
const [title] = arguments;
for (const w of Services.wm.getEnumerator("alert:alert")) {
  const label = w.document.getElementById("alertTitleLabel");
  if (label && label.getAttribute("value") === title) {
    w.document.getElementById("alertTextLabel").click();
    return true;
  }
}
return false;
"""


def click_notification(driver: Marionette, title: str) -> None:
    """Click Firefox's own notification window (the XUL alert, as ``alerts.useSystemBackend=false``
    shows it), as a user would: Firefox then fires ``notificationclick`` in the service worker."""
    with driver.using_context("chrome"):
        wait_until(
            lambda: driver.execute_script(CLICK_ALERT, script_args=[title]),
            timeout=30,
            interval=0.2,
            retry_on=NOT_YET,
            what=f"Firefox's notification window {title!r}",
        )


def test_warning_and_critical_reach_firefox_and_acknowledge_stops_the_repush(
    hub: ProcessHub, push: MozPushServer, firefox: Firefox
) -> None:
    driver = firefox.driver
    assert driver is not None

    # 1. Enable push through the real UI; Firefox registers with the stand-in, the hub gets the device.
    enable_push_through_the_ui(driver, hub.base_url, hub.read_key)
    registration = push.wait_for_registration(timeout=30)
    with hub.client(hub.read_key) as client:
        devices = client.get("/v1/devices").json()["devices"]
    assert len(devices) == 1 and devices[0]["kind"] == "webpush", devices
    assert devices[0].get("endpoint", registration.endpoint) == registration.endpoint

    # 2. WARNING from another process: decrypted by Firefox, shown, reported delivered.
    log_in_separate_process(hub.dsn, "warning", "Disk almost full", "/var at 93%")
    ack = push.wait_for_ack(timeout=60, count=1)
    assert ack.code == ACK_DELIVERED, ack
    warning = event_by_title(hub, "Disk almost full")
    shown = wait_until(
        lambda: [n for n in shown_notifications(driver) if n["title"] == "Disk almost full"],
        timeout=30,
        interval=0.2,
        retry_on=NOT_YET,
        what="the WARNING notification",
    )
    assert shown[0]["body"].endswith("/var at 93%"), shown
    assert shown[0]["data"]["event_id"] == warning["id"]
    assert shown[0]["requireInteraction"] is False
    wait_js(
        driver,
        "[...document.querySelectorAll('#notification-log li')]"
        ".some(li => li.textContent === 'Disk almost full')",
        timeout=30,
        what="the service worker telling the page",
    )
    delivered = wait_until(
        lambda: [d for d in deliveries(hub, warning["id"]) if d["status"] == "delivered"],
        timeout=30,
        interval=0.1,
        retry_on=NOT_YET,
        what="the hub to record the WARNING as delivered",
    )
    assert len(delivered) == 1

    # Clicking the notification opens the event in the web app and reports "opened" to the hub.
    click_notification(driver, "Disk almost full")
    wait_until(
        lambda: [d for d in deliveries(hub, warning["id"]) if d["status"] == "opened"],
        timeout=30,
        interval=0.1,
        retry_on=NOT_YET,
        what="the hub to record the WARNING as opened",
    )
    wait_js(
        driver,
        "(document.querySelector('#detail-title') || {}).textContent === 'Disk almost full'",
        timeout=30,
        what="the web app showing the clicked event",
    )
    assert js(driver, "return location.hash;") == f"#/events/{warning['id']}"

    # A tap on a notification whose event has a link opens the link (a deep link into the web app).
    link = f"{hub.base_url}/#/devices"
    log_in_separate_process(hub.dsn, "warning", "Backup finished late", "took 4 h", extra={"link": link})
    linked = event_by_title(hub, "Backup finished late")
    wait_until(
        lambda: [n for n in shown_notifications(driver) if n["title"] == "Backup finished late"],
        timeout=30,
        interval=0.2,
        retry_on=NOT_YET,
        what="the notification with a link",
    )
    click_notification(driver, "Backup finished late")
    wait_js(driver, "location.hash === '#/devices'", timeout=30, what="the link opened by the tap")
    wait_until(
        lambda: [d for d in deliveries(hub, linked["id"]) if d["status"] == "opened"],
        timeout=30,
        interval=0.1,
        retry_on=NOT_YET,
        what="the hub to record the linked push as opened",
    )

    # 3. CRITICAL: delivered, shown with requireInteraction, then re-pushed until acknowledged.
    acks_before = len(push.received_acks())
    log_in_separate_process(hub.dsn, "critical", "Payments failing", "3 charges failed in 60 s")
    first = push.wait_for_ack(timeout=60, count=acks_before + 1)
    assert first.code == ACK_DELIVERED, first
    critical = event_by_title(hub, "Payments failing")
    repush = push.wait_for_ack(timeout=30 + 5 * REPEAT_SECONDS, count=acks_before + 2)
    assert repush.code == ACK_DELIVERED, repush
    assert repush.version != first.version
    notes = wait_until(
        lambda: [n for n in shown_notifications(driver) if n["title"] == "Payments failing"],
        timeout=30,
        interval=0.2,
        retry_on=NOT_YET,
        what="the CRITICAL notification",
    )
    assert notes[0]["requireInteraction"] is True
    assert len(notes) == 1, "a re-push replaces the notification (same tag), it does not pile up"
    wait_until(
        lambda: any(d["status"] == "delivered" for d in deliveries(hub, critical["id"])),
        timeout=30,
        interval=0.1,
        retry_on=NOT_YET,
        what="the hub to record the CRITICAL as delivered",
    )

    # 4. Acknowledge through the web app's detail view; the hub stops re-pushing.
    driver.navigate(f"{hub.base_url}/#/events/{critical['id']}")
    wait_js(driver, "document.querySelector('#detail-ack button.ack') !== null", timeout=30, what="detail")
    driver.find_element("css selector", "#detail-ack button.ack").click()
    wait_js(
        driver,
        "/acknowledged/.test(document.querySelector('#detail-ack').textContent)",
        timeout=30,
        what="the acknowledgement",
    )
    with hub.client(hub.read_key) as client:
        assert client.get(f"/v1/events/{critical['id']}").json()["acknowledged_at"] is not None

    # A push already in flight when the ack landed may still arrive (at most one); after that, nothing:
    # wait three more re-push intervals on the stand-in's condition for a second one (which must not come).
    at_ack = len(push.forwarded)
    with push._cond:
        grew = push._cond.wait_for(lambda: len(push.forwarded) > at_ack + 1, timeout=3 * REPEAT_SECONDS + 2)
    assert not grew, (
        f"re-pushes went on after the acknowledgement: {[f.version for f in push.forwarded[at_ack:]]}"
    )

    # 5. The Devices view recognises this browser's device; removing it there unsubscribes the browser.
    driver.navigate(f"{hub.base_url}/#/devices")
    wait_js(
        driver,
        "document.querySelectorAll('#devices li.this-device').length === 1",
        timeout=30,
        what="this device",
    )
    assert "Push is on" in js(driver, "return document.querySelector('#push-status').textContent;")
    driver.find_element("css selector", "#devices li.this-device button.danger").click()
    wait_until(
        lambda: driver.switch_to_alert(), timeout=10, interval=0.1, retry_on=NOT_YET, what="the confirmation"
    ).accept()
    wait_js(
        driver,
        "/Push is off for this device/.test(document.querySelector('#push-status').textContent)",
        timeout=30,
        what="push to be off after removing this device",
    )
    with hub.client(hub.read_key) as client:
        assert client.get("/v1/devices").json()["devices"] == []
    assert (
        js_async(
            driver,
            "const r = await navigator.serviceWorker.ready; return await r.pushManager.getSubscription();",
        )
        is None
    )
