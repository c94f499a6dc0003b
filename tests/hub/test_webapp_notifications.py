"""The web app's Notifications view and composer in a real Chromium against a real hub.

The newcomer's path of docs/notifications.md, done in the page: users with Web Push devices (on the
RFC 8030 stand-in), a segment and a template made through the API; in the composer at phone width
the live count of the segment, a filter's parse error in place, the template's preview for two
sample users, "09:00 in each recipient's time zone tomorrow" scheduled, a send at a later time
cancelled, a send now; then, as the hub's injected clock reaches 09:00 in Berlin and in New York, the
list's funnel fills in (sending, sent, delivered, opened). And the key: a read key is asked for a
users key with a sentence on why, a key without the scope is refused in words, the users key is kept
across reloads and forgotten on sign-out, a revoked one is said to be refused, an admin key needs
none. Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.support.chromium import sign_in, watched_page
from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, start_hub_thread, wait_until
from tests.support.push_service import PushService, ReceivedPush

pytestmark = [pytest.mark.browser]

DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WEEKLY = {
    "default_locale": "en",
    "locales": {
        "en": {
            "title": 'Hi {{ user.custom.first_name | default("there") }}',
            "body": "{{ data.count }} new exports",
        },
        "de": {
            "title": 'Hallo {{ user.custom.first_name | default("du") }}',
            "body": "{{ data.count }} neue Exporte",
        },
    },
}
#: A Sunday morning; "tomorrow" is Monday 2027-01-04, 09:00 there is 08:00 UTC in Berlin, 14:00 UTC
#: in New York, and the notification is expanded when UTC+14 reaches it (2027-01-03 19:00 UTC).
START = dt.datetime(2027, 1, 3, 10, 0, tzinfo=dt.UTC)
#: How long an expectation waits for something the list shows after its next poll (every 3 s).
POLL = 15_000


def users_key(hub: ThreadHub) -> tuple[str, str]:
    """A new key with the users scope: (id, secret)."""
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "composer", "scope": "users"})
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["secret"]


def app_user(hub: ThreadHub, push: PushService, user_id: str, attributes: dict[str, Any]) -> str:
    """A user with one phone subscribed on the stand-in; returns the phone's subscription id."""
    phone = push.subscribe()
    with hub.client(hub.admin_key) as admin:
        assert admin.put(f"/v1/users/{user_id}", json=attributes).status_code in (200, 201)
        made = admin.post(
            "/v1/devices", json={"kind": "webpush", "subscription": phone.subscription(), "user_id": user_id}
        )
    assert made.status_code == 201, made.text
    return phone.endpoint.rsplit("/", 1)[1]


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page scrolls sideways on a 360 px phone"


def receipt(hub: ThreadHub, push: ReceivedPush, status: str) -> None:
    """What the service worker posts when it shows the notification (delivered) or it is tapped (opened)."""
    with hub.client() as phone:
        answer = phone.post(
            f"/v1/deliveries/{push.payload['delivery_id']}/receipt",
            json={"token": push.payload["receipt"], "status": status},
        )
    assert answer.status_code == 200, answer.text


