"""The web app's Rules view in a real Chromium against a real hub on an injected clock.

Rules are declared through the API with an admin key, an expectation is first seen and then missed
as the hub's clock steps past its deadline, and a person signed in with a read key sees each rule's
name, kind and state (alerting first) and, on selecting one, its history: every state change with
its time, what caused it and a link to the event behind it.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright
from tests.support.chromium import launch_chromium, sign_in
from tests.support.clock import utc_clock
from tests.support.hub_server import ThreadHub, publish, start_hub_thread, wait_until

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = launch_chromium(playwright)
    try:
        yield b
    finally:
        b.close()


def rules_pass(hub: ThreadHub) -> None:
    task = hub.app.state.rules
    before = task.passes
    task.request_run()
    wait_until(lambda: task.passes > before, timeout=10, what="a rules pass")


def rule(hub: ThreadHub, name: str) -> dict[str, Any]:
    with hub.client(hub.read_key) as client:
        answer = client.get(f"/v1/rules/{name}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_rules_view_shows_each_rules_state_and_the_history_of_a_missed_expectation(
    browser: Browser, tmp_path: Path
) -> None:
    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = utc_clock(real_now - dt.timedelta(hours=3))
    hub = start_hub_thread(tmp_path / "data", clock=clock, rules_interval=86400.0)
    try:
        task = hub.app.state.rules
        wait_until(lambda: task.passes >= 1, timeout=10, what="the rules' first pass")
        with hub.client(hub.admin_key) as admin:
            for name, body in {
                "nightly-import": {
                    "kind": "expect",
                    "match": {"text": "import done"},
                    "every": "1h",
                    "grace": "10m",
                },
                "payment-errors": {
                    "kind": "threshold",
                    "match": {"channel": "payments"},
                    "count": 5,
                    "within": "10m",
                },
            }.items():
                answer = admin.put(f"/v1/rules/{name}", json=body)
                assert answer.status_code == 200, answer.text

        clock.advance(5 * 60)
        when = clock().isoformat().replace("+00:00", "Z")
        publish(hub, {"ts": when, "level": "info", "title": "import done: 1200 rows"})
        wait_until(lambda: rule(hub, "nightly-import")["state"] == "ok", timeout=10, what="the import seen")

        clock.advance((real_now - clock()).total_seconds())  # past 1 h + 10 min after the line
        rules_pass(hub)
        missed = rule(hub, "nightly-import")
        assert missed["state"] == "missed" and missed["alert_event_id"], missed

        ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 360, "height": 760})
        ctx.set_default_timeout(15_000)
        ctx.clock.set_fixed_time(real_now)  # the browser's "now" is the hub's: relative times are exact
        try:
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(page, hub.read_key)
            page.click("#nav-rules")
            expect(page.locator("#nav-rules")).to_have_class(re.compile(r"\bactive\b"))
            items = page.locator("#rule-list li.rule")
            expect(items.locator(".rule-name")).to_have_text(
                ["nightly-import", "payment-errors"]
            )  # missed first
            expect(items.locator(".rule-state")).to_have_text(["missed", "ok"])
            expect(page.locator("#rules-summary")).to_have_text("2 rules, 1 alerting.")
            expect(items.nth(0)).to_contain_text("expect · every 1h (+10m)")
            expect(items.nth(0)).to_contain_text("since just now")
            expect(items.nth(1)).to_contain_text("threshold · 5 in 10m")
            expect(items.nth(1)).to_contain_text("since 3 h ago")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, "the rules view scrolls sideways on a 360 px phone"

            items.nth(0).locator("a").click()
            expect(page).to_have_url(re.compile(r"#/rules/nightly-import$"))
            expect(page.locator("#rule .rule-name")).to_have_text("nightly-import")
            expect(page.locator("#rule .rule-state")).to_have_text("missed")
            changes = page.locator("#rule-history li.rule-change")
            expect(changes.locator(".rule-change-state")).to_have_text(
                ["ok → missed", "waiting → ok", "waiting"]
            )  # newest first
            expect(changes.nth(0)).to_contain_text("not seen by")
            expect(changes.nth(1)).to_contain_text("first seen")
            expect(changes.nth(1).locator(".rule-change-at")).to_have_text("3 h ago")
            expect(changes.nth(2)).to_contain_text("declared (api)")

            expect(changes.nth(1).locator("a.rule-change-event")).to_have_count(0)  # no event behind it
            changes.nth(0).locator("a.rule-change-event").click()  # the alert the miss raised
            expect(page).to_have_url(re.compile(f"#/events/{missed['alert_event_id']}$"))
            expect(page.locator("#main")).to_contain_text("nightly-import: not seen for")

            page.goto("/#/rules/no-such-rule")
            expect(page.locator("#rule .form-error")).to_have_text("There is no rule named “no-such-rule”.")
            assert errors == []
        finally:
            ctx.close()
    finally:
        hub.stop()


def test_rules_view_without_rules_says_how_to_declare_one(browser: Browser, tmp_path: Path) -> None:
    hub = start_hub_thread(tmp_path / "data")
    try:
        ctx = browser.new_context(base_url=hub.base_url)
        try:
            page = ctx.new_page()
            sign_in(page, hub.read_key, "/#/rules")
            expect(page.locator("#rules-empty")).to_contain_text("No rules yet.")
            expect(page.locator("#rules-empty code").first).to_have_text("pushlog rules add")
        finally:
            ctx.close()
    finally:
        hub.stop()
