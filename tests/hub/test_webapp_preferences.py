"""A team device's quiet hours, cap, digest and CRITICAL bypass in the web app's Devices view, in a
real Chromium against a real hub: what the person sets is what ``GET /v1/devices/{id}/preferences``
returns, and what the editor shows again after a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from tests.support.chromium import launch_chromium, sign_in
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, start_hub_thread

pytestmark = [pytest.mark.browser]

#: The browser's zone (not the machine's): the editor's default when the device has none.
BROWSER_ZONE = "America/New_York"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ThreadHub]:
    with start_hub_thread(tmp_path / "hub", allow_private_endpoints=True) as running:
        yield running


@pytest.fixture
def page(hub: ThreadHub) -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = launch_chromium(p)
        try:
            context = browser.new_context(base_url=hub.base_url, timezone_id=BROWSER_ZONE)
            context.set_default_timeout(15_000)
            opened = context.new_page()
            errors: list[str] = []
            opened.on("pageerror", lambda exc: errors.append(str(exc)))
            yield opened
            assert errors == []
        finally:
            browser.close()


def _register(hub: ThreadHub) -> str:
    with hub.client(hub.read_key) as client:
        made = client.post(
            "/v1/devices",
            json={
                "kind": "webpush",
                "name": "Laptop",
                "subscription": subscription("http://127.0.0.1:9/push/laptop"),
                "preferences": {"min_level": "warning", "channels": None},
            },
        )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _stored(hub: ThreadHub, device_id: str) -> dict[str, Any]:
    with hub.client(hub.read_key) as client:
        got = client.get(f"/v1/devices/{device_id}/preferences")
    assert got.status_code == 200, got.text
    prefs: dict[str, Any] = got.json()["preferences"]
    return prefs


def _values(form: Locator, selector: str) -> list[str]:
    return [field.input_value() for field in form.locator(selector).all()]


def _open_editor(page: Page, device_id: str) -> Locator:
    page.click("#nav-devices")
    item = page.locator(f"#devices li.device[data-id='{device_id}']")
    item.locator("details.attention > summary").click()
    form = item.locator("form.attention-form")
    expect(form).to_be_visible()
    return form


def test_quiet_hours_cap_digest_and_bypass_are_saved_and_shown_again(page: Page, hub: ThreadHub) -> None:
    device_id = _register(hub)
    sign_in(page, hub.read_key)
    form = _open_editor(page, device_id)
    # Nobody chose yet: the defaults, in the browser's zone.
    expect(form.locator("input[name=timezone]")).to_have_value(BROWSER_ZONE)
    expect(form.locator("input[name=critical_bypass]")).to_be_checked()
    expect(form.locator("input[name=digest_info]")).not_to_be_checked()

    night = form.locator(".window").nth(0)
    night.locator("input[name=quiet_start]").fill("22:00")
    night.locator("input[name=quiet_end]").fill("07:00")
    night.locator("input[name=day][value=sun]").uncheck()
    form.get_by_role("button", name="Add a quiet window").click()
    lunch = form.locator(".window").nth(1)
    lunch.locator("input[name=quiet_start]").fill("12:00")
    lunch.locator("input[name=quiet_end]").fill("13:00")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        lunch.locator(f"input[name=day][value={day}]").uncheck()
    form.locator("select[name=quiet_mode]").select_option("feed")
    form.locator(".cap-row input[name=cap]").fill("20")
    form.locator(".cap-row select[name=cap_per]").select_option("day")
    form.get_by_role("button", name="Add a cap").click()
    deploys = form.locator(".cap-row").nth(1)
    deploys.locator("input[name=cap]").fill("2")
    deploys.locator("input[name=cap_for]").fill("deploys")
    form.locator("input[name=digest_info]").check()
    form.locator("select[name=digest_every]").select_option("day")
    form.locator("input[name=digest_at]").fill("08:30")
    form.locator("input[name=critical_bypass]").uncheck()
    form.locator("button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Quiet hours and digests saved")

    stored = _stored(hub, device_id)
    assert stored["quiet_hours"] == [
        {"start": "22:00", "end": "07:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
        {"start": "12:00", "end": "13:00", "days": ["sat", "sun"]},
    ]
    assert stored["timezone"] == BROWSER_ZONE
    assert stored["quiet_mode"] == "feed"
    assert stored["caps"] == [
        {"max": 20, "per": "day", "category": None},
        {"max": 2, "per": "hour", "category": "deploys"},
    ]
    assert stored["digest"] == {"every": "day", "at": "08:30"}
    assert (stored["digest_info"], stored["critical_bypass"]) == (True, False)
    # The device row's own settings were not touched by this form.
    assert (stored["min_level"], stored["channels"]) == ("warning", None)

    page.reload()
    form = _open_editor(page, device_id)
    expect(form.locator(".window")).to_have_count(2)
    expect(form.locator(".cap-row")).to_have_count(2)
    assert _values(form, "input[name=quiet_start]") == ["22:00", "12:00"]
    assert _values(form, "input[name=quiet_end]") == ["07:00", "13:00"]
    night, lunch = form.locator(".window").nth(0), form.locator(".window").nth(1)
    expect(night.locator("input[name=day][value=sun]")).not_to_be_checked()
    expect(night.locator("input[name=day][value=sat]")).to_be_checked()
    expect(lunch.locator("input[name=day][value=mon]")).not_to_be_checked()
    expect(form.locator("input[name=timezone]")).to_have_value(BROWSER_ZONE)
    expect(form.locator("select[name=quiet_mode]")).to_have_value("feed")
    assert _values(form, "input[name=cap]") == ["20", "2"]
    assert _values(form, "select[name=cap_per]") == ["day", "hour"]
    assert _values(form, "input[name=cap_for]") == ["", "deploys"]
    expect(form.locator("input[name=digest_info]")).to_be_checked()
    expect(form.locator("select[name=digest_every]")).to_have_value("day")
    expect(form.locator("input[name=digest_at]")).to_have_value("08:30")
    expect(form.locator("input[name=critical_bypass]")).not_to_be_checked()


def test_every_window_and_cap_set_through_the_api_is_shown_and_can_be_removed(
    page: Page, hub: ThreadHub
) -> None:
    device_id = _register(hub)
    with hub.client(hub.read_key) as client:
        put = client.put(
            f"/v1/devices/{device_id}/preferences",
            json={
                "timezone": "Europe/Paris",
                "quiet_hours": [
                    {"start": "22:00", "end": "07:00"},
                    {"start": "12:00", "end": "13:00", "days": ["sat"]},
                ],
                "caps": [{"max": 5, "per": "hour"}, {"max": 2, "per": "hour", "category": "deploys"}],
            },
        )
    assert put.status_code == 200, put.text
    sign_in(page, hub.read_key)
    form = _open_editor(page, device_id)
    expect(form.locator("input[name=timezone]")).to_have_value("Europe/Paris")  # chosen beats the browser's
    expect(form.locator(".window")).to_have_count(2)
    assert _values(form, "input[name=quiet_start]") == ["22:00", "12:00"]
    assert _values(form, "input[name=cap]") == ["5", "2"]
    assert _values(form, "input[name=cap_for]") == ["", "deploys"]
    form.locator(".window").nth(0).get_by_role("button", name="Remove this window").click()
    form.locator(".cap-row").nth(0).get_by_role("button", name="Remove this cap").click()
    form.locator("button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Quiet hours and digests saved")

    stored = _stored(hub, device_id)
    assert stored["quiet_hours"] == [{"start": "12:00", "end": "13:00", "days": ["sat"]}]
    assert stored["caps"] == [{"max": 2, "per": "hour", "category": "deploys"}]
    assert stored["timezone"] == "Europe/Paris"
