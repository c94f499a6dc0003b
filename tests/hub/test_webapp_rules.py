"""The web app's Rules view in a real Chromium against a real hub on an injected clock.

Rules are declared through the API with an admin key, an expectation is first seen and then missed
as the hub's clock steps past its deadline, and a person signed in with a read key sees each rule's
name, kind and state (alerting first) and, on selecting one, its history: every state change with
its time, what caused it and a link to the event behind it. Signed in with an admin key on a 360 px
phone, a person adds rules of each form (seeing the hub's refusal of a wrong one in the form), a
device group, changes a rule, pauses and resumes it and removes one; with a read key the same
controls say an admin key is needed.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.support.chromium import screenshots_dir, sign_in, watched_page
from tests.support.clock import utc_clock
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, publish, start_hub_thread, wait_until

#: What a read key's change shows in place (js/rule-form.js; docs/webapp.md#rules).
ADMIN_NEEDED = "Changing rules needs an admin key: sign in with one."

pytestmark = [pytest.mark.browser]


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
        import_id = str(uuid.uuid4())
        publish(hub, {"id": import_id, "ts": when, "level": "info", "title": "import done: 1200 rows"})
        wait_until(lambda: rule(hub, "nightly-import")["state"] == "ok", timeout=10, what="the import seen")

        clock.advance((real_now - clock()).total_seconds())  # past 1 h + 10 min after the line
        rules_pass(hub)
        missed = rule(hub, "nightly-import")
        assert missed["state"] == "missed" and missed["alert_event_id"], missed

        ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 360, "height": 760})
        ctx.set_default_timeout(15_000)
        ctx.clock.set_fixed_time(real_now)  # the browser's "now" is the hub's: relative times are exact
        try:
            page, errors = watched_page(ctx)
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

            expect(changes.nth(1).locator("a.rule-change-event")).to_have_attribute(
                "href", f"#/events/{import_id}"
            )  # the line that was first seen
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


def register_device(hub: ThreadHub, name: str) -> str:
    with hub.client(hub.read_key) as client:
        made = client.post(
            "/v1/devices",
            json={"name": name, "subscription": subscription(f"http://127.0.0.1:9/push/{name}")},
        )
    assert made.status_code == 201, made.text
    device_id: str = made.json()["id"]
    return device_id


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the rules view scrolls sideways on a 360 px phone"


def new_rule(page: Page, name: str, kind: str, fields: dict[str, str]) -> None:
    """Open the list, fill the New rule form and save it."""
    page.goto("/#/rules")
    page.click("#new-rule summary")
    form = page.locator("#rule-form")
    form.locator("[name=name]").fill(name)
    form.locator("[name=kind]").select_option(kind)
    for field, value in fields.items():
        control = form.locator(f"[name={field}]")
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.click("#rule-save")


def test_an_admin_adds_changes_and_removes_rules_and_groups_on_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    hub = start_hub_thread(tmp_path / "data", allow_private_endpoints=True)
    try:
        bob = register_device(hub, "bob-phone")
        register_device(hub, "carol-phone")
        ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 360, "height": 760})
        ctx.set_default_timeout(15_000)
        try:
            page, errors = watched_page(ctx)
            sign_in(page, hub.admin_key, "/#/rules")
            expect(page.locator("#rules-empty")).to_contain_text("or add one here")

            # The hub's refusal is shown in the form, and nothing is declared.
            new_rule(
                page, "declines", "threshold", {"text": "payment declined", "count": "1", "within": "5m"}
            )
            expect(page.locator("#rule-form-error")).to_have_text(
                "count: must be at least 2 (one event is already pushed by its level)"
            )
            with hub.client(hub.read_key) as client:
                assert client.get("/v1/rules").json()["rules"] == []
            no_sideways_scroll(page)
            page.locator("#rule-form [name=count]").fill("20")
            page.locator("#rule-form [name=min_level]").select_option("warning")
            page.click("#rule-save")
            expect(page).to_have_url(re.compile(r"#/rules/declines$"))
            expect(page.locator("#rule .rule-state")).to_have_text("ok")
            expect(page.locator("#rule-summary")).to_contain_text("threshold · 20 in 5m · declared by api")

            new_rule(
                page,
                "nightly backup finished",
                "expect",
                {"text": "nightly backup finished", "channel": "backup", "every": "1d", "grace": "1h"},
            )
            expect(page).to_have_url(re.compile(r"#/rules/nightly%20backup%20finished$"))
            expect(page.locator("#rule .rule-state")).to_have_text("waiting")

            # A device group, chosen by device name, then an escalate rule's step choosing it.
            page.goto("/#/rules")
            page.click("#new-group summary")
            group_form = page.locator("#new-group form")
            group_form.locator("[name=group_name]").fill("oncall-2")
            group_form.get_by_label("bob-phone").check()
            group_form.get_by_role("button", name="Add group").click()
            group = page.locator("#group-list li.group")
            expect(group.locator(".group-name")).to_have_text(["oncall-2"])
            expect(group.locator(".group-devices")).to_have_text(["bob-phone"])
            with hub.client(hub.read_key) as client:
                assert client.get("/v1/device-groups/oncall-2").json()["devices"] == [
                    {"id": bob, "name": "bob-phone"}
                ]

            new_rule(page, "oncall", "escalate", {"min_level": "critical", "step_after": "10m"})
            expect(page).to_have_url(re.compile(r"#/rules/oncall$"))
            expect(page.locator("#rule-summary")).to_contain_text("escalate · 1 step")
            assert rule(hub, "oncall")["steps"] == [{"after_s": 600.0, "group": "oncall-2"}]

            page.goto("/#/rules")
            items = page.locator("#rule-list li.rule")
            expect(items.locator(".rule-name")).to_have_text(
                ["declines", "nightly backup finished", "oncall"]
            )
            expect(items.locator(".rule-state")).to_have_text(["ok", "waiting", "active"])
            expect(items.nth(1)).to_contain_text("expect · every 1d (+1h)")
            no_sideways_scroll(page)
            page.click("#new-rule summary")
            page.locator("#rule-form [name=kind]").select_option("threshold")
            page.evaluate("document.getElementById('toasts').replaceChildren()")
            page.screenshot(path=str(screenshots_dir(tmp_path) / "rules-phone.png"))

            # The group the escalate rule uses is not removed: the hub's reason shows in place.
            used = page.locator("#group-list li.group")
            used.locator("summary").click()
            used.get_by_role("button", name="Remove group").click()
            expect(used.locator(".group-form-error")).to_have_text(
                "device group 'oncall-2' is used by escalate rule 'oncall': "
                "change or remove those rules' steps first"
            )
            expect(page.locator("#group-list li.group .group-name")).to_have_text(["oncall-2"])

            # Change one: the form opens with the rule as declared.
            items.nth(0).locator("a").click()
            page.click("#edit-rule summary")
            form = page.locator("#rule-form")
            expect(form.locator("[name=name]")).to_have_value("declines")
            expect(form.locator("[name=within]")).to_have_value("5m")
            expect(form.locator("[name=min_level]")).to_have_value("warning")
            form.locator("[name=count]").fill("30")
            page.click("#rule-save")
            expect(page.locator("#rule-summary")).to_contain_text("threshold · 30 in 5m")
            expect(page.locator("#rule-history li.rule-change").first).to_contain_text("changed (api)")
            assert rule(hub, "declines")["match"] == {"text": "payment declined", "level": "warning"}
            no_sideways_scroll(page)

            # Pause it (kept, not evaluated), then resume it.
            page.click("#rule-pause")
            expect(page.locator("#rule .rule-state")).to_have_text(["ok", "paused"])
            expect(page.locator("#rule-pause")).to_have_text("Resume rule")
            expect(page.locator("#rule-history li.rule-change").first).to_contain_text("paused (api)")
            paused = rule(hub, "declines")
            assert (paused["paused"], paused["count"], paused["within_s"]) == (True, 30, 300.0)
            page.goto("/#/rules")
            expect(page.locator("#rule-list li.rule").nth(0).locator(".rule-state")).to_have_text(
                ["ok", "paused"]
            )
            page.locator("#rule-list li.rule").nth(0).locator("a").click()
            page.click("#rule-pause")
            expect(page.locator("#rule-pause")).to_have_text("Pause rule")
            expect(page.locator("#rule .rule-state")).to_have_text(["ok"])
            assert rule(hub, "declines")["paused"] is False

            # Remove one: it asks once more in place.
            page.goto("/#/rules/nightly%20backup%20finished")
            page.click("#edit-rule summary")
            page.click("#rule-remove")
            page.click("#rule-remove-confirm")
            expect(page).to_have_url(re.compile(r"#/rules$"))
            expect(page.locator("#rule-list li.rule .rule-name")).to_have_text(["declines", "oncall"])
            assert errors == []
        finally:
            ctx.close()

        # Signed in with a read key, the controls are there and say what is needed.
        ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 360, "height": 760})
        ctx.set_default_timeout(15_000)
        try:
            page = ctx.new_page()
            sign_in(page, hub.read_key, "/#/rules")
            new_rule(page, "mine", "resolve", {"quiet": "15m"})
            expect(page.locator("#rule-form-error")).to_have_text(ADMIN_NEEDED)
            page.click("#new-group summary")
            group_form = page.locator("#new-group form")
            group_form.locator("[name=group_name]").fill("managers")
            group_form.get_by_label("carol-phone").check()
            group_form.get_by_role("button", name="Add group").click()
            expect(group_form.locator(".group-form-error")).to_have_text(ADMIN_NEEDED)
            page.goto("/#/rules/declines")
            page.click("#rule-pause")
            expect(page.locator("#rule-pause-error")).to_have_text(ADMIN_NEEDED)
            page.click("#edit-rule summary")
            page.click("#rule-remove")
            page.click("#rule-remove-confirm")
            expect(page.locator("#rule-remove-error")).to_have_text(ADMIN_NEEDED)
            with hub.client(hub.read_key) as client:
                names = [r["name"] for r in client.get("/v1/rules").json()["rules"]]
                assert names == ["declines", "oncall"]
                assert [g["name"] for g in client.get("/v1/device-groups").json()["groups"]] == ["oncall-2"]
        finally:
            ctx.close()
    finally:
        hub.stop()
