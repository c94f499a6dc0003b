"""Incidents in the web app's feed, in a real Chromium against a real hub.

Lines sharing a fingerprint, and lines sharing a trace id, are each shown as one entry: the newest
line and a badge "incident: N lines, first HH:MM, last HH:MM" that unfolds the other lines; an
unrelated line stays an entry of its own, and a line of the incident arriving live joins its entry.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright (tests/support/chromium.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.support.chromium import sign_in, watched_page
from tests.support.hub_server import publish, start_hub_thread

pytestmark = [pytest.mark.browser]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def hub_time(moment: dt.datetime) -> str:
    """How the hub writes a time back (hub/_clock.format_time)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clock(moment: dt.datetime) -> str:
    """What the badge shows for a time in a browser on UTC: "10:02" today, "1 Dec 23:58" before."""
    time = moment.strftime("%H:%M")
    return time if moment.date() == dt.datetime.now(dt.UTC).date() else f"{moment.day} {moment:%b} {time}"


def visible_titles(page: Page) -> list[str]:
    return page.locator("#events .event-title:visible").all_inner_texts()


def test_lines_of_one_incident_are_one_entry_with_count_first_and_last(
    browser: Browser, tmp_path: Path
) -> None:
    hub = start_hub_thread(tmp_path / "data")
    context = browser.new_context(
        base_url=hub.base_url, viewport={"width": 360, "height": 760}, timezone_id="UTC", locale="en-GB"
    )
    context.set_default_timeout(15_000)
    try:
        run = uuid.uuid4().hex[:8]
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ago = [now - dt.timedelta(minutes=m) for m in range(13)]
        fingerprint = f"db-{run}"
        publish(
            hub,
            {"level": "error", "title": f"{run} db timeout", "fingerprint": fingerprint, "ts": iso(ago[12])},
            {
                "level": "error",
                "title": f"{run} db timeout",
                "fingerprint": fingerprint,
                "ts": iso(ago[8]),
                "count": 2,
            },
            {"level": "error", "title": f"{run} db timeout", "fingerprint": fingerprint, "ts": iso(ago[4])},
            {"level": "info", "title": f"{run} deployed", "fingerprint": f"dep-{run}", "ts": iso(ago[6])},
            {
                "level": "error",
                "title": f"{run} checkout failed",
                "fingerprint": f"co-{run}",
                "ts": iso(ago[10]),
                "metadata": {"trace_id": f"t-{run}"},
            },
            {
                "level": "warning",
                "title": f"{run} card declined",
                "fingerprint": f"cd-{run}",
                "ts": iso(ago[9]),
                "metadata": {"trace_id": f"t-{run}"},
            },
        )
        page, errors = watched_page(context)
        sign_in(page, hub.read_key)

        # Three entries, newest first: the db incident (its newest line), the unrelated line, the trace.
        expect(page.locator("#events > li")).to_have_count(3)
        assert visible_titles(page) == [f"{run} db timeout", f"{run} deployed", f"{run} card declined"]
        db = page.locator("#events > li.incident", has_text=f"{run} db timeout")
        badge = db.locator(".incident-toggle")
        expect(badge).to_have_text(f"incident: 3 lines, first {clock(ago[12])}, last {clock(ago[4])}")
        expect(badge).to_have_attribute(
            "title", f"4 occurrences from {hub_time(ago[12])} to {hub_time(ago[4])}"
        )
        expect(badge).to_have_attribute("aria-expanded", "false")
        trace = page.locator("#events > li.incident", has_text=f"{run} card declined")
        expect(trace.locator(".incident-toggle")).to_have_text(
            f"incident: 2 lines, first {clock(ago[10])}, last {clock(ago[9])}"
        )
        deployed = page.locator("#events > li", has_text=f"{run} deployed")
        expect(deployed).to_have_class("event level-info")
        expect(deployed.locator(".incident-toggle")).to_have_count(0)

        # The badge unfolds the incident's lines (newest first), and folds them again.
        badge.click()
        expect(badge).to_have_attribute("aria-expanded", "true")
        expect(db.locator(".event-title:visible")).to_have_count(3)
        times = db.locator(".event:visible time").evaluate_all(
            "els => els.map((e) => e.getAttribute('datetime'))"
        )
        assert times == [hub_time(ago[4]), hub_time(ago[8]), hub_time(ago[12])]
        expect(db.locator(".event:visible .count")).to_have_text(["\u00d72"])
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the unfolded incident scrolls sideways by {overflow}px on a phone"
        badge.click()
        expect(db.locator(".event-title:visible")).to_have_count(1)

        # A new line of the incident arrives live: it heads the same entry, which counts it.
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        publish(
            hub,
            {
                "level": "error",
                "title": f"{run} db timeout again",
                "fingerprint": fingerprint,
                "ts": iso(ago[1]),
            },
        )
        expect(badge).to_have_text(f"incident: 4 lines, first {clock(ago[12])}, last {clock(ago[1])}")
        expect(page.locator("#events > li")).to_have_count(3)
        assert visible_titles(page) == [f"{run} db timeout again", f"{run} deployed", f"{run} card declined"]
        # ... and a live line alone stays alone.
        publish(
            hub, {"level": "info", "title": f"{run} cache warmed", "fingerprint": f"cw-{run}", "ts": iso(now)}
        )
        expect(page.locator("#events > li")).to_have_count(4)
        expect(page.locator("#events > li").first).to_have_class("event level-info new")
        # A second line like it makes the two an incident, in place of the lone line.
        publish(
            hub, {"level": "info", "title": f"{run} cache warmed", "fingerprint": f"cw-{run}", "ts": iso(now)}
        )
        cache = page.locator("#events > li.incident", has_text=f"{run} cache warmed")
        expect(cache.locator(".incident-toggle")).to_have_text(
            f"incident: 2 lines, first {clock(now)}, last {clock(now)}"
        )
        expect(page.locator("#events > li")).to_have_count(4)
        assert errors == []
    finally:
        context.close()
        hub.stop()
