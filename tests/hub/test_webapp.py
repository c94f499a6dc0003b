"""The web app in a real Chromium against a real hub (``pushlog serve`` on 127.0.0.1).

Covers sign-in (and refusing unknown and publish-only keys), the feed (newest first, repeat counts,
filters, live updates over the stream, resuming after a dropped connection, "load older"), the detail
view with metadata, acknowledging CRITICAL events, device preferences, the dashboard charts and a
phone-sized screen, the heartbeats view. Screenshots go to pytest's tmp dir; with
``PUSHLOG_UPDATE_SCREENSHOTS=1`` they replace the ones docs/webapp.md shows in docs/screenshots/.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
)
from tests.support.chromium import sign_in
from tests.support.clock import utc_clock
from tests.support.hub_server import ProcessHub, publish, start_hub_process, wait_until

pytestmark = [pytest.mark.browser]

DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 360, "height": 760}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessHub]:
    data = tmp_path_factory.mktemp("webapp-hub") / "data"
    with start_hub_process(data) as running:
        yield running


@pytest.fixture
def context(browser: Browser, hub: ProcessHub) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=hub.base_url, viewport={"width": 1180, "height": 820})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.js_errors = errors  # type: ignore[attr-defined]
    return p


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def assert_no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right >"
        " document.documentElement.clientWidth + 0.5).slice(0, 5).map((e) => e.tagName + '#' + e.id + '.'"
        " + e.className)"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {page.viewport_size}: {wide}"


def feed_titles(page: Page) -> list[str]:
    return page.locator("#events .event-title").all_inner_texts()


def filter_feed(page: Page, **values: str) -> None:
    if page.locator("#filter-box:not([open])").count():
        page.click("#filter-box > summary")  # folded on a phone
    for name, value in values.items():
        if name == "level":
            page.select_option("#filter-level", value)
        else:
            page.fill(f"#filter-{name}", value)
    page.click("#filter-apply")


def api_get(hub: ProcessHub, path: str, **params: Any) -> Any:
    with hub.client(hub.read_key) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- sign-in -------------------------------------------------------------------------------------


def test_sign_in_refuses_unknown_and_publish_keys_with_a_clear_message(page: Page, hub: ProcessHub) -> None:
    page.goto("/")
    page.fill("#key", "pl_read_" + "x" * 32)
    page.click("#sign-in-button")
    expect(page.locator("#sign-in-error")).to_contain_text("does not accept this key")

    page.fill("#key", hub.publish_key)
    page.click("#sign-in-button")
    expect(page.locator("#sign-in-error")).to_contain_text("cannot read the feed")
    expect(page.locator("#nav")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('pushlog.key')") is None


def test_sign_in_keeps_the_key_until_sign_out(page: Page, hub: ProcessHub) -> None:
    title = unique("kept")
    publish(hub, {"level": "info", "title": title})
    sign_in(page, hub.read_key)
    expect(page.locator("#events .event-title", has_text=title)).to_be_visible()
    assert page.evaluate("localStorage.getItem('pushlog.key')") == hub.read_key

    page.reload()  # still signed in: the key is in localStorage
    expect(page.locator("#events .event-title", has_text=title)).to_be_visible()

    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('pushlog.key')") is None
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible()


def test_a_revoked_key_signs_the_user_out_with_a_message(page: Page, hub: ProcessHub) -> None:
    with hub.client(hub.admin_key) as admin:
        created = admin.post("/v1/keys", json={"name": unique("laptop"), "scope": "read"}).json()
    sign_in(page, created["secret"])
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    with hub.client(hub.admin_key) as admin:
        assert admin.delete(f"/v1/keys/{created['id']}").status_code == 200
    page.click("#nav-dashboard")  # the next request is refused
    expect(page.locator("#sign-in-error")).to_contain_text("no longer accepted")
    assert page.evaluate("localStorage.getItem('pushlog.key')") is None


def test_the_content_security_policy_blocks_nothing_the_web_app_does(page: Page, hub: ProcessHub) -> None:
    """Every view under the hub's CSP (script/style 'self' only): no violation reported, no error."""
    assert "script-src 'self'" in httpx.get(hub.base_url + "/").headers["content-security-policy"]
    violations: list[str] = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    title = unique("csp")
    publish(hub, {"level": "critical", "title": title, "metadata": {"order": 7}})
    sign_in(page, hub.read_key)
    page.click(f"#events .event-title:text('{title}')")
    expect(page.locator("body")).to_contain_text("order")
    for view in (
        "#nav-dashboard",
        "#nav-devices",
        "#nav-heartbeats",
        "#nav-rules",
        "#nav-notifications",
        "#nav-feed",
    ):
        page.click(view)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert violations == []
    assert page.js_errors == []  # type: ignore[attr-defined]


# --- the feed ------------------------------------------------------------------------------------


