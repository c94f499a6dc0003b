"""The web app's pure JavaScript pieces, run as ES modules in a real Chromium, served by the real hub.

The event-stream parser (chunk boundaries, CRLF split across chunks, comments, multi-line data, ids),
the metadata filter syntax, the dashboard's bins and push note, heartbeat periods, deadlines and badges,
the feed's log-time order, level names, link sanitising, the subscribe timeout race and base64url
decoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright
from tests.support.chromium import launch_chromium
from tests.support.hub_server import start_hub_process

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    data: Path = tmp_path_factory.mktemp("webapp-js") / "data"
    with start_hub_process(data, args=()) as hub, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            pg = browser.new_page()
            pg.goto(f"{hub.base_url}/")
            yield pg
        finally:
            browser.close()


def run(page: Page, module: str, body: str) -> Any:
    """Import ``/js/<module>`` as ``m`` and evaluate ``body`` (an async function body) with it."""
    return page.evaluate(f"async () => {{ const m = await import('/js/{module}'); {body} }}")


SSE_TEXT = 'id: 5\nevent: event\ndata: {"a": 1}\n\n: keepalive\n\ndata: line one\ndata: line two\n\n'


def test_event_stream_parser_gives_the_same_events_whatever_the_chunking(page: Page) -> None:
    results = run(
        page,
        "sse.js",
        f"""
        const text = {SSE_TEXT!r};
        const outcomes = [];
        for (let cut = 0; cut <= text.length; cut++) {{
          const got = [];
          const p = new m.EventStreamParser((e) => got.push(e));
          p.feed(text.slice(0, cut));
          p.feed(text.slice(cut));
          outcomes.push(JSON.stringify(got));
        }}
        return [...new Set(outcomes)];
        """,
    )
    assert len(results) == 1, results
    events = json.loads(results[0])
    assert events == [
        {"type": "event", "data": '{"a": 1}', "id": "5"},
        {"type": "message", "data": "line one\nline two", "id": "5"},
    ]


def test_event_stream_parser_handles_crlf_split_between_chunks_and_retry(page: Page) -> None:
    got = run(
        page,
        "sse.js",
        """
        const got = [];
        const p = new m.EventStreamParser((e) => got.push(e));
        const chunks = ["retry: 2500\\r\\nid: 7\\r", "\\ndata: x\\r", "\\n\\r", "\\n", "data:nospace\\r\\r"];
        for (const chunk of chunks) p.feed(chunk);
        const held = got.length;  // the last "\\r" may be half of "\\r\\n": held until more arrives
        p.feed(": keepalive\\n");
        return {held, got, retry: p.retry, last: p.lastEventId};
        """,
    )
    assert got == {
        "held": 1,
        "got": [
            {"type": "message", "data": "x", "id": "7"},
            {"type": "message", "data": "nospace", "id": "7"},
        ],
        "retry": 2500,
        "last": "7",
    }


def test_metadata_filters_parse_and_reject_pairs_without_equals(page: Page) -> None:
    got = run(
        page,
        "api.js",
        """
        const ok = m.parseMeta("user_id=42  meta.plan=pro, q=a=b");
        let error = null;
        try { m.parseMeta("user_id=42 oops"); } catch (e) { error = e.message; }
        const params = m.filterParams({level: "error", channel: " pay ", tag: "", q: "x", meta: "env=prod"});
        const query = m.query({a: "1", b: "", c: null, d: ["x", "y"]});
        return {ok, error, params, query};
        """,
    )
    assert got["ok"] == [["user_id", "42"], ["plan", "pro"], ["q", "a=b"]]
    assert "oops" in got["error"] and "key=value" in got["error"]
    assert got["params"] == {"level": "error", "channel": "pay", "q": "x", "meta.env": "prod"}
    assert got["query"] == "?a=1&d=x&d=y"


def test_dashboard_bins_come_from_the_stats_buckets(page: Page) -> None:
    got = run(
        page,
        "dashboard.js",
        """
        const buckets = [
          {start: "2026-11-20T13:00:00Z", debug: 2, info: 1, warning: 0, error: 0, critical: 0},
          {start: "2026-11-20T14:00:00Z", debug: 0, info: 0, warning: 3, error: 1, critical: 1},
        ];
        const bins = m.binsFromStats(buckets);
        return {since: m.chartSince(Date.parse("2026-11-21T12:30:00Z")),
                first: new Date(bins[0].start).toISOString(), counts: bins.map((b) => b.counts),
                status: m.statusCounts({sent: 2, delivered: 1, later: 4}),
                latency: [null, 0.25, 3.04, 4.2, 600].map(m.formatLatency),
                max: [m.niceMax(0), m.niceMax(3), m.niceMax(9), m.niceMax(11), m.niceMax(61)]};
        """,
    )
    assert got["since"] == "2026-11-20T13:00:00.000Z"  # 24 whole hours, the current one last
    assert got["first"] == "2026-11-20T13:00:00.000Z"
    assert got["counts"] == [
        {"info": 1, "warning": 0, "error": 0, "critical": 0},  # debug is not charted
        {"info": 0, "warning": 3, "error": 1, "critical": 1},
    ]
    assert got["status"] == {
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "delivered": 1,
        "opened": 0,
        "acknowledged": 0,
        "held": 0,
        "skipped": 0,
        "later": 4,
    }
    assert got["latency"] == ["\u2013", "250 ms", "3 s", "4.2 s", "10 min"]
    assert got["max"] == [2, 4, 10, 20, 80]


def test_csv_export_quotes_what_needs_quoting(page: Page) -> None:
    got = run(
        page,
        "analytics.js",
        r"""return m.toCsv(["name", "n"],
                           [["plain", 1], ["a,b", 2], ['say "hi"', 3], ["two\nlines", null]]);""",
    )
    assert got == 'name,n\r\nplain,1\r\n"a,b",2\r\n"say ""hi""",3\r\n"two\nlines",\r\n'