def test_a_newcomer_schedules_09_00_local_tomorrow_and_watches_the_funnel_fill_in(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    clock = FakeClock(START)
    with PushService() as push:  # VAPID tokens are signed on the real clock
        hub = start_hub_thread(tmp_path / "data", clock=clock.as_utc(), allow_private_endpoints=True)
        try:
            users: dict[str, dict[str, Any]] = {
                "anna": {
                    "locale": "de",
                    "timezone": "Europe/Berlin",
                    "plan": "pro",
                    "custom": {"first_name": "Anna"},
                },
                "bob": {"timezone": "America/New_York", "plan": "pro", "custom": {"first_name": "Bob"}},
                "cleo": {"timezone": "Europe/Berlin", "plan": "free"},
            }
            phones = {
                user_id: app_user(hub, push, user_id, attributes) for user_id, attributes in users.items()
            }
            with hub.client(hub.admin_key) as admin:
                assert admin.put("/v1/segments/pro", json={"filter": 'plan = "pro"'}).status_code == 201
                assert admin.put("/v1/templates/weekly", json=WEEKLY).status_code == 201
                news = {"default": "push", "description": "Product news"}
                assert admin.put("/v1/categories/news", json=news).status_code in (200, 201)
            _, key = users_key(hub)

            ctx = browser.new_context(
                base_url=hub.base_url, viewport={"width": 360, "height": 760}, timezone_id="Europe/Berlin"
            )
            ctx.set_default_timeout(15_000)
            ctx.clock.set_fixed_time(START)  # the browser's "now" (and "tomorrow") is the hub's
            try:

                def later(seconds: float) -> None:
                    """Time passes on both clocks (and the list's newest-first order is by creation)."""
                    clock.advance(seconds)
                    ctx.clock.set_fixed_time(clock.utc())

                page, errors = watched_page(ctx)
                sign_in(page, hub.read_key)
                page.click("#nav-notifications")
                expect(page.locator("#users-key-why")).to_contain_text("paste a key with the users scope")
                page.fill("#users-key", key)
                page.click("#users-key-button")
                expect(page.locator("#notifications-empty")).to_contain_text("No notifications yet.")

                # 1. The weekly template to the segment, at 09:00 in each recipient's zone tomorrow.
                page.click("#new-notification")
                expect(page.locator("#audience-count")).to_have_text(
                    "Reaches 2 users on 2 devices (e.g. anna, bob)."
                )
                expect(page.locator("#audience-segment-filter")).to_have_text('plan = "pro"')
                page.check("#audience-kind-filter")
                page.fill("#audience-filter", "plan =")
                expect(page.locator("#audience-error")).to_have_text(
                    re.compile(r"^audience\.filter: column 7: expected a value")
                )
                expect(page.locator("#audience-count")).to_have_text("")
                page.fill("#audience-filter", 'plan = "free"')
                expect(page.locator("#audience-count")).to_have_text(
                    "Reaches 1 user on 1 device (e.g. cleo)."
                )
                expect(page.locator("#audience-error")).to_be_hidden()
                page.check("#audience-kind-segment")
                expect(page.locator("#audience-count")).to_have_text(
                    "Reaches 2 users on 2 devices (e.g. anna, bob)."
                )

                page.fill("#data", '{"count": 3}')
                preview = page.locator("#template-preview")
                expect(preview).to_contain_text("As anna gets it (de):")
                expect(preview.locator(".preview-title")).to_have_text("Hallo Anna")
                expect(preview.locator(".preview-body")).to_have_text("3 neue Exporte")
                page.select_option("#preview-user", "bob")
                expect(preview.locator(".preview-title")).to_have_text("Hi Bob")
                expect(preview.locator(".preview-body")).to_have_text("3 new exports")
                page.fill("#data", '{"count": ')
                expect(page.locator("#template-error")).to_contain_text("Data must be a JSON object")
                page.fill("#data", '{"count": 3}')
                expect(preview.locator(".preview-title")).to_have_text("Hi Bob")

                page.check("#when-local")
                expect(page.locator("#schedule-date")).to_have_value("2027-01-04")
                expect(page.locator("#schedule-time")).to_have_value("09:00")
                expect(page.locator("#send")).to_have_text("Schedule")
                no_sideways_scroll(page)
                page.click("#send")
                expect(page).to_have_url(re.compile(r"#/notifications$"))
                weekly = page.locator("#notification-list li.notification").first
                expect(weekly.locator(".notification-what")).to_have_text("template weekly")
                expect(weekly.locator(".notification-status")).to_have_text("scheduled")
                expect(weekly.locator(".notification-when")).to_have_text(
                    "at 09:00 in each recipient's time zone on 2027-01-04 (else Europe/Berlin) · info"
                )
                expect(weekly.locator(".notification-audience")).to_have_text("segment pro")
                expect(weekly).to_contain_text("Nothing sent yet.")

                # 2. A literal text at a later time, cancelled before it goes out.
                later(60)
                page.click("#new-notification")
                page.check("#audience-kind-users")
                page.fill("#audience-users", "cleo, nobody")
                expect(page.locator("#audience-count")).to_have_text(
                    "Reaches 1 user on 1 device (e.g. cleo)."
                )
                page.check("#content-kind-text")
                page.fill("#title", "Spring sale")
                page.fill("#body", "20% off until Sunday")
                page.check("#when-at")
                page.fill("#schedule-at", "2027-01-10T12:00")
                page.click("#send")
                sale = page.locator("#notification-list li.notification").first
                expect(sale.locator(".notification-what")).to_have_text("“Spring sale”")
                expect(sale.locator(".notification-status")).to_have_text("scheduled")
                expect(sale.locator(".notification-audience")).to_have_text("users cleo, nobody")
                with hub.client(hub.admin_key) as admin:  # the browser's 12:00 in Berlin
                    (sale_sent,) = [
                        n for n in admin.get("/v1/notifications").json()["notifications"] if n["title"]
                    ]
                assert sale_sent["start_at"] == "2027-01-10T11:00:00.000000Z", sale_sent
                page.once("dialog", lambda dialog: dialog.accept())
                sale.locator(".notification-cancel").click()
                expect(sale.locator(".notification-status")).to_have_text("cancelled")
                expect(sale.locator(".notification-cancel")).to_have_count(0)
                expect(page.locator("#notification-list li.notification")).to_have_count(2)

                # 3. A text now, to cleo: sent at once, delivered when her phone's receipt arrives.
                later(60)
                page.click("#new-notification")
                page.check("#audience-kind-users")
                page.fill("#audience-users", "cleo")
                page.check("#content-kind-text")
                page.fill("#title", "Welcome")
                page.select_option("#level", "warning")
                page.fill("#category", "news")
                expect(page.locator("#send")).to_have_text("Send now")
                page.click("#send")
                welcome = page.locator("#notification-list li.notification").first
                expect(welcome.locator(".notification-what")).to_have_text("“Welcome”")
                expect(welcome.locator(".notification-status")).to_have_text("sent", timeout=POLL)
                expect(welcome.locator("[data-step=sent] dd")).to_have_text("1", timeout=POLL)
                (to_cleo,) = push.wait_for(1)
                assert to_cleo.subscription_id == phones["cleo"] and to_cleo.payload["title"] == "Welcome"
                assert to_cleo.payload["category"] == "news"
                expect(welcome.locator(".notification-when")).to_contain_text("· warning")
                receipt(hub, to_cleo, "delivered")
                expect(welcome.locator("[data-step=delivered] dd")).to_have_text(
                    "1", timeout=POLL
                )  # the list polls

                # 4. UTC+14 reaches 09:00: it is expanded, each delivery due at 09:00 in its user's
                # zone; 09:00 in Berlin: Anna's goes out; 09:00 in New York: Bob's. The funnel fills in.
                def reach(moment: dt.datetime, count: int) -> list[ReceivedPush]:
                    clock.set(moment)
                    ctx.clock.set_fixed_time(moment)

                    def arrived() -> bool:
                        hub.app.state.notifications.wake()
                        hub.app.state.hub.delivery.wake()
                        return len(push.received) >= count

                    wait_until(arrived, timeout=15, what=f"{count} pushes by {moment}")
                    return push.received[count - 1 : count]

                weekly = page.locator("#notification-list li.notification").nth(2)
                expect(weekly.locator(".notification-what")).to_have_text("template weekly")
                assert reach(dt.datetime(2027, 1, 3, 19, 0, 30, tzinfo=dt.UTC), 1) == [to_cleo]
                expect(weekly.locator(".notification-status")).to_have_text("sending", timeout=POLL)
                expect(weekly.locator("[data-step=targeted] dd")).to_have_text("2", timeout=POLL)
                expect(weekly.locator("[data-step=queued] dd")).to_have_text("2", timeout=POLL)
                expect(weekly.locator(".notification-when")).to_contain_text(
                    "at 09:00 in each recipient's time zone"
                )

                (to_anna,) = reach(dt.datetime(2027, 1, 4, 8, 0, 30, tzinfo=dt.UTC), 2)
                assert (to_anna.subscription_id, to_anna.payload["title"]) == (phones["anna"], "Hallo Anna")
                expect(weekly.locator("[data-step=sent] dd")).to_have_text("1", timeout=POLL)
                expect(weekly.locator("[data-step=queued] dd")).to_have_text("1", timeout=POLL)
                expect(weekly.locator(".notification-status")).to_have_text("sending")

                (to_bob,) = reach(dt.datetime(2027, 1, 4, 14, 0, 30, tzinfo=dt.UTC), 3)
                assert (to_bob.subscription_id, to_bob.payload["body"]) == (phones["bob"], "3 new exports")
                expect(weekly.locator(".notification-status")).to_have_text("sent", timeout=POLL)
                expect(weekly.locator(".notification-cancel")).to_have_count(0)
                receipt(hub, to_anna, "delivered")
                receipt(hub, to_bob, "opened")
                expect(weekly.locator("[data-step=sent] dd")).to_have_text("2", timeout=POLL)
                expect(weekly.locator("[data-step=delivered] dd")).to_have_text("2", timeout=POLL)
                expect(weekly.locator("[data-step=opened] dd")).to_have_text("1", timeout=POLL)
                expect(weekly.locator("[data-step=queued] dd")).to_have_text("0", timeout=POLL)
                expect(page.locator("#notifications-summary")).to_have_text(
                    "3 notifications, newest first; updated every 3 s."
                )
                no_sideways_scroll(page)
                page.screenshot(path=str(screenshots / "notifications-phone.png"), full_page=True)
                page.click("#new-notification")
                expect(
                    page.locator("#template-error")
                ).to_have_text(  # no data yet: the render error in place
                    "de.body: UndefinedError: 'dict object' has no attribute 'count'"
                )
                page.fill("#data", '{"count": 3}')
                expect(page.locator("#template-preview .preview-title")).to_have_text("Hallo Anna")
                page.screenshot(path=str(screenshots / "composer-phone.png"), full_page=True)
                assert errors == []
            finally:
                ctx.close()
        finally:
            hub.stop()


def test_the_notifications_key_is_asked_for_checked_kept_and_forgotten_on_sign_out(
    browser: Browser, tmp_path: Path
) -> None:
    hub = start_hub_thread(tmp_path / "data")
    try:
        key_id, key = users_key(hub)
        ctx = browser.new_context(base_url=hub.base_url)
        ctx.set_default_timeout(15_000)
        try:
            page = ctx.new_page()
            sign_in(page, hub.read_key, "/#/notifications")
            expect(page.locator("#users-key-why")).to_have_text(
                "Notifications reach your app's users, which your read key may not: paste a key with the"
                " users scope (pushlog keys create --name NAME --scope users) or an admin key. It stays in"
                " this browser beside your read key until you sign out."
            )
            page.fill("#users-key", hub.publish_key)
            page.click("#users-key-button")
            expect(page.locator("#users-key-error")).to_have_text(
                "This key may not reach your app's users: it needs the users or admin scope"
                " (pushlog keys create --name NAME --scope users)."
            )
            page.fill("#users-key", "pl_users_not-a-key")
            page.click("#users-key-button")
            expect(page.locator("#users-key-error")).to_have_text(
                "The hub does not accept this key (unknown or revoked)."
            )
            page.fill("#users-key", key)
            page.click("#users-key-button")
            expect(page.locator("#notifications-empty")).to_be_visible()

            page.reload()  # kept in this browser
            expect(page.locator("#notifications-empty")).to_be_visible()
            page.click("#new-notification")  # the composer uses it too
            expect(page.locator("#composer h2")).to_have_text("New notification")

            with hub.client(hub.admin_key) as admin:
                assert admin.delete(f"/v1/keys/{key_id}").status_code == 200
            page.goto("/#/notifications")
            expect(page.locator("#users-key-error")).to_have_text(
                "The stored users key was refused: The hub does not accept this key (unknown or revoked)."
            )
            expect(page.locator("#nav")).to_be_visible()  # the read key's session goes on

            _, again = users_key(hub)
            page.fill("#users-key", again)
            page.click("#users-key-button")
            expect(page.locator("#notifications-empty")).to_be_visible()
            page.click("#sign-out")  # forgets both keys
            sign_in(page, hub.read_key, "/#/notifications")
            expect(page.locator("#users-key-form")).to_be_visible()
            assert page.evaluate("localStorage.getItem('pushlog.usersKey')") is None

            page.click("#sign-out")
            sign_in(page, hub.admin_key, "/#/notifications")  # an admin key may do everything
            expect(page.locator("#notifications-empty")).to_be_visible()
            expect(page.locator("#users-key-form")).to_have_count(0)
        finally:
            ctx.close()
    finally:
        hub.stop()


def test_older_notifications_are_a_load_older_away_and_stay_while_the_newest_are_polled(
    browser: Browser, tmp_path: Path
) -> None:
    """The list polls the 50 newest; the 51st and older come with Load older and stay listed while
    new ones arrive on top (each created a second after the one before: the list is by creation)."""
    clock = FakeClock(START)
    hub = start_hub_thread(tmp_path / "data", clock=clock.as_utc())
    later = (START + dt.timedelta(days=30)).isoformat()

    def notify(n: int) -> None:
        clock.advance(1)
        body = {"audience": {"users": ["nobody"]}, "title": f"notice {n}", "schedule": {"at": later}}
        with hub.client(hub.admin_key) as admin:
            made = admin.post("/v1/notifications", json=body)
        assert made.status_code == 201, made.text

    try:
        for n in range(1, 53):
            notify(n)
        ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 360, "height": 760})
        ctx.set_default_timeout(15_000)
        try:
            page, errors = watched_page(ctx)
            sign_in(page, hub.admin_key, "/#/notifications")
            titles = page.locator("#notification-list .notification-what")
            expect(titles).to_have_count(50)
            expect(titles.first).to_have_text("\u201cnotice 52\u201d")
            expect(titles.last).to_have_text("\u201cnotice 3\u201d")
            older = page.locator("#notifications-older")
            expect(older).to_have_text("Load older")
            older.click()
            expect(titles).to_have_count(52)
            expect(titles.nth(50)).to_have_text("\u201cnotice 2\u201d")  # the 51st
            expect(titles.last).to_have_text("\u201cnotice 1\u201d")
            expect(older).to_be_hidden()
            expect(page.locator("#notifications-summary")).to_have_text(
                "52 notifications, newest first; the 50 newest updated every 3 s."
            )

            notify(53)  # the next poll puts it on top; the ones paged in stay
            expect(titles).to_have_count(53, timeout=POLL)
            expect(titles.first).to_have_text("\u201cnotice 53\u201d")
            expect(titles.last).to_have_text("\u201cnotice 1\u201d")
            no_sideways_scroll(page)
            assert errors == []
        finally:
            ctx.close()
    finally:
        hub.stop()


