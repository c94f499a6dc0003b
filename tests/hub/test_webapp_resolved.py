"""A resolved alert in the web app's feed, live, in a real Chromium against a real hub.

The feed shows an open alert; when a recovery resolves it 14 minutes later (hub time, an injected
clock), the hub's live stream sends ``event: resolved`` and the line gains "resolved after 14 min" in
place, without a reload.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from tests.support.chromium import sign_in, watched_page
from tests.support.clock import FakeClock
from tests.support.hub_server import publish, start_hub_thread

pytestmark = [pytest.mark.browser]


def test_a_resolved_alert_turns_resolved_in_the_open_feed_without_a_reload(
    browser: Browser, tmp_path: Path
) -> None:
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    hub = start_hub_thread(tmp_path / "data", clock=clock.as_utc())
    context = browser.new_context(
        base_url=hub.base_url, viewport={"width": 360, "height": 760}, timezone_id="UTC", locale="en-GB"
    )
    context.set_default_timeout(15_000)
    try:
        run = uuid.uuid4().hex[:8]
        publish(
            hub,
            {"level": "error", "title": f"{run} payments failing", "fingerprint": f"pay-{run}", "push": True},
        )
        page, errors = watched_page(context)
        sign_in(page, hub.read_key)
        alert = page.locator("#events li.event", has_text=f"{run} payments failing")
        expect(alert).to_be_visible()
        expect(alert.locator(".chip.resolved")).to_have_count(0)
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        publish(hub, {"level": "info", "title": f"{run} deploy started"})  # the stream is past its start
        expect(page.locator("#events li.event", has_text=f"{run} deploy started")).to_be_visible()
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

        clock.advance(14 * 60)
        publish(hub, {"level": "info", "title": f"{run} payments back", "resolves": f"pay-{run}"})

        expect(alert.locator(".chip.resolved")).to_have_text("resolved after 14 min")
        assert page.evaluate("window.__sameDocument === true"), "the feed was reloaded"
        expect(page.locator("#events li.event", has_text=f"{run} payments back")).to_be_visible()
        assert errors == []
    finally:
        context.close()
        hub.stop()