def test_the_range_picker_windows_end_with_the_current_bucket(page: Page) -> None:
    got = run(
        page,
        "dashboard.js",
        """const now = Date.parse("2026-11-21T12:34:00Z");
        return [m.chartSince(now, "24h"), m.chartSince(now, "7d"), m.chartSince(now, "30d")];""",
    )
    assert got == ["2026-11-20T13:00:00.000Z", "2026-11-15T00:00:00.000Z", "2026-10-23T00:00:00.000Z"]


def test_heartbeat_periods_deadlines_and_order(page: Page) -> None:
    got = run(
        page,
        "heartbeats.js",
        """
        const now = Date.parse("2026-11-21T12:00:00Z");
        return {
          periods: [86400, 5400, 90, 3600 * 25 + 61, 0, null].map(m.formatPeriod),
          deadlines: ["2026-11-21T12:05:00Z", "2026-11-21T11:48:00Z", "2026-11-21T12:00:30Z",
                      "2026-11-23T12:00:00Z", null].map((t) => m.deadlineText(t, now)),
          order: m.sortHeartbeats([{name: "b", status: "up"}, {name: "z", status: "unmonitored"},
                                   {name: "c", status: "overdue"}, {name: "a", status: "up"}])
                  .map((b) => b.name),
        };
        """,
    )
    assert got["periods"] == ["1d", "1h30m", "1m30s", "1d1h", "0s", "\u2013"]
    assert got["deadlines"] == ["in 5 min", "12 min late", "in 30 s", "in 2 d", "\u2013"]
    assert got["order"] == ["c", "a", "b", "z"]


def test_a_resolved_alert_reads_like_its_replaced_push(page: Page) -> None:
    got = run(
        page,
        "dom.js",
        """
        return [
          {resolved_at: "2026-11-21T12:14:00Z", resolved_after_s: 840},
          {resolved_at: "2026-11-21T12:14:00Z", resolved_after_s: 25 * 3600},
          {resolved_at: "2026-11-21T12:14:00Z", resolved_after_s: 45},
          {resolved_at: "2026-11-21T12:14:00Z"},
          {resolved_at: null, resolved_after_s: null},
        ].map(m.resolvedNote);
        """,
    )
    assert got == ["resolved after 14 min", "resolved after 25 h", "resolved after 45 s", "resolved", None]


def test_levels_links_and_relative_times(page: Page) -> None:
    got = run(
        page,
        "dom.js",
        """
        return {
          levels: ["WARN", "fatal", 35, 5, 99, "45", "critical", null].map(m.levelName),
          links: ["javascript:alert(1)", "https://example.com/a?b=1", "data:text/html,x", 42].map(m.safeUrl),
          times: [m.relativeTime("2026-11-21T12:00:00Z", Date.parse("2026-11-21T12:00:30Z")),
                  m.relativeTime("2026-11-21T12:00:00Z", Date.parse("2026-11-21T12:20:00Z")),
                  m.relativeTime("2026-11-21T12:00:00Z", Date.parse("2026-11-21T15:00:00Z"))],
        };
        """,
    )
    assert got["levels"] == [
        "warning",
        "critical",
        "warning",
        "debug",
        "critical",
        "error",
        "critical",
        "info",
    ]
    assert got["links"] == [None, "https://example.com/a?b=1", None, None]
    assert got["times"] == ["just now", "20 min ago", "3 h ago"]