def test_feed_lists_newest_first_with_counts_and_filters(page: Page, hub: ProcessHub) -> None:
    run = unique("run")
    now = dt.datetime.now(dt.UTC)
    publish(
        hub,
        {
            "level": "info",
            "title": f"{run} deployed",
            "channel": f"{run}-deploys",
            "ts": iso(now - dt.timedelta(minutes=5)),
            "metadata": {"env": "prod"},
        },
        {
            "level": "warning",
            "title": f"{run} payment retried",
            "channel": f"{run}-payments",
            "tags": ["billing"],
            "count": 3,
            "ts": iso(now - dt.timedelta(minutes=4)),
            "metadata": {"plan": "pro"},
        },
        {
            "level": "error",
            "title": f"{run} payment failed",
            "channel": f"{run}-payments",
            "tags": ["billing", "card"],
            "body": "card declined by issuer",
            "ts": iso(now - dt.timedelta(minutes=3)),
            "metadata": {"plan": "free"},
        },
        {
            "level": "critical",
            "title": f"{run} database down",
            "channel": f"{run}-infra",
            "ts": iso(now - dt.timedelta(minutes=2)),
            "metadata": {"env": "prod"},
        },
    )
    sign_in(page, hub.read_key)
    filter_feed(page, q=run)
    expect(page.locator("#events .event")).to_have_count(4)
    assert feed_titles(page) == [
        f"{run} database down",
        f"{run} payment failed",
        f"{run} payment retried",
        f"{run} deployed",
    ]
    # Time labels age while the page is open (refreshTimes with a "now" 2 hours ahead).
    expect(page.locator("#events .event", has_text=f"{run} deployed").locator("time")).to_have_text(
        re.compile(r"^[56] min ago$")
    )
    page.evaluate("""async () => {
        const { Feed } = await import('/js/feed.js');
        const list = document.querySelector('#events');
        Feed.prototype.refreshTimes.call({ list }, Date.now() + 2 * 3600 * 1000);
    }""")
    expect(page.locator("#events .event", has_text=f"{run} deployed").locator("time")).to_have_text("2 h ago")
    retried = page.locator("#events .event", has_text=f"{run} payment retried")
    expect(retried.locator(".count")).to_have_text("\u00d73")
    expect(page.locator("#events .event", has_text=f"{run} deployed").locator(".count")).to_have_count(0)

    filter_feed(page, level="error")
    expect(page.locator("#events .event")).to_have_count(2)
    assert feed_titles(page) == [f"{run} database down", f"{run} payment failed"]

    filter_feed(page, level="", channel=f"{run}-payments")
    expect(page.locator("#events .event")).to_have_count(2)
    assert feed_titles(page) == [f"{run} payment failed", f"{run} payment retried"]

    filter_feed(page, channel="", tag="card")
    expect(page.locator("#events .event")).to_have_count(1)
    expect(page.locator("#events .event-title")).to_have_text(f"{run} payment failed")

    filter_feed(page, tag="", meta="env=prod")
    expect(page.locator("#events .event")).to_have_count(2)
    assert feed_titles(page) == [f"{run} database down", f"{run} deployed"]

    filter_feed(page, meta="meta.plan=pro")
    expect(page.locator("#events .event")).to_have_count(1)
    expect(page.locator("#events .event-title")).to_have_text(f"{run} payment retried")

    filter_feed(page, meta="", q=f"{run} declined")  # text search reaches the body too
    filter_feed(page, q="card declined by issuer")
    expect(page.locator("#events .event-title", has_text=f"{run} payment failed")).to_be_visible()

    filter_feed(page, q="", meta="no-equals-sign")
    expect(page.locator("#filters .form-error")).to_contain_text("key=value")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_feed_orders_by_log_time_and_every_row_has_its_time_in_one_column(
    page: Page, hub: ProcessHub
) -> None:
    """The client sends pushes first: an INFO logged before a WARNING reaches the hub after it. The
    feed shows what happened last on top, and the times line up whatever buttons a row carries."""
    run = unique("order")
    now = dt.datetime.now(dt.UTC)
    publish(
        hub,
        {"level": "critical", "title": f"{run} payments down", "ts": iso(now - dt.timedelta(seconds=30))},
        {"level": "warning", "title": f"{run} card declined", "ts": iso(now - dt.timedelta(seconds=1))},
        {
            "level": "error",
            "title": f"{run} with a link",
            "link": "https://example.com/x",
            "ts": iso(now - dt.timedelta(seconds=40)),
        },
    )
    publish(
        hub, {"level": "info", "title": f"{run} checkout started", "ts": iso(now - dt.timedelta(seconds=2))}
    )
    sign_in(page, hub.read_key)
    filter_feed(page, q=run)
    expect(page.locator("#events .event")).to_have_count(4)
    assert feed_titles(page) == [
        f"{run} card declined",
        f"{run} checkout started",  # arrived last, logged before the WARNING
        f"{run} payments down",
        f"{run} with a link",
    ]
    # a live event logged earlier than what is shown takes its place by time, not the top
    publish(hub, {"level": "info", "title": f"{run} late report", "ts": iso(now - dt.timedelta(seconds=35))})
    expect(page.locator("#events .event")).to_have_count(5)
    assert feed_titles(page)[3] == f"{run} late report"

    boxes = [page.locator("#events .event time").nth(i).bounding_box() for i in range(5)]
    rights = [round(b["x"] + b["width"]) for b in boxes if b]
    tops = [page.locator("#events .event").nth(i).bounding_box() for i in range(5)]
    assert len(rights) == 5 and max(rights) - min(rights) <= 1, rights  # CRITICAL row included
    for time_box, row_box in zip(boxes, tops, strict=True):
        assert time_box and row_box and time_box["y"] - row_box["y"] < 24  # on the row's first line


