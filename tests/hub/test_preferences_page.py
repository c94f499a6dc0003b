"""The preference page an app links its users to (hub/static/preferences.html), in a real Chromium:
what the person sees through a valid link, what saving changes, and what an expired or tampered link
shows."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, start_hub_thread

pytestmark = [pytest.mark.browser]

NOON = _dt.datetime(2026, 1, 14, 11, 0, tzinfo=_dt.UTC)


DOC_SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def _link(hub: ThreadHub, user_id: str, seconds: int = 3600) -> str:
    with hub.client(hub.admin_key) as admin:
        assert (
            admin.put(
                "/v1/categories/offers", json={"default": "off", "description": "Special offers"}
            ).status_code
            == 200
        )
        made = admin.post(f"/v1/users/{user_id}/preferences/link", json={"expires_in_s": seconds})
    assert made.status_code == 201, made.text
    return str(made.json()["url"])


def test_a_user_changes_quiet_hours_and_topics_through_the_link(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    clock = FakeClock(NOON)
    with start_hub_thread(tmp_path / "hub", clock=clock.as_utc()) as hub:
        url = _link(hub, "u-1")
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(url)
        expect(page.locator("#prefs")).to_be_visible()
        expect(page.get_by_text("Special offers")).to_be_visible()
        expect(page.locator("select[data-category=offers]")).to_have_value("off")  # the app's default
        page.fill("#quiet-windows input[name=quiet_start]", "22:00")
        page.fill("#quiet-windows input[name=quiet_end]", "07:00")
        page.uncheck("input[name=day][value=sat]")
        page.fill("#timezone", "Europe/Berlin")
        page.select_option("select[data-category=offers]", "digest")
        page.fill("#caps input[name=cap]", "4")
        page.click("#save")
        expect(page.locator("#status")).to_have_text("Saved.")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshots / "preferences-phone.png"), full_page=True)
        with hub.client(hub.admin_key) as admin:
            stored = admin.get("/v1/users/u-1/preferences").json()["preferences"]
        assert stored["quiet_hours"] == [
            {"start": "22:00", "end": "07:00", "days": ["mon", "tue", "wed", "thu", "fri", "sun"]}
        ]
        assert stored["timezone"] == "Europe/Berlin"
        assert stored["categories"] == {"offers": "digest"}
        assert stored["caps"] == [{"max": 4, "per": "hour", "category": None}]

        page.fill("#timezone", "Mars/Olympus")
        page.click("#save")
        expect(page.locator("#status")).to_contain_text("Mars/Olympus")  # the hub's 422 message, shown

        tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        page.goto("about:blank")
        page.goto(tampered)
        expect(page.locator("#status")).to_have_text("this preference link is not valid")
        expect(page.locator("#prefs")).to_be_hidden()

        clock.advance(3600)
        page.goto("about:blank")
        page.goto(url)
        expect(page.locator("#status")).to_contain_text("has expired")
        expect(page.locator("#prefs")).to_be_hidden()