def test_subscribe_timeout_race_and_vapid_key_decoding(page: Page) -> None:
    got = run(
        page,
        "push.js",
        """
        let timedOut = null;
        try { await m.withTimeout(new Promise(() => {}), 50, "push service did not answer"); }
        catch (e) { timedOut = {timeout: e instanceof m.TimeoutError, message: e.message}; }
        const quick = await m.withTimeout(Promise.resolve(7), 5000, "never");
        const bytes = Array.from(m.base64UrlToBytes("-_8"));
        return {timedOut, quick, bytes};
        """,
    )
    assert got == {
        "timedOut": {"timeout": True, "message": "push service did not answer"},
        "quick": 7,
        "bytes": [251, 255],
    }


def test_feed_order_key_heartbeat_display_status_and_the_dashboard_push_note(page: Page) -> None:
    feed = run(
        page,
        "feed.js",
        """
        const rows = [
          {id: "warning", ts: "2026-11-21T12:00:01Z", seq: 1},
          {id: "info", ts: "2026-11-21T12:00:00Z", seq: 2},   // logged first, arrived later
          {id: "same-time-later", ts: "2026-11-21T12:00:01Z", seq: 3},
          {id: "no-time", ts: "not a time", seq: 4},
        ];
        const keys = rows.map((e) => [e.id, m.orderKey(e)]);
        keys.sort((a, b) => (m.isOlder(a[1], b[1]) ? 1 : m.isOlder(b[1], a[1]) ? -1 : 0));
        return keys.map((k) => k[0]);
        """,
    )
    assert feed == ["same-time-later", "warning", "info", "no-time"]
    beats = run(
        page,
        "heartbeats.js",
        """
        const failedLast = {name: "m", status: "up", last_success_at: "2026-11-21T10:00:00Z",
                            last_failure_at: "2026-11-21T11:00:00Z"};
        const recovered = {name: "r", status: "up", last_success_at: "2026-11-21T12:00:00Z",
                           last_failure_at: "2026-11-21T11:00:00Z"};
        return [m.displayStatus(failedLast), m.displayStatus(recovered),
                m.displayStatus({name: "o", status: "overdue", last_failure_at: "x"}),
                m.sortHeartbeats([recovered, failedLast, {name: "o", status: "overdue"}]).map((b) => b.name)];
        """,
    )
    assert beats == ["failed", "up", "overdue", ["o", "m", "r"]]
    notes = run(
        page,
        "dashboard.js",
        """
        const text = (n) => (n ? n.textContent : null);
        return [text(m.pushNote(7, 0, 0)), text(m.pushNote(1, 2, 0)), text(m.pushNote(7, 1, 3)),
                text(m.pushNote(0, 0, 0))];
        """,
    )
    assert notes[0] == (
        "7 events were at push level (WARNING and up), but no device has push enabled, so none was sent."
        " Turn it on under Devices."
    )
    assert notes[1] is not None and notes[1].startswith("1 event was at push level (WARNING and up), but")
    assert "minimum level and channels" in notes[1]
    assert notes[2:] == [None, None]


def test_a_rules_durations_are_written_back_exactly_and_a_403_asks_for_an_admin_key(page: Page) -> None:
    got = run(
        page,
        "rule-form.js",
        """
        return {
          durations: [86400, 5400, 90, 3600 * 25 + 61, 0.5, 600, null].map(m.durationText),
          refused: m.changeError({status: 403, message: "needs admin"}),
          other: m.changeError({status: 422, message: "count: must be at least 2"}),
        };
        """,
    )
    # Unlike the heartbeats' two-part periods, nothing is rounded away: the edit form saves what it shows.
    assert got["durations"] == ["1d", "1h30m", "1m30s", "1d1h1m1s", "0.5s", "10m", ""]
    assert got["refused"] == "Changing rules needs an admin key: sign in with one."
    assert got["other"] == "count: must be at least 2"
