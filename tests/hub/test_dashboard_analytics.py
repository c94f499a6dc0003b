"""The dashboard's analytics in a real Chromium (hub/static/js/analytics.js): what a person sees in the
noisiest, channels, funnel, transports, acknowledgement and per-notification/per-template tables, the
range picker, a CSV export, and that it all fits a phone. Screenshots at phone and desktop widths for
docs/webapp.md."""

from __future__ import annotations

import datetime as _dt
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from tests.hub.delivery.outbox_support import FakeSender
from tests.support.chromium import sign_in
from tests.support.devices import subscription
from tests.support.hub_server import start_hub_thread, wait_until

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DOC_SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def _event(
    title: str, level: str, channel: str, fingerprint: str | None = None, **extra: Any
) -> dict[str, Any]:
    ts = (_dt.datetime.now(_dt.UTC) - _dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return {
        "id": str(uuid.uuid4()),
        "ts": ts,
        "title": title,
        "level": level,
        "channel": channel,
        "fingerprint": fingerprint,
        **extra,
    }


def test_dashboard_shows_top_lists_funnel_transports_and_exports_csv(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    sender = FakeSender()
    with start_hub_thread(tmp_path / "hub", senders={"webpush": sender}, allow_private_endpoints=True) as hub:
        with hub.client(hub.read_key) as client:
            device = client.post(
                "/v1/devices",
                json={
                    "kind": "webpush",
                    "name": "Pixel 8",
                    "subscription": subscription("http://127.0.0.1:9/push/1"),
                },
            ).json()
            client.put(
                f"/v1/devices/{device['id']}/preferences", json={"categories": {"marketing": "off"}}
            ).raise_for_status()
        events = [
            _event("Card declined", "error", "payments", "card-declined", count=9),
            _event("Card declined", "error", "payments", "card-declined", count=3),
            _event("Slow query on orders", "warning", "db", "slow-orders", count=4),
            _event("Deployed api", "info", "deploys", "deploy"),
            _event("Spring sale", "warning", "marketing", "sale"),
            _event("Payments failing", "critical", "payments"),
        ]
        with hub.client(hub.publish_key) as client:
            client.post("/v1/events", json={"events": events}).raise_for_status()
        wait_until(lambda: len(sender.sent) == 4, timeout=10, what="the four pushes")  # not the marketing one
        with hub.client(hub.admin_key) as client:  # an app user's notification from a template
            template = {"default_locale": "en", "locales": {"en": {"title": "Order shipped"}}}
            client.put("/v1/templates/shipped", json=template).raise_for_status()
            client.put("/v1/users/anna", json={"plan": "pro"}).raise_for_status()
            client.put("/v1/users/bob", json={"plan": "pro"}).raise_for_status()  # no device
            client.post(
                "/v1/devices",
                json={
                    "kind": "webpush",
                    "subscription": subscription("http://127.0.0.1:9/push/2"),
                    "user_id": "anna",
                },
            ).raise_for_status()
            notification = client.post(
                "/v1/notifications", json={"audience": {"users": ["anna", "bob"]}, "template": "shipped"}
            ).json()
        wait_until(lambda: len(sender.sent) == 5, timeout=10, what="the notification's push")
        for _, message in sender.sent[:2]:
            httpx.post(
                f"{hub.base_url}/v1/deliveries/{message.delivery_id}/receipt",
                json={"token": message.payload["receipt"], "status": "delivered"},
            ).raise_for_status()
        with hub.client(hub.read_key) as client:
            client.post(f"/v1/events/{events[-1]['id']}/ack").raise_for_status()

        page = browser.new_page(
            base_url=hub.base_url, viewport={"width": 1180, "height": 900}, accept_downloads=True
        )
        sign_in(page, hub.read_key)
        page.click("#nav-dashboard")
        noisiest = page.locator("#noisiest tbody tr")
        expect(noisiest.first.locator("td")).to_have_text(
            ["card-declined", "Card declined", "payments", "error", "2", "12"]
        )
        expect(noisiest).to_have_count(4)  # the CRITICAL has no fingerprint
        channels = {
            r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
            for r in page.locator("#channels tbody tr").all()
        }
        assert channels == {"payments": "3", "db": "1", "deploys": "1", "marketing": "1"}
        funnel = {
            r.locator("td").nth(0).inner_text(): [c.inner_text() for c in r.locator("td").all()[1:]]
            for r in page.locator("#funnel tbody tr").all()
        }
        assert funnel["targeted"] == ["6", ""]
        assert funnel["skipped"] == ["1", "category_off 1"]
        assert funnel["sent"][0] == "5"
        assert funnel["delivered"][0] == "2"
        expect(page.locator("#transports tbody tr td").first).to_have_text("webpush")
        expect(page.locator("#transports tbody tr td").nth(3)).to_have_text("100 %")
        expect(page.locator("#acknowledgement tbody tr td").nth(1)).to_have_text("1")  # 1 of 1 acknowledged
        # per notification and per template: targeted, skipped, sent, delivered, opened, failed, ...
        expect(page.locator("#notification-funnels tbody tr td")).to_have_text(
            [notification["id"], "shipped", "sent", "2", "1", "1", "0", "0", "0", "0 %", "no_device 1"]
        )
        expect(page.locator("#template-funnels tbody tr td")).to_have_text(
            ["shipped", "1", "2", "1", "1", "0", "0", "0", "0 %", "no_device 1"]
        )
        # open rate per hour (the pushes may straddle an hour boundary): 5 sent, 2 delivered, none opened
        opens = [
            [c.inner_text() for c in r.locator("td").all()[1:]]
            for r in page.locator("#open-rate tbody tr").all()
        ]
        assert [sum(int(row[i]) for row in opens) for i in range(3)] == [5, 2, 0]
        assert {row[3] for row in opens} == {"0 %"}
        # held and skipped join the status chart
        labels = page.locator("#chart-deliveries svg text.label").all_text_contents()
        assert labels[-2:] == ["held", "skipped"]

        with page.expect_download() as download_info:
            page.click("#noisiest button.csv")
        csv_path = download_info.value.path()
        lines = Path(csv_path).read_text().splitlines()
        assert lines[0] == "fingerprint,title,channel,level,lines,occurrences"
        assert lines[1] == "card-declined,Card declined,payments,error,2,12"
        with page.expect_download() as download_info:
            page.click("#template-funnels button.csv")
        lines = Path(download_info.value.path()).read_text().splitlines()
        assert lines == [
            "template,notifications,targeted,skipped,sent,delivered,opened,failed,open rate,reasons",
            "shipped,1,2,1,1,0,0,0,0 %,no_device 1",
        ]
        page.screenshot(path=str(screenshots / "dashboard-analytics.png"), full_page=True)

        page.select_option("#range", "7d")
        expect(page.locator("#chart-hourly figcaption")).to_contain_text("Events per day, last 7 days")
        expect(page.locator("#card-events .card-label")).to_have_text("events, 7d")
        expect(page.locator("#noisiest tbody tr")).to_have_count(4)

        page.set_viewport_size(PHONE)
        page.select_option("#range", "24h")
        expect(page.locator("#chart-hourly figcaption")).to_contain_text("Events per hour, last 24 h")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the dashboard scrolls sideways on a phone by {overflow}px"
        page.screenshot(path=str(screenshots / "dashboard-analytics-phone.png"), full_page=True)
        page.close()