def test_event_content_is_shown_as_text_never_run(page: Page, hub: ProcessHub) -> None:
    marker = unique("xss")
    event_id = str(uuid.uuid4())
    publish(
        hub,
        {
            "id": event_id,
            "level": "warning",
            "title": f'{marker} <img src=x onerror="window.__pwned=1">',
            "body": "<script>window.__pwned=2</script>",
            "metadata": {"html": "<b onmouseover=alert(1)>x</b>"},
        },
    )
    sign_in(page, hub.read_key)
    filter_feed(page, q=marker)
    row = page.locator("#events .event", has_text=marker)
    expect(row.locator(".event-title")).to_have_text(f'{marker} <img src=x onerror="window.__pwned=1">')
    assert row.locator("img, script").count() == 0
    row.locator(".event-title").click()
    expect(page.locator("table.metadata")).to_contain_text("<b onmouseover=alert(1)>x</b>")
    assert page.locator("#detail img, #detail script, #detail b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_summary_link_opens_the_feed_from_its_start_time(page: Page, hub: ProcessHub) -> None:
    """A summary push of held pushes links to ``#/?since=<first held event>``: the feed shows events
    from then on, says so, and shows everything again on request."""
    run = unique("since")
    now = dt.datetime.now(dt.UTC)
    publish(
        hub,
        {"level": "warning", "title": f"{run} before the night", "ts": iso(now - dt.timedelta(hours=3))},
        {"level": "warning", "title": f"{run} held overnight", "ts": iso(now - dt.timedelta(minutes=50))},
    )
    since = iso(now - dt.timedelta(hours=1))
    sign_in(page, hub.read_key, f"/#/?{urlencode({'since': since})}")
    filter_feed(page, q=run)
    expect(page.locator("#events .event-title")).to_have_text([f"{run} held overnight"])
    expect(page.locator("#feed-since")).to_contain_text("Showing events since")

    page.click("#feed-since-clear")
    expect(page.locator("#events .event-title")).to_have_text(
        [f"{run} held overnight", f"{run} before the night"]
    )
    expect(page.locator("#feed-since")).to_be_hidden()
    assert not page.js_errors  # type: ignore[attr-defined]


def test_live_event_arrives_through_the_stream_and_respects_filters(page: Page, hub: ProcessHub) -> None:
    channel = unique("live")
    sign_in(page, hub.read_key)
    filter_feed(page, channel=channel)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#feed-empty")).to_be_visible()

    publish(hub, {"level": "warning", "title": "other channel", "channel": unique("elsewhere")})
    publish(hub, {"level": "warning", "title": f"{channel} first", "channel": channel})
    expect(page.locator("#events .event-title")).to_have_text([f"{channel} first"])
    publish(hub, {"level": "error", "title": f"{channel} second", "channel": channel})
    expect(page.locator("#events .event-title")).to_have_text([f"{channel} second", f"{channel} first"])
    # Events on the stream arrive in order, so the non-matching one would have shown up by now.
    expect(page.locator("#events .event-title", has_text="other channel")).to_have_count(0)


def test_stream_reconnects_after_a_hub_restart_and_resumes_after_the_last_event_id(
    browser: Browser, tmp_path: Path
) -> None:
    """The stream drops (hub restart); while the page cannot reconnect an event is published; once it
    can, the event arrives: only a reconnect that sends Last-Event-ID gets it."""
    first = start_hub_process(tmp_path / "data", args=())
    restarted: ProcessHub | None = None
    ctx = browser.new_context(base_url=first.base_url)
    try:
        page = ctx.new_page()
        sign_in(page, first.read_key)
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        publish(first, {"level": "info", "title": "before the restart"})
        expect(page.locator("#events .event-title")).to_have_text(["before the restart"])

        page.route("**/v1/stream*", lambda route: route.abort())
        first.stop()
        expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
        restarted = start_hub_process(tmp_path / "data", args=(), port=first.port)
        publish(restarted, {"level": "info", "title": "while the page was away"})
        expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
        page.unroute("**/v1/stream*")

        expect(page.locator("#events .event-title")).to_have_text(
            ["while the page was away", "before the restart"], timeout=40_000
        )
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
    finally:
        ctx.close()
        first.stop()
        if restarted is not None:
            restarted.stop()


def test_load_older_pages_through_the_cursor_without_gaps_or_repeats(page: Page, hub: ProcessHub) -> None:
    channel = unique("pages")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    publish(
        hub,
        *[
            {
                "level": "info",
                "title": f"{channel} #{i:03d}",
                "channel": channel,
                "ts": iso(start + dt.timedelta(seconds=i)),
            }
            for i in range(65)
        ],
    )
    sign_in(page, hub.read_key)
    filter_feed(page, channel=channel)
    expect(page.locator("#events .event")).to_have_count(50)
    expect(page.locator("#load-older")).to_be_visible()
    page.click("#load-older")
    expect(page.locator("#events .event")).to_have_count(65)
    expect(page.locator("#load-older")).to_be_hidden()
    assert feed_titles(page) == [f"{channel} #{i:03d}" for i in reversed(range(65))]


# --- detail and acknowledge ----------------------------------------------------------------------


def test_detail_view_shows_metadata_and_acknowledges_critical(page: Page, hub: ProcessHub) -> None:
    title = unique("Payments failing")
    event_id = str(uuid.uuid4())
    publish(
        hub,
        {
            "id": event_id,
            "level": "critical",
            "title": title,
            "body": "3 charges failed in 60 s\nissuer timeout",
            "channel": "payments",
            "tags": ["billing"],
            "link": "https://status.example.com/incident/7",
            "metadata": {"user_id": 42, "plan": "annual", "region": "eu-west-1"},
            "count": 2,
            "source": {"logger": "app.payments", "host": "web-1"},
        },
    )
    sign_in(page, hub.read_key)
    filter_feed(page, q=title)
    page.click(f"#events .event-title >> text={title}")
    expect(page).to_have_url(f"{hub.base_url}/#/events/{event_id}")
    expect(page.locator("#detail-title")).to_have_text(title)
    expect(page.locator("#detail-body")).to_contain_text("issuer timeout")
    metadata = page.locator("table.metadata")
    expect(metadata.locator("tr", has_text="user_id")).to_contain_text("42")
    expect(metadata.locator("tr", has_text="region")).to_contain_text("eu-west-1")
    expect(page.locator("table.source")).to_contain_text("app.payments")
    expect(page.locator(".event-detail a.ext")).to_have_attribute(
        "href", "https://status.example.com/incident/7"
    )

    page.click("#detail-ack button.ack")
    expect(page.locator("#detail-ack")).to_contain_text("acknowledged")
    stored = api_get(hub, f"/v1/events/{event_id}")
    assert stored["acknowledged_at"] is not None

    page.click("a.back")  # the feed shows the acknowledgement too
    expect(page.locator("#events .event", has_text=title).locator(".acked-mark")).to_be_visible()


def test_acknowledge_from_the_feed_list(page: Page, hub: ProcessHub) -> None:
    title = unique("Disk full")
    event_id = str(uuid.uuid4())
    publish(hub, {"id": event_id, "level": "critical", "title": title})
    sign_in(page, hub.read_key)
    filter_feed(page, q=title)
    row = page.locator("#events .event", has_text=title)
    row.locator("button.ack").click()
    expect(row.locator(".acked-mark")).to_be_visible()
    assert api_get(hub, f"/v1/events/{event_id}")["acknowledged_at"] is not None


def test_acknowledgement_made_elsewhere_reaches_the_open_feed(page: Page, hub: ProcessHub) -> None:
    title = unique("Queue stuck")
    event_id = str(uuid.uuid4())
    publish(hub, {"id": event_id, "level": "critical", "title": title})
    sign_in(page, hub.read_key)
    filter_feed(page, q=title)
    row = page.locator("#events .event", has_text=title)
    expect(row.locator("button.ack")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    with hub.client(hub.read_key) as client:
        assert client.post(f"/v1/events/{event_id}/ack", json={}).status_code == 200
    expect(row.locator(".acked-mark")).to_be_visible()


def test_a_storm_of_1000_errors_is_one_line_whose_count_grows_live(page: Page, hub: ProcessHub) -> None:
    import logging

    from pushlog import Client, PushHandler

    title = unique("Storm")
    sign_in(page, hub.read_key)
    filter_feed(page, q=title)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    client = Client(hub.dsn, linger=0.0)
    logger = logging.getLogger(f"webapp.{title}")
    logger.propagate = False
    logger.addHandler(PushHandler(client=client))
    try:
        logger.error(title)
        assert client.flush(10)
        row = page.locator("#events .event", has_text=title)
        expect(row).to_have_count(1)
        expect(row.locator(".count")).to_have_count(0)  # the first occurrence alone: no count yet
        for _ in range(999):
            logger.error(title)
        assert client.flush(10)
        expect(row.locator(".count")).to_have_text("\u00d71000")  # the same line, updated in place
        expect(page.locator("#events .event")).to_have_count(1)
    finally:
        client.close()


# --- devices -------------------------------------------------------------------------------------


def _register_device(hub: ProcessHub, name: str) -> dict[str, Any]:
    subscription = _fake_subscription()
    with hub.client(hub.read_key) as client:
        response = client.post(
            "/v1/devices",
            json={
                "kind": "webpush",
                "name": name,
                "subscription": subscription,
                "preferences": {"min_level": "warning", "channels": None},
            },
        )
    assert response.status_code == 201, response.text
    device: dict[str, Any] = response.json()
    return device


def _fake_subscription() -> dict[str, Any]:
    """A well-formed Web Push subscription (a real P-256 key and auth secret) on an unused endpoint."""
    import base64
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return {
        "endpoint": f"http://127.0.0.1:9/push/{uuid.uuid4().hex}",
        "keys": {"p256dh": b64(point), "auth": b64(secrets.token_bytes(16))},
    }


def test_device_preferences_are_saved_and_devices_removed(page: Page, hub: ProcessHub) -> None:
    name = unique("Pixel")
    device = _register_device(hub, name)
    sign_in(page, hub.read_key)
    page.click("#nav-devices")
    item = page.locator(f"#devices li.device[data-id='{device['id']}']")
    expect(item).to_contain_text(name)
    item.locator("select[name=min_level]").select_option("error")
    item.locator("input[name=channels]").fill("payments, deploys")
    item.locator("form.prefs button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Preferences saved")

    saved = next(d for d in api_get(hub, "/v1/devices")["devices"] if d["id"] == device["id"])
    assert saved["preferences"] == {"min_level": "error", "channels": ["payments", "deploys"]}
    item = page.locator(f"#devices li.device[data-id='{device['id']}']")
    expect(item.locator("select[name=min_level]")).to_have_value("error")

    page.once("dialog", lambda dialog: dialog.accept())
    item.locator("button.danger").click()
    expect(page.locator(f"#devices li.device[data-id='{device['id']}']")).to_have_count(0)
    assert all(d["id"] != device["id"] for d in api_get(hub, "/v1/devices")["devices"])


def test_enable_push_without_a_reachable_push_service_says_so(
    page: Page, context: BrowserContext, hub: ProcessHub
) -> None:
    """Chromium's push service is Google's, unreachable here: the button must end in a clear message."""
    context.grant_permissions(["notifications"], origin=hub.base_url)
    sign_in(page, hub.read_key)
    page.evaluate("localStorage.setItem('pushlog.subscribeTimeoutMs', '3000')")
    page.click("#nav-devices")
    expect(page.locator("#push-status")).to_contain_text("Push is off")
    page.click("#enable-push")
    status = page.locator("#push-status.push-error")
    expect(status).to_be_visible(timeout=45_000)
    text = status.inner_text()
    assert "push service" in text or "refused the push subscription" in text, text
    expect(page.locator("#enable-push")).to_be_enabled()
    # The service worker did get registered at the root scope.
    scope = page.evaluate("navigator.serviceWorker.getRegistration('/').then(r => r && r.scope)")
    assert scope == f"{hub.base_url}/"


def test_push_status_reads_as_a_sentence_not_a_text_field(page: Page, hub: ProcessHub) -> None:
    sign_in(page, hub.read_key)
    page.click("#nav-devices")
    status = page.locator("#push-status")
    expect(status).to_contain_text("Push is off for this device")
    look = status.evaluate(
        "(e) => { const s = getComputedStyle(e);"
        " return [s.borderTopWidth, s.borderBottomWidth, s.backgroundColor]; }"
    )
    field = page.locator("#enable-push-form select").first.evaluate(
        "(e) => getComputedStyle(e).borderTopWidth"
    )
    assert field != "0px"  # the form's real fields have borders
    assert look == ["0px", "0px", "rgba(0, 0, 0, 0)"], look


# --- dashboard and phone -------------------------------------------------------------------------


def test_dashboard_says_why_events_to_push_were_not_sent(browser: Browser, tmp_path: Path) -> None:
    with start_hub_process(tmp_path / "data") as own:
        publish(
            own,
            *[{"level": "warning", "title": f"slow {i}"} for i in range(3)],
            {"level": "info", "title": "i"},
        )
        ctx = browser.new_context(base_url=own.base_url, viewport={"width": 1180, "height": 820})
        try:
            page = ctx.new_page()
            sign_in(page, own.read_key)
            page.click("#nav-dashboard")
            expect(page.locator("#card-pushed .card-value")).to_have_text("3")
            expect(page.locator("#card-pushed .card-label")).to_have_text("to push (warning +)")
            expect(page.locator("#card-devices .card-value")).to_have_text("0")
            note = page.locator("#push-note")
            expect(note).to_be_visible()
            expect(note).to_have_text(
                "3 events were at push level (WARNING and up), but no device has push enabled, so none was"
                " sent. Turn it on under Devices."
            )
        finally:
            ctx.close()


def test_dashboard_charts_events_per_hour_and_real_delivery_statuses(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    """A hub of its own with one phone on the RFC 8030 stand-in: the dispatcher really sends, the
    "phone" reports some pushes delivered and opened, and the dashboard's numbers match."""
    from tests.support.push_service import PushService

    now = dt.datetime.now(dt.UTC)
    # 24 h of a small app: (hours ago, level, title); 24 feed-only, 12 + 5 + 3 pushed. At most 22 h
    # (+ 49 min) ago, so every event falls in the chart's 24 hourly bins whatever the minute is now.
    plan = (
        [(h, "info", f"Deployed build {h}") for h in range(0, 24, 1) if h % 4 != 3]
        + [(h, "info", "Nightly report sent") for h in (2, 5, 9, 13, 17, 20)]
        + [(h, "warning", "Slow query on orders") for h in (1, 2, 3, 6, 7, 8, 11, 12, 15, 18, 19, 22)]
        + [(h, "error", "Signup webhook timed out") for h in (2, 6, 7, 14, 21)]
        + [(h, "critical", "Payments failing") for h in (6, 7, 19)]
    )
    with (
        PushService() as service,
        start_hub_process(tmp_path / "data") as own,
    ):
        phone = service.subscribe()
        with own.client(own.read_key) as client:
            answer = client.post(
                "/v1/devices",
                json={"kind": "webpush", "name": "Pixel 8", "subscription": phone.subscription()},
            )
            assert answer.status_code == 201, answer.text
        publish(
            own,
            *[
                {
                    "level": level,
                    "title": title,
                    "ts": iso(now - dt.timedelta(hours=ago, minutes=7 * (k % 8))),
                }
                for k, (ago, level, title) in enumerate(plan)
            ],
        )
        pushes = service.wait_for(20, timeout=60)
        for push_number, received in enumerate(pushes[:8]):
            payload = received.payload
            status = "opened" if push_number < 3 else "delivered"
            answer = httpx.post(
                f"{own.base_url}/v1/deliveries/{payload['delivery_id']}/receipt",
                json={"token": payload["receipt"], "status": status},
            )
            assert answer.status_code == 200, answer.text
        # A worker whose queue overflowed during an outage reports what it dropped with its next batch,
        # and what it recovered from its spool (events an earlier process kept on disk).
        with own.client(own.publish_key) as client:
            answer = client.post(
                "/v1/events",
                json={
                    "events": [
                        {"id": str(uuid.uuid4()), "ts": iso(now), "level": "info", "title": "Queue drained"}
                    ],
                    "client": {"dropped": 37, "recovered": 12, "sdk": "pushlog/0.1"},
                },
            )
            assert answer.status_code == 202, answer.text
        # The dispatcher records a batch once all its sends are answered: wait for that, not a guess.
        wait_until(
            lambda: api_get(own, "/v1/stats")["deliveries"]["by_status"]["queued"] == 0,
            timeout=30,
            what="every delivery recorded",
        )

        ctx = browser.new_context(base_url=own.base_url, viewport={"width": 1180, "height": 820})
        try:
            page = ctx.new_page()
            sign_in(page, own.read_key)
            page.click("#nav-dashboard")
            expect(page.locator("#card-events .card-value")).to_have_text(str(len(plan) + 1))
            expect(page.locator("#card-pushed .card-value")).to_have_text("20")
            expect(page.locator("#card-critical .card-value")).to_have_text("3")
            expect(page.locator("#card-devices .card-value")).to_have_text("1")
            expect(page.locator("#card-dropped .card-value")).to_have_text("37")
            expect(page.locator("#dropped")).to_contain_text("Clients dropped 37 events")
            expect(page.locator("#recovered")).to_contain_text("12 events recovered from a client spool")
            expect(page.locator("#dropped li")).to_have_text(
                ["bootstrap publish 37 dropped, 12 recovered in 1 report"]
            )
            pushes_shown = {
                stat: page.locator(f"#pushes [data-stat={stat}] dd").inner_text()
                for stat in ("sent", "delivered", "opened", "acknowledged", "failed")
            }
            assert pushes_shown == {
                "sent": "20",
                "delivered": "8",
                "opened": "3",
                "acknowledged": "0",
                "failed": "0",
            }
            expect(page.locator("#latency")).not_to_have_text("\u2013")  # 8 delivered: a median exists
            device_row = page.locator("#per-device tbody tr")
            expect(device_row).to_have_count(1)
            expect(device_row.locator("td")).to_have_text(["Pixel 8", "20", "8", "0"])

            chart = page.locator("#chart-hourly svg")
            tips = chart.locator("rect.bar title").all_text_contents()
            per_level: dict[str, int] = {}
            for tip in tips:  # "14:00 · 2 warning"
                count, level = tip.split(" · ")[1].split(" ")
                per_level[level] = per_level.get(level, 0) + int(count)
            assert per_level == {"info": 25, "warning": 12, "error": 5, "critical": 3}

            values = dict(
                zip(
                    chart_labels := page.locator("#chart-deliveries svg text.label").all_text_contents(),
                    [int(v) for v in page.locator("#chart-deliveries svg text.value").all_text_contents()],
                    strict=True,
                )
            )
            assert chart_labels == [
                "queued",
                "sent",
                "failed",
                "delivered",
                "opened",
                "acknowledged",
                "held",
                "skipped",
            ]
            assert values == {
                "queued": 0,
                "sent": 12,
                "failed": 0,
                "delivered": 5,
                "opened": 3,
                "acknowledged": 0,
                "held": 0,
                "skipped": 0,
            }
            page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
            page.set_viewport_size(PHONE)
            page.click("#nav-feed")  # back and forth: drawn again for the phone's width
            expect(page.locator("#live")).to_have_attribute("data-state", "live")
            page.click("#nav-dashboard")
            expect(page.locator("#card-dropped .card-value")).to_have_text("37")
            view_box = page.locator("#chart-hourly svg").get_attribute("viewBox") or ""
            assert 280 <= int(view_box.split()[2]) <= PHONE["width"]  # text at its real size
            assert_no_sideways_scroll(page)
            page.screenshot(path=str(screenshots / "dashboard-phone.png"), full_page=True)
            page.set_viewport_size({"width": 1180, "height": 820})

            # The detail view of a pushed event lists its delivery with the device's name and status.
            opened = pushes[0].payload
            page.goto(f"/#/events/{opened['event_id']}")
            row = page.locator("table.deliveries tbody tr")
            expect(row).to_have_count(1)
            expect(row.locator("td").nth(0)).to_have_text("Pixel 8")
            expect(row.locator(".status")).to_have_text("opened")

            # A fully loaded CRITICAL event for the detail view's screenshot, pushed and delivered.
            rich_id = str(uuid.uuid4())
            publish(
                own,
                {
                    "id": rich_id,
                    "level": "critical",
                    "title": "Payments failing",
                    "body": "Stripe answered 502 for 3 charges in 60 s\nlast error: upstream connect timeout",
                    "channel": "payments",
                    "tags": ["billing", "stripe"],
                    "link": "https://status.example.com/incidents/42",
                    "count": 3,
                    "fingerprint": "payments-failing",
                    "metadata": {
                        "customer_id": 1207,
                        "plan": "pro-annual",
                        "region": "eu-west-1",
                        "attempts": 3,
                    },
                    "source": {"logger": "app.billing", "module": "charge:88", "host": "web-2", "pid": 4121},
                },
            )
            rich = next(
                r for r in service.wait_for(21, timeout=30) if r.payload["event_id"] == rich_id
            ).payload
            httpx.post(
                f"{own.base_url}/v1/deliveries/{rich['delivery_id']}/receipt",
                json={"token": rich["receipt"], "status": "delivered"},
            ).raise_for_status()
            page.goto(f"/#/events/{rich_id}")
            expect(page.locator("table.deliveries .status")).to_have_text(["delivered"])
            expect(page.locator("table.metadata")).to_contain_text("eu-west-1")
            page.mouse.move(600, 700)  # no hover highlight in the picture
            page.screenshot(path=str(screenshots / "event-detail.png"), full_page=True)

            page.click("#nav-devices")
            expect(page.locator("#devices li.device")).to_have_count(1)
            expect(page.locator("#devices li.device")).to_contain_text("Pixel 8")
            expect(page.locator("#push-status")).to_contain_text("Push is off")
            page.set_viewport_size(PHONE)
            page.screenshot(path=str(screenshots / "devices-phone.png"), full_page=True)
        finally:
            ctx.close()


def test_feed_fits_a_phone_screen(browser: Browser, hub: ProcessHub, screenshots: Path) -> None:
    run = unique("phone")
    newest_first: list[dict[str, Any]] = [
        {
            "level": "critical",
            "title": "Payments failing",
            "body": "Stripe answered 502 for 3 charges in 60 s",
            "channel": "payments",
            "tags": ["billing"],
            "count": 4,
            "metadata": {"run": run},
        },
        {
            "level": "error",
            "title": "Signup webhook timed out",
            "body": "POST /hooks/signup took 30 s",
            "channel": "signups",
            "metadata": {"run": run},
        },
        {
            "level": "warning",
            "title": "€29 payment",
            "body": "Pro plan · annual",
            "channel": "payments",
            "metadata": {"run": run, "user_id": 1207},
        },
        {
            "level": "info",
            "title": "Deployed 4f2a9c1",
            "body": "commit 4f2a9c1 in 212 s",
            "channel": "deploys",
            "tags": ["prod"],
            "metadata": {"run": run},
        },
    ]
    publish(hub, *reversed(newest_first))  # published oldest first: CRITICAL ends on top
    ctx = browser.new_context(
        base_url=hub.base_url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    try:
        page = ctx.new_page()
        sign_in(page, hub.read_key)
        expect(page.locator("#filter-box")).not_to_have_attribute("open", "")  # folded on a phone
        filter_feed(page, meta=f"run={run}")
        expect(page.locator("#events .event")).to_have_count(4)
        expect(page.locator("#filter-box > summary")).to_have_text("Filters (1)")
        page.click("#filter-box > summary")  # fold the filters again, as a phone user would
        expect(page.locator("#filter-box")).not_to_have_attribute("open", "")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 360px"
        for box in [
            page.locator("#events .event").first.bounding_box(),
            page.locator("#filters").bounding_box(),
        ]:
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5
        times = [page.locator("#events .event time").nth(i).bounding_box() for i in range(4)]
        rights = [round(b["x"] + b["width"]) for b in times if b]
        assert len(rights) == 4 and max(rights) - min(rights) <= 1, rights  # the CRITICAL row's too
        expect(page.locator("#nav-devices")).to_be_visible()
        page.screenshot(path=str(screenshots / "feed-phone.png"))
    finally:
        ctx.close()


def test_feed_screenshot_desktop(page: Page, hub: ProcessHub, screenshots: Path) -> None:
    run = unique("desk")
    now = dt.datetime.now(dt.UTC)
    samples = [
        ("info", "Deployed 4f2a9c1", "commit 4f2a9c1 in 212 s", "deploys", ["prod"], 1, {}),
        ("warning", "€29 payment", "Pro plan · annual", "payments", ["billing"], 1, {"user_id": 1207}),
        ("error", "Signup webhook timed out", "POST /hooks/signup took 30 s", "signups", [], 1, {}),
        ("warning", "Slow query", "SELECT … FROM orders took 4.2 s", "db", ["perf"], 7, {}),
        (
            "critical",
            "Payments failing",
            "Stripe answered 502 for 3 charges in 60 s",
            "payments",
            ["billing"],
            4,
            {},
        ),
    ]
    publish(
        hub,
        *[
            {
                "level": lvl,
                "title": t,
                "body": b,
                "channel": c,
                "tags": tags,
                "count": n,
                "metadata": {"run": run, **m},
                "ts": iso(now - dt.timedelta(minutes=9 - 2 * i)),
            }
            for i, (lvl, t, b, c, tags, n, m) in enumerate(samples)
        ],
    )
    sign_in(page, hub.read_key)
    filter_feed(page, meta=f"run={run}")
    expect(page.locator("#events .event")).to_have_count(5)
    page.fill("#filter-meta", "")
    page.locator("#filter-meta").blur()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.screenshot(path=str(screenshots / "feed-desktop.png"))


def test_static_files_are_served_with_the_right_types(hub: ProcessHub) -> None:
    with httpx.Client(base_url=hub.base_url) as client:
        for path, kind in [
            ("/", "text/html"),
            ("/app.js", "javascript"),
            ("/sw.js", "javascript"),
            ("/style.css", "text/css"),
            ("/icon.svg", "image/svg+xml"),
            ("/icon-192.png", "image/png"),
            ("/badge-96.png", "image/png"),
            ("/manifest.webmanifest", "application/manifest+json"),
        ]:
            response = client.get(path)
            assert response.status_code == 200, path
            assert kind in response.headers["content-type"], (path, response.headers["content-type"])


def test_the_web_app_works_under_a_path_prefix(browser: Browser, tmp_path: Path) -> None:
    """Behind a reverse proxy at /pushlog/ (here: the real hub app mounted under that path)."""
    import contextlib
    import json
    import threading
    from collections.abc import AsyncIterator

    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from tests.support.hub_server import free_port, wait_until

    from pushlog.hub.app import create_app
    from pushlog.hub.config import HubConfig

    port = free_port()
    config = HubConfig(data_dir=tmp_path / "data", port=port, public_url=f"http://127.0.0.1:{port}/pushlog")
    hub_app = create_app(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with hub_app.router.lifespan_context(hub_app):
            yield

    outer = Starlette(routes=[Mount("/pushlog", app=hub_app)], lifespan=lifespan)
    server = uvicorn.Server(uvicorn.Config(outer, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/pushlog"
    try:
        wait_until(
            lambda: httpx.get(f"{base}/healthz").status_code == 200,
            timeout=30,
            what="the mounted hub",
            retry_on=(httpx.TransportError,),  # uvicorn not listening yet
        )
        creds = json.loads((tmp_path / "data" / "credentials.json").read_text())
        ctx = browser.new_context()
        try:
            page = ctx.new_page()
            page.goto(f"{base}/")
            page.fill("#key", creds["read"])
            page.click("#sign-in-button")
            expect(page.locator("#live")).to_have_attribute("data-state", "live")
            answer = httpx.post(
                f"{base}/v1/events",
                headers={"Authorization": f"Bearer {creds['publish']}"},
                json={"events": [{"id": str(uuid.uuid4()), "ts": iso(dt.datetime.now(dt.UTC)),
                                  "level": "warning", "title": "under a prefix"}]},
            )  # fmt: skip
            assert answer.status_code == 202, answer.text
            expect(page.locator("#events .event-title")).to_have_text(["under a prefix"])
            scope = page.evaluate(
                "navigator.serviceWorker.register('sw.js', {scope: './'}).then(r => r.scope)"
            )
            assert scope == f"{base}/"
        finally:
            ctx.close()
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# --- heartbeats ----------------------------------------------------------------------------------


def test_heartbeats_view_lists_status_last_check_in_period_grace_and_deadline(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    """A hub on a manual clock: check-ins over the last day, then the monitor turns the nightly backup
    overdue; the view (at 360 px) shows each heartbeat as the API describes it, overdue first."""
    from tests.support.hub_server import start_hub_thread
    from tests.support.hub_server import wait_until as wait_for

    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = utc_clock(real_now - dt.timedelta(hours=26))
    own = start_hub_thread(tmp_path / "data", clock=clock)

    def at(moment: dt.datetime) -> None:
        clock.advance((moment - clock()).total_seconds())

    def check_in(name: str, **body: Any) -> None:
        with own.client(own.publish_key) as client:
            answer = client.post(f"/v1/heartbeats/{name}", json=body)
        assert answer.status_code == 200, answer.text

    try:
        check_in("nightly-backup", every="1d", grace="1h")  # due 1 h before now: goes overdue
        at(real_now - dt.timedelta(hours=5))
        check_in("report-mailer", every="6h", grace="30m")
        at(real_now - dt.timedelta(hours=3))
        check_in("deploy-hook")  # no period: a record of runs only
        at(real_now - dt.timedelta(minutes=20))
        check_in("db-vacuum", every="1h", grace="10m")
        at(real_now - dt.timedelta(minutes=10))
        check_in("report-mailer", status="failure", exit_code=2, message="SMTP timeout after 30 s")
        at(real_now - dt.timedelta(minutes=4))
        check_in("invoice-sync", every="15m", grace="5m")
        at(real_now)
        monitor = own.app.state.heartbeat_monitor
        monitor.request_check()
        with own.client(own.read_key) as client:
            wait_for(
                lambda: client.get("/v1/heartbeats/nightly-backup").json()["status"] == "overdue",
                timeout=10,
                what="the monitor to mark nightly-backup overdue",
            )

        ctx = browser.new_context(
            base_url=own.base_url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        ctx.clock.set_fixed_time(real_now)  # the browser's "now" is the hub's: relative times are exact
        try:
            page = ctx.new_page()
            sign_in(page, own.read_key)
            page.click("#nav-heartbeats")
            items = page.locator("#heartbeat-list li.heartbeat")
            expect(items).to_have_count(5)
            assert [items.nth(i).get_attribute("data-name") for i in range(5)] == [
                "nightly-backup",
                "report-mailer",  # on time, but its last run failed: never a green "ok"
                "db-vacuum",
                "invoice-sync",
                "deploy-hook",
            ]
            expect(page.locator("#heartbeats-summary")).to_have_text("5 heartbeats, 1 overdue.")
            expect(items.locator(".hb-status")).to_have_text(["overdue", "failed", "ok", "ok", "unmonitored"])
            colour = "(e) => getComputedStyle(e).backgroundColor"
            badges = [items.nth(i).locator(".hb-status").evaluate(colour) for i in range(3)]
            assert badges[1] == badges[0] != badges[2], badges  # failed looks like overdue, not like ok

            def facts(name: str) -> dict[str, str]:
                item = page.locator(f'li.heartbeat[data-name="{name}"]')
                labels = item.locator(".heartbeat-facts dt").all_inner_texts()
                values = item.locator(".heartbeat-facts dd").all_inner_texts()
                return dict(zip([label.lower() for label in labels], values, strict=True))

            nightly = facts("nightly-backup")
            assert (nightly["period"], nightly["grace"]) == ("1d", "1h")
            assert nightly["last check-in"] == page.evaluate(
                "(t) => new Date(t).toLocaleString()", iso(real_now - dt.timedelta(hours=26))
            )  # older than a day: the date itself
            assert nightly["next deadline"] == "60 min late"
            sync = facts("invoice-sync")
            assert sync == {
                "last check-in": "4 min ago",
                "period": "15m",
                "grace": "5m",
                "next deadline": "in 16 min",
            }
            mailer = facts("report-mailer")
            assert (mailer["period"], mailer["grace"], mailer["last check-in"]) == ("6h", "30m", "10 min ago")
            mailer_item = page.locator('li.heartbeat[data-name="report-mailer"]')
            expect(mailer_item).to_contain_text("last run failed (exit 2)")
            expect(mailer_item.locator(".heartbeat-message")).to_have_text("SMTP timeout after 30 s")
            hook = facts("deploy-hook")
            assert (hook["period"], hook["grace"], hook["next deadline"]) == ("\u2013", "\u2013", "\u2013")
            assert_no_sideways_scroll(page)
            page.screenshot(path=str(screenshots / "heartbeats-phone.png"), full_page=True)
        finally:
            ctx.close()
    finally:
        own.stop()


def test_heartbeats_view_without_heartbeats_says_how_to_add_one(page: Page, hub: ProcessHub) -> None:
    if api_get(hub, "/v1/heartbeats")["heartbeats"]:  # pragma: no cover - the module hub has none
        pytest.fail("the shared hub unexpectedly has heartbeats")
    sign_in(page, hub.read_key)
    page.click("#nav-heartbeats")
    expect(page.locator("#nav-heartbeats")).to_have_class(re.compile(r"\bactive\b"))
    empty = page.locator("#heartbeats-empty")
    expect(empty).to_contain_text("pushlog run --name NAME --every 1h -- CMD")
    assert "`" not in empty.inner_text()  # commands are set as code, not in literal backticks
    expect(empty.locator("code").first).to_have_text("pushlog run --name NAME --every 1h -- CMD")
