"""The interactive ``pushlog tail`` (Textual), driven by Textual's pilot against the real hub."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable

import httpx
from rich.text import Text
from tests.cli.pushlog_cli import cli_env, publish_events, real_hub
from tests.support.hub_server import ThreadHub
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from pushlog.cli._common import HubAccess
from pushlog.cli._feed import AsyncHubFeed, FeedFilter
from pushlog.cli._tail_app import DetailScreen, HeartbeatsScreen, HelpScreen, RulesScreen, TailApp

__all__ = ["real_hub"]


def _app(hub: ThreadHub, **kwargs: object) -> TailApp:
    return TailApp(AsyncHubFeed(HubAccess(hub.base_url, hub.read_key)), **kwargs)  # type: ignore[arg-type]


async def until(
    pilot: Pilot[object], predicate: Callable[[], bool], what: str, timeout: float = 15.0
) -> None:
    """Let the app run until ``predicate`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def titles(app: TailApp) -> list[str]:
    table = app.query_one("#feed", DataTable)
    return [str(table.get_row_at(i)[2]).split("  x")[0] for i in range(table.row_count)]


def status(app: TailApp) -> str:
    return str(app.query_one("#status", Static).render())


def screen_lines(app: TailApp) -> list[str]:
    """What the terminal shows, row by row: the screen as its compositor draws it (overlaps resolved),
    so a widget hidden under another is missing here even when its own text is right."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def row_of(lines: list[str], needle: str) -> int:
    found = [n for n, line in enumerate(lines) if needle in line]
    assert found, f"{needle!r} is not on screen:\n" + "\n".join(lines)
    return found[0]


async def test_newest_first_then_live(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "one", "level": "info"},
        {"title": "two", "level": "warning"},
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["two", "one"] and app.live, "history and live stream")
        publish_events(real_hub.base_url, real_hub.publish_key, {"title": "three", "level": "error"})
        await until(pilot, lambda: titles(app) == ["three", "two", "one"], "the live event on top")
        assert "● live" in status(app) and "3 events" in status(app)


async def test_the_screen_shows_header_filter_feed_status_and_footer_in_order(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "payments down", "level": "critical"},
        {"title": "signup", "level": "info"},
    )
    app = _app(real_hub)
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: len(titles(app)) == 2 and app.live, "rows and live stream")
        await pilot.pause()
        lines = screen_lines(app)
        assert len(lines) == 24
        header = row_of(lines, "pushlog tail")
        filter_bar = row_of(lines, "filter:")
        newest = row_of(lines, "signup")
        status_line = row_of(lines, "● live")
        footer = row_of(lines, "quit")
        assert header == 0
        assert header < filter_bar < newest < row_of(lines, "payments down") < status_line < footer
        assert footer == 23 and status_line == 22
        assert "2 events" in lines[status_line] and "1 critical unacknowledged" in lines[status_line]
        # each of them is the widget drawn at its row, not covered by another one
        assert app.get_widget_at(1, status_line)[0].id == "status"
        assert app.get_widget_at(1, filter_bar)[0] is app.query_one("#filter", Input)


async def test_the_time_column_is_as_wide_as_its_content(real_hub: ThreadHub) -> None:
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "now", "level": "warning"})
    app = _app(real_hub)
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: titles(app) == ["now"], "one row")
        await pilot.pause()
        line = screen_lines(app)[row_of(screen_lines(app), "now ")]
        when = line.split()[0]
        assert len(when) == 8 and when.count(":") == 2  # today's events show HH:MM:SS
        # one cell of padding each side, then the level: no run of blanks after the time
        assert line.index("WARNING") - (line.index(when) + len(when)) <= 3, repr(line)


async def test_hub_text_cannot_drive_the_terminal(real_hub: ThreadHub) -> None:
    evil = "\x1b]0;owned\x07title\x1b[2K\x9b2J\u202e"
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {
            "title": evil,
            "level": "error",
            "body": evil,
            "channel": "[/]c\x1b[0m",
            "tags": ["[b]db"],
            "metadata": {"k": evil},
        },
    )
    app = _app(real_hub)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: len(titles(app)) == 1, "one row")
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "\\x1b]0;owned\\x07title" in shown
        assert "[/]c\\x1b[0m" in shown and "#[b]db" in shown  # shown as typed, never read as markup
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail screen")
        await pilot.pause()
        shown += "\n".join(screen_lines(app))
        assert not [c for c in ("\x1b", "\x07", "\x9b", "\u202e") if c in shown], repr(shown)


async def test_rows_are_in_log_order_live_ones_too(real_hub: ThreadHub) -> None:
    now = dt.datetime.now(dt.UTC)

    def at(seconds_ago: float) -> dt.datetime:
        return now - dt.timedelta(seconds=seconds_ago)

    publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "declined", "level": "warning", "ts": at(1)}
    )
    publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "started", "level": "info", "ts": at(2)}
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["declined", "started"] and app.live, "log order")
        publish_events(
            real_hub.base_url, real_hub.publish_key, {"title": "late", "level": "info", "ts": at(60)}
        )
        await until(
            pilot, lambda: titles(app) == ["declined", "started", "late"], "a late report in its place"
        )


async def test_typed_filters_are_shown_as_plain_text(real_hub: ThreadHub) -> None:
    """The notice quotes what was typed: '[/]' is text to show, not markup to parse (which would raise)."""
    app = _app(real_hub)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await until(pilot, lambda: app.live, "live stream")
        await pilot.press("slash", *"level:[/]", "enter")
        await until(
            pilot, lambda: "unknown level '[/]'" in "\n".join(screen_lines(app)), "the notice on screen"
        )
        assert isinstance(app.focused, Input)  # still editing after the refusal
        app.focused.value = "tag:[/]"  # a valid filter, shown in the status line
        await pilot.press("enter")
        await until(pilot, lambda: "filter: tag:[/]" in status(app), "the filter in the status line")
        assert app.is_running


async def test_colours_by_level(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        *[{"title": lvl, "level": lvl} for lvl in ("info", "warning", "error", "critical")],
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(titles(app)) == 4, "four rows")
        table = app.query_one("#feed", DataTable)
        styles = {}
        for i in range(4):
            cell = table.get_row_at(i)[1]
            assert isinstance(cell, Text)
            styles[cell.plain] = str(cell.style)
        assert styles == {
            "CRITICAL": "bold white on red",
            "ERROR": "bold red",
            "WARNING": "yellow",
            "INFO": "cyan",
        }


async def test_filter_bar_and_level_cycle(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "signup", "level": "info", "channel": "users", "metadata": {"plan": "pro"}},
        {"title": "payment failed", "level": "error", "channel": "pay", "tags": ["card"]},
        {"title": "refund", "level": "warning", "channel": "pay", "metadata": {"plan": "pro"}},
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(titles(app)) == 3, "three rows")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"c:pay plan=pro", "enter")
        await until(pilot, lambda: titles(app) == ["refund"], "channel+metadata filter")
        assert isinstance(app.focused, DataTable)
        app.query_one("#filter", Input).value = ""
        await pilot.press("slash", "enter")
        await until(pilot, lambda: len(titles(app)) == 3, "filter cleared")
        await pilot.press("l")  # all -> warning and up
        await until(pilot, lambda: titles(app) == ["refund", "payment failed"], "level: warning")
        await pilot.press("l")  # -> error and up
        await until(pilot, lambda: titles(app) == ["payment failed"], "level: error")
        assert app.query_one("#filter", Input).value == "level:error"
        # live events that do not pass the filter stay out
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "noise", "level": "info"},
            {"title": "outage", "level": "critical"},
        )
        await until(pilot, lambda: titles(app) == ["outage", "payment failed"], "filtered live event")
        await pilot.press("slash", *" failed", "enter")  # text search on top of level:error
        await until(pilot, lambda: titles(app) == ["payment failed"], "text filter")


async def test_paging_back_through_history(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url, real_hub.publish_key, *[{"title": f"e{i}", "level": "info"} for i in range(7)]
    )
    app = _app(real_hub, page_size=3)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["e6", "e5", "e4"], "first page")
        assert "older: n" in status(app)
        await pilot.press("n")
        await until(pilot, lambda: len(titles(app)) == 6, "second page")
        # moving the cursor onto the last row loads the next page by itself
        await pilot.press("pagedown")
        await until(pilot, lambda: len(titles(app)) == 7, "third page")
        assert titles(app) == [f"e{i}" for i in range(6, -1, -1)]
        await until(pilot, lambda: "all loaded" in status(app), "end of history")


async def test_detail_view_shows_all_metadata(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {
            "title": "payment failed",
            "level": "error",
            "body": "card declined by issuer",
            "channel": "pay",
            "tags": ["card", "eu"],
            "link": "https://example.com/p/1",
            "metadata": {"user_id": 42, "amount": "29.00", "nested": {"a": [1, 2]}},
        },
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(titles(app)) == 1, "one row")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail screen")
        text = str(app.screen.query_one("#detail", Static).render())
        for needle in (
            "payment failed",
            "card declined by issuer",
            "pay",
            "card, eu",
            "https://example.com/p/1",
            "user_id",
            "42",
            "29.00",
            '{"a": [1, 2]}',
        ):
            assert needle in text, needle
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), "detail closed")


async def test_acknowledge_a_critical(real_hub: ThreadHub) -> None:
    (crit,) = publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "payments down", "level": "critical"}
    )
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "just info", "level": "info"})
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["just info", "payments down"], "two rows")
        assert "1 critical unacknowledged" in status(app)
        await pilot.press("a")  # on the INFO row: refused with a notice, nothing sent
        await until(pilot, lambda: any("only CRITICAL" in n.message for n in app._notifications), "notice")
        await pilot.press("down", "a")
        table = app.query_one("#feed", DataTable)
        await until(pilot, lambda: str(table.get_row_at(1)[5]) == "✓", "the ✓ mark")
        stored = httpx.get(
            f"{real_hub.base_url}/v1/events/{crit['id']}",
            headers={"Authorization": f"Bearer {real_hub.read_key}"},
        ).json()
        assert stored["acknowledged_at"] is not None
        assert "critical unacknowledged" not in status(app)


async def test_ack_from_elsewhere_arrives_live(real_hub: ThreadHub) -> None:
    (crit,) = publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "db down", "level": "critical"}
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["db down"] and app.live, "row and live stream")
        response = httpx.post(
            f"{real_hub.base_url}/v1/events/{crit['id']}/ack",
            json={},
            headers={"Authorization": f"Bearer {real_hub.read_key}"},
        )
        assert response.status_code == 200
        table = app.query_one("#feed", DataTable)
        await until(pilot, lambda: str(table.get_row_at(0)[5]) == "✓", "the ack via the stream")


async def test_a_grown_count_updates_the_row_in_place(real_hub: ThreadHub) -> None:
    (first,) = publish_events(real_hub.base_url, real_hub.publish_key, {"title": "db down", "level": "error"})
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["db down"] and app.live, "row and live stream")
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "db down", "level": "error", "count": 999, "push": False, "repeat_of": first["id"]},
        )
        table = app.query_one("#feed", DataTable)
        await until(pilot, lambda: str(table.get_row_at(0)[2]).endswith("x1000"), "the count via the stream")
        assert titles(app) == ["db down"]  # the same row, no second line


async def test_help_screen(real_hub: ThreadHub) -> None:
    app = _app(real_hub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help screen")
        text = str(app.screen.query_one("#help", Static).render())
        assert "acknowledge" in text and "filter" in text and "older" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")


async def test_bad_key_shows_the_error(real_hub: ThreadHub) -> None:
    app = TailApp(AsyncHubFeed(HubAccess(real_hub.base_url, real_hub.publish_key)), FeedFilter())
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: "403" in status(app), "the refusal in the status line")
        assert not app.live


async def test_heartbeats_screen(real_hub: ThreadHub) -> None:
    headers = {"Authorization": f"Bearer {real_hub.publish_key}"}
    response = httpx.post(f"{real_hub.base_url}/v1/heartbeats/backup?every=1d", headers=headers)
    assert response.status_code == 200
    app = _app(real_hub)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("h")
        await until(
            pilot, lambda: isinstance(app.screen, HeartbeatsScreen) and app.screen.loaded, "heartbeats"
        )
        table = app.screen.query_one("#heartbeats", DataTable)
        name, status_cell, every, *_ = table.get_row_at(0)
        assert (str(name), str(status_cell), str(every)) == ("backup", "up", "1d")
        assert isinstance(status_cell, Text) and str(status_cell.style) == "green"
        await pilot.pause()
        assert row_of(screen_lines(app), "backup") > row_of(screen_lines(app), "heartbeats")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HeartbeatsScreen), "heartbeats closed")


async def test_heartbeats_screen_without_any_says_how_they_appear(real_hub: ThreadHub) -> None:
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("h")
        await until(
            pilot, lambda: isinstance(app.screen, HeartbeatsScreen) and app.screen.loaded, "heartbeats"
        )
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "no heartbeats yet" in shown, shown
        assert "pushlog run --every" in shown, shown


async def test_rules_screen_shows_states_alerting_first_paused_ones_said_and_the_highlighted_rules_history(
    real_hub: ThreadHub,
) -> None:
    admin = {"Authorization": f"Bearer {real_hub.admin_key}"}
    declared = {
        "nightly-import": {"kind": "expect", "match": {"text": "import done"}, "every": "1d"},
        "payment-errors": {
            "kind": "threshold",
            "match": {"channel": "payments"},
            "count": 2,
            "within": "10m",
        },
        "weekly-report": {"kind": "expect", "match": {"text": "report sent"}, "every": "7d", "paused": True},
    }
    for name, body in declared.items():
        response = httpx.put(f"{real_hub.base_url}/v1/rules/{name}", json=body, headers=admin)
        assert response.status_code == 200, response.text
    *_, imported = publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "card declined", "channel": "payments"},
        {"title": "card declined again", "channel": "payments"},
        {"title": "import done: 1200 rows"},
    )
    rule = httpx.get(f"{real_hub.base_url}/v1/rules/payment-errors", headers=admin).json()
    assert rule["state"] == "firing", rule
    app = _app(real_hub)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RulesScreen) and app.screen.loaded, "rules")
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        table = screen.query_one("#rules", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)][:3] for i in range(table.row_count)]
        assert rows == [
            ["payment-errors", "threshold", "firing"],
            ["nightly-import", "expect", "ok"],
            ["weekly-report", "expect", "waiting, paused"],
        ]
        await until(pilot, lambda: screen.shown == "payment-errors", "the highlighted rule's history")
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "waiting, paused" in shown, shown
        assert "history of payment-errors (newest first):" in shown, shown
        assert f"ok -> firing  2 in 10m  event {rule['alert_event_id']}" in shown, shown
        assert "declared (api)" in shown, shown
        await pilot.press("down")
        await until(pilot, lambda: screen.shown == "nightly-import", "the next rule's history")
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "history of nightly-import" in shown, shown
        assert f"waiting -> ok  first seen  event {imported['id']}" in shown, shown
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RulesScreen), "rules closed")


async def test_rules_screen_without_any_says_how_to_declare_one(real_hub: ThreadHub) -> None:
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RulesScreen) and app.screen.loaded, "rules")
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "no rules yet" in shown and "pushlog rules add" in shown, shown


def test_the_cli_opens_the_interactive_feed_on_a_terminal(real_hub: ThreadHub) -> None:
    """``pushlog tail`` with a terminal (a real pty as controlling terminal) runs the Textual app."""
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "hello from the hub", "level": "error"})
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = cli_env({"PUSHLOG_URL": real_hub.base_url, "PUSHLOG_READ_KEY": real_hub.read_key, "TERM": "xterm"})

    def take_terminal() -> None:  # in the child, after setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "pushlog", "tail"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(follower)
    screen = b""

    def read_until(done: Callable[[], bool], timeout: float = 30.0) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(leader, 65536)
                except OSError:  # the terminal closed: the app exited
                    return

    try:
        read_until(lambda: b"hello from the hub" in screen)
        assert b"hello from the hub" in screen, screen[-2000:]
        os.write(leader, b"q")
        read_until(lambda: process.poll() is not None)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)


async def test_a_resolved_alert_turns_resolved_in_place(real_hub: ThreadHub) -> None:
    (alert,) = publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "gateway down", "level": "error", "fingerprint": "gw"},
    )
    app = _app(real_hub)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: titles(app) == ["gateway down"] and app.live, "row and live stream")
        table = app.query_one("#feed", DataTable)
        assert "resolved" not in str(table.get_row_at(0)[2])
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "gateway back", "level": "info", "resolves": "gw"},
        )
        await until(
            pilot,
            lambda: (
                titles(app)[:1] == ["gateway back"]
                and titles(app)[1].startswith("gateway down  resolved after ")
            ),
            "the recovery on top, the alert's row marked resolved via the stream",
        )
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail view")
        detail = str(app.screen.query_one("#detail", Static).render())
        assert "resolved after " in detail and "event:" in detail
        assert app.events[1]["id"] == alert["id"]


async def test_lines_of_one_incident_are_one_row_that_unfolds_and_grows_live(real_hub: ThreadHub) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def at(minutes_ago: int) -> dt.datetime:
        return now - dt.timedelta(minutes=minutes_ago)

    def local(minutes_ago: int) -> str:
        moment = (now - dt.timedelta(minutes=minutes_ago)).astimezone()
        return (
            moment.strftime("%H:%M")
            if moment.date() == dt.datetime.now().astimezone().date()
            else (moment.strftime("%Y-%m-%d %H:%M"))
        )

    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": at(12)},
        {"title": "deployed", "level": "info", "ts": at(6)},
        {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": at(8)},
        {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": at(4)},
    )
    app = _app(real_hub)
    async with app.run_test(size=(160, 30)) as pilot:
        head = f"▸ db timeout  incident: 3 lines, first {local(12)}, last {local(4)}"
        await until(pilot, lambda: titles(app) == [head, "deployed"] and app.live, "one row per incident")
        await pilot.press("i")  # the cursor is on the incident's row
        unfolded = [head.replace("▸", "▾"), "  └ db timeout", "  └ db timeout", "deployed"]
        await until(pilot, lambda: titles(app) == unfolded, "the incident unfolded")
        shown = "\n".join(screen_lines(app))
        assert shown.count("db timeout") == 3, shown
        await pilot.press("i")
        await until(pilot, lambda: titles(app) == [head, "deployed"], "folded again")

        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": at(0)},
        )
        grown = f"▸ db timeout  incident: 4 lines, first {local(12)}, last {local(0)}"
        await until(pilot, lambda: titles(app) == [grown, "deployed"], "the live line joins its incident")
        assert "5 events" in status(app)  # lines held, whatever the rows
        await pilot.press("down", "i")  # a line alone: nothing to unfold
        await until(pilot, lambda: any("not an incident" in n.message for n in app._notifications), "notice")