def test_the_summaries_and_request_parts_the_views_compute(browser: Browser, tmp_path: Path) -> None:
    """The pure pieces, on inputs the page tests above do not reach: long user lists, several audience
    parts, skips from both the expansion and the attention gate, malformed data and schedules."""
    hub = start_hub_thread(tmp_path / "data")
    try:
        page = browser.new_page(base_url=hub.base_url, timezone_id="America/New_York")
        try:
            page.goto("/")
            got = page.evaluate(
                """async () => {
                  const n = await import("/js/notifications.js");
                  const c = await import("/js/composer.js");
                  const fails = (f) => { try { f(); return null; } catch (e) { return e.message; } };
                  const funnel = {targeted: 5, skipped: {no_device: 1}, skipped_reasons: {category_off: 2},
                    held: 1, held_reasons: {quiet_hours: 1}, queued: 0, sent: 2, delivered: 1, opened: 0,
                    failed: 1, failed_reasons: {gone: 1}, cancelled: 0};
                  return {
                    users: n.audienceSummary({users: ["a", "b", "c", "d", "e"]}),
                    parts: n.audienceSummary({segment: "pro", topic: "news"}),
                    funnel: n.funnelRows(funnel).map(([label, count, why]) => `${label} ${count}${why}`),
                    none: n.funnelRows(null),
                    audience: [c.audienceOf({kind: "users", users: " 42,43  57 "}),
                               c.audienceOf({kind: "filter", filter: "  "})],
                    data: [fails(() => c.parseData("[1]")), c.parseData(""), c.parseData('{"a": 1}')],
                    at: c.scheduleOf({when: "at", at: "2027-03-14T09:30"}),
                    local: c.scheduleOf(
                      {when: "local", localTime: "09:00", date: "2027-01-04", timezone: " "}),
                    now: c.scheduleOf({when: "now"}),
                    noDate: fails(() => c.scheduleOf({when: "local", localTime: "09:00", date: ""})),
                    tomorrow: c.tomorrow(new Date("2027-01-31T12:00:00-05:00")),
                    rows: (() => {
                      const rows = new n.NotificationRows();
                      rows.newest({notifications: [{id: "c"}, {id: "b"}], next_cursor: "b"});
                      const first = rows.olderCursor;
                      rows.older({notifications: [{id: "a"}], next_cursor: null});
                      // b is pushed off the newest page by d: it stays; paging back is not restarted
                      rows.newest({notifications: [{id: "d"}, {id: "c"}], next_cursor: "c"});
                      rows.update({id: "a", status: "cancelled"});
                      rows.update({id: "z"});
                      return {first, cursor: rows.olderCursor,
                              ids: rows.items.map((i) => i.id + (i.status ? `:${i.status}` : ""))};
                    })(),
                  };
                }"""
            )
        finally:
            page.close()
    finally:
        hub.stop()
    assert got["users"] == "users a, b, c and 2 more"
    assert got["parts"] == "segment pro and topic news"
    assert got["funnel"] == [
        "targeted 5",
        "skipped 3 (no device 1, category off 2)",
        "held 1 (quiet hours 1)",
        "queued 0",
        "sent 2",
        "delivered 1",
        "opened 0",
        "failed 1 (gone 1)",
    ]
    assert got["none"] == []
    assert got["audience"] == [{"users": ["42", "43", "57"]}, None]
    assert got["data"] == ['Data must be a JSON object, like {"count": 3}.', None, {"a": 1}]
    assert got["at"] == {"at": "2027-03-14T13:30:00.000Z"}  # New York is on daylight time from the 14th
    assert got["local"] == {"local_time": "09:00", "date": "2027-01-04"}
    assert got["now"] is None
    assert got["noDate"] == "Choose the local time and the date."
    assert got["tomorrow"] == "2027-02-01"
    assert got["rows"] == {"first": "b", "cursor": None, "ids": ["d", "c", "b", "a:cancelled"]}
