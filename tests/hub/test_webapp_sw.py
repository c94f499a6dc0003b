"""The service worker (sw.js) in Chromium, fed a real push payload from the hub.

Chromium cannot subscribe offline (its push service is Google's), but DevTools can hand a push message
to a registered service worker (``ServiceWorker.deliverPushMessage``), the same way Chromium does once
its push service delivered one. The payload is the genuine article: the hub's dispatcher encrypts a
CRITICAL event for a subscription on the RFC 8030 stand-in, which decrypts it. The worker must show
the notification (title, body, tag, requireInteraction, the event's image, the buttons the browser has
room for with Acknowledge first, the data it needs for clicks: the link a tap opens and each button's
url), tell the open page, and report the delivery to the hub with the receipt token. (Clicks, in a
real Firefox: tests/e2e/test_firefox_push.py.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from tests.support.chromium import launch_chromium, sign_in
from tests.support.hub_server import publish, start_hub_process, wait_until
from tests.support.push_service import PushService

pytestmark = [pytest.mark.browser]

IMAGE = "https://cdn.example.com/graphs/payments.png"
LINK = "https://status.example.com/payments"
RETRY = "https://admin.example.com/payments/retry"


def notifications(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list => list.map(n => ({
             title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction,
             image: n.image, actions: n.actions.map(a => [a.action, a.title]), data: n.data,
             maxActions: Notification.maxActions})))"""
    )
    return found


def test_service_worker_shows_the_hubs_push_and_reports_it_delivered(tmp_path: Path) -> None:
    with (
        PushService() as service,
        start_hub_process(tmp_path / "data") as hub,
        sync_playwright() as p,
    ):
        phone = service.subscribe()
        with hub.client(hub.read_key) as client:
            answer = client.post(
                "/v1/devices", json={"kind": "webpush", "subscription": phone.subscription()}
            )
            assert answer.status_code == 201, answer.text
        publish(
            hub,
            {"level": "critical", "title": "Payments failing", "body": "3 charges failed", "count": 2}
            | {
                "image": IMAGE,
                "link": LINK,
                "actions": [{"action": "retry", "title": "Retry", "url": RETRY}],
            },
        )
        [received] = service.wait_for(1, timeout=30)
        payload = received.payload
        assert payload["level"] == "critical"

        browser = launch_chromium(p)
        try:
            context = browser.new_context(base_url=hub.base_url)
            context.grant_permissions(["notifications"], origin=hub.base_url)
            page = context.new_page()
            sign_in(page, hub.read_key)
            devtools = context.new_cdp_session(page)
            registrations: list[dict[str, Any]] = []
            devtools.on(
                "ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"])
            )
            devtools.send("ServiceWorker.enable")
            scope = page.evaluate(
                "navigator.serviceWorker.register('/sw.js', {scope: '/'})"
                ".then(() => navigator.serviceWorker.ready).then(r => r.scope)"
            )
            assert scope == f"{hub.base_url}/"
            # Wait for the page to be controlled, so the worker's message reaches it.
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            registration = wait_until(
                lambda: (
                    page.evaluate("0") == 0  # lets Playwright deliver pending DevTools events
                    and next(
                        (r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]), None
                    )
                ),
                timeout=15,
                what="the DevTools registration id",
            )
            devtools.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": hub.base_url,
                    "registrationId": registration["registrationId"],
                    "data": json.dumps(payload),
                },
            )

            shown = wait_until(lambda: notifications(page), timeout=30, what="the notification")
            assert len(shown) == 1
            note = shown[0]
            assert note["title"] == "Payments failing"
            assert note["body"] == "\u00d72 \u00b7 3 charges failed"
            assert note["tag"] == payload["tag"]
            assert note["requireInteraction"] is True
            assert note["image"] == IMAGE
            # CRITICAL: Acknowledge first, then the event's own button, then Open, as many as fit
            buttons = [["ack", "Acknowledge"], ["retry", "Retry"], ["open", "Open"]]
            assert note["maxActions"] >= 2 and note["actions"] == buttons[: note["maxActions"]]
            assert note["data"]["link"] == LINK and note["data"]["targets"] == {"retry": RETRY}
            assert note["data"]["event_id"] == payload["event_id"]
            assert note["data"]["url"].endswith(f"/#/events/{payload['event_id']}")
            expect(page.locator("#notification-log li")).to_have_text(["Payments failing"])

            def delivered() -> bool:
                with hub.client(hub.read_key) as client:
                    rows = client.get(f"/v1/events/{payload['event_id']}/deliveries").json()["deliveries"]
                return any(r["id"] == payload["delivery_id"] and r["status"] == "delivered" for r in rows)

            wait_until(delivered, timeout=15, what="the hub to record the delivery as delivered")
        finally:
            browser.close()
