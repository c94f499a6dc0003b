"""The interactive ``pushlog tail``: a Textual app over the hub's feed.

Newest first by log time (``ts``, see :func:`pushlog.cli._feed.log_order`). The first page comes
from ``GET /v1/events``; after that the app listens to
``GET /v1/stream`` from the newest ``seq`` it holds, so nothing that happens between the two is lost,
and reconnects (with backoff) from the last ``seq`` seen when the stream drops. Moving the cursor onto
the last row (or pressing ``n``) loads the next older page through the list's cursor.

Lines of one incident (same trace id, else fingerprint: :mod:`pushlog.cli._incidents`) are one row,
the newest line with "incident: 3 lines, first 00:44, last 00:52"; ``i`` (or space) unfolds the
others under it.

Keys: ``/`` filter, ``l`` cycle the minimum level, ``enter`` details, ``a`` acknowledge a CRITICAL,
``i`` unfold an incident,
``n`` older page, ``r`` reload, ``h`` heartbeats, ``R`` rules, ``?`` help, ``q`` quit. The filter bar reads
``level:error channel:payments tag:db user_id=42 free text`` (see :func:`pushlog.cli._feed.parse_filter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol

import httpx
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from .._event import parse_ts
from .._levels import Level, parse_level
from ._common import HubAccess
from ._errors import CLIError
from ._feed import (
    AsyncHubFeed,
    FeedFilter,
    Page,
    StoredEvent,
    StreamItem,
    log_order,
    mark_resolved,
    parse_filter,
    resolved_text,
)
from ._incidents import Incident, incident_key, incident_of
from ._safe_text import visible
from ._tail import ALERTING_RULE_STATES, heartbeat_rows, rule_history_lines, rule_rows, sort_rules

LEVEL_STYLES: dict[str, str] = {
    "debug": "dim",
    "info": "cyan",
    "warning": "yellow",
    "error": "bold red",
    "critical": "bold white on red",
}

#: ``l`` cycles the minimum level through these.
LEVEL_CYCLE: tuple[Level | None, ...] = (None, Level.WARNING, Level.ERROR, Level.CRITICAL)

HELP_TEXT = """\
[b]pushlog tail[/b] — the hub's feed, newest first, live.

  [b]↑ ↓ PgUp PgDn[/b]  move; reaching the last row loads older events
  [b]n[/b]              load the next older page now
  [b]enter[/b]          details: every field and all metadata
  [b]i[/b] or [b]space[/b]     unfold (or fold) the incident under the cursor: lines with the
                   same trace id, else fingerprint, are one row until unfolded
  [b]a[/b]              acknowledge the CRITICAL event under the cursor
                   (stops its re-pushes on every device)
  [b]/[/b]              filter, e.g.  level:error channel:payments tag:db user_id=42 timeout
                   (level: l:, channel: c:, tag: t:, KEY=VALUE for metadata, other words: text)
  [b]l[/b]              cycle the minimum level: all, warning, error, critical
  [b]r[/b]              reload from the hub
  [b]h[/b]              heartbeats: jobs that check in, overdue first
  [b]R[/b]              rules: each rule's state, alerting first; a rule's history under it
  [b]?[/b]              this help      [b]escape[/b] close      [b]q[/b] quit

Colours: [cyan]info[/] [yellow]warning[/] [bold red]error[/] [bold white on red]critical[/]; ✓ acknowledged.
"""


class FeedSource(Protocol):
    """What the app needs from the hub (``AsyncHubFeed`` over HTTP)."""

    async def page(self, flt: FeedFilter, *, limit: int = 50, cursor: str | None = None) -> Page: ...

    def stream(self, flt: FeedFilter, *, last_id: str | None = None) -> AsyncIterator[StreamItem]: ...

    async def ack(self, event_id: str) -> StoredEvent: ...

    async def heartbeats(self) -> list[dict[str, Any]]: ...

    async def rules(self) -> list[dict[str, Any]]: ...

    async def rule(self, name: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


def _seq(event: StoredEvent) -> int:
    try:
        return int(event.get("seq") or 0)
    except (TypeError, ValueError):
        return 0


def _level_name(event: StoredEvent) -> str:
    try:
        return parse_level(event.get("level", "info")).wire_name
    except ValueError:
        return "info"


def _when(event: StoredEvent, today: _dt.date | None = None) -> str:
    try:
        moment = parse_ts(str(event.get("ts"))).astimezone()
    except (TypeError, ValueError):
        return visible(str(event.get("ts", "")))
    if moment.date() == (today or _dt.datetime.now().astimezone().date()):
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def _clock_time(text: str) -> str:
    """An incident's first or last occurrence: ``00:44`` today, else ``2026-11-21 00:44`` (local)."""
    shown = _when({"ts": text})
    return shown[:-3] if len(shown) == 8 else shown  # HH:MM:SS today: without the seconds


def level_cell(event: StoredEvent) -> Text:
    name = _level_name(event)
    return Text(name.upper(), style=LEVEL_STYLES.get(name, ""))


def is_critical(event: StoredEvent) -> bool:
    return _level_name(event) == "critical"


class DetailScreen(ModalScreen[None]):
    """Every field of one event, metadata included."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "dismiss", "close"),
        Binding("a", "ack", "acknowledge"),
    ]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; background: $surface;
        padding: 0 1; }
    """

    def __init__(self, event: StoredEvent) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.render_event(), id="detail")

    def render_event(self) -> Text:
        """The event's fields; hub text goes through :func:`visible` (control characters as escapes)."""
        event = self.event
        text = Text()
        text.append(f"{visible(str(event.get('title', '')))}\n", style="bold")
        text.append_text(level_cell(event))
        ids = f"   {event.get('ts', '')}   seq {event.get('seq', '')}   id {event.get('id', '')}"
        text.append(f"{visible(ids)}\n\n")
        if event.get("body"):
            text.append(f"{visible(str(event['body']))}\n\n")
        rows: list[tuple[str, Any]] = [
            ("channel", event.get("channel")),
            ("tags", ", ".join(map(str, event.get("tags") or [])) or None),
            ("link", event.get("link")),
            ("image", event.get("image")),
            ("count", event.get("count")),
            ("fingerprint", event.get("fingerprint")),
            ("received", event.get("received_at")),
            ("acknowledged", event.get("acknowledged_at")),
            ("acknowledged by", event.get("acknowledged_by")),
            (
                "resolved",
                f"{event.get('resolved_at')} ({resolved_text(event)})" if event.get("resolved_at") else None,
            ),
            ("resolved by", event.get("resolved_by")),
        ]
        for name, value in rows:
            if value not in (None, ""):
                text.append(f"{name:>16}  ", style="dim")
                text.append(f"{visible(str(value))}\n")
        metadata = event.get("metadata") or {}
        if metadata:
            text.append("\nmetadata\n", style="bold")
            for key, value in metadata.items():
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                text.append(f"{visible(str(key)):>16}  ", style="dim")
                text.append(f"{visible(shown)}\n")
        source = event.get("source") or {}
        if source:
            text.append("\nsource\n", style="bold")
            for key, value in source.items():
                text.append(f"{visible(str(key)):>16}  ", style="dim")
                text.append(f"{visible(str(value))}\n")
        for action in event.get("actions") or []:
            text.append(visible(f"\naction  {action.get('title', '')} {action.get('url', '')}"))
        return text

    def action_ack(self) -> None:
        app = self.app
        if isinstance(app, TailApp):
            app.acknowledge(self.event)

    def refresh_event(self, event: StoredEvent) -> None:
        self.event = event
        self.query_one("#detail", Static).update(self.render_event())


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: auto; max-width: 100; border: round $accent; background: $surface;
        padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP_TEXT, id="help")


HEARTBEAT_STYLES: dict[str, str] = {
    "overdue": "bold white on red",
    "failed": "bold red",
    "up": "green",
    "unmonitored": "dim",
}


class HeartbeatsScreen(ModalScreen[None]):
    """The hub's heartbeats (jobs that check in), overdue first; ``r`` refreshes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,h", "dismiss", "close"),
        Binding("r", "refresh_list", "refresh"),
    ]
    DEFAULT_CSS = """
    HeartbeatsScreen { align: center middle; }
    HeartbeatsScreen > Vertical { width: 95%; height: 80%; border: round $accent; background: $surface; }
    HeartbeatsScreen DataTable { height: auto; max-height: 1fr; }
    #heartbeats-hint { padding: 1 2; color: $text-muted; }
    """
    #: Shown instead of rows when the hub knows no heartbeat yet.
    EMPTY_HINT = (
        "no heartbeats yet: a job appears here after its first check-in, e.g.\n"
        "  pushlog run --every 1d --name backup -- ./backup.sh\n"
        '  with pushlog.job("backup", every="1d"): ...'
    )

    def __init__(self, feed: FeedSource) -> None:
        super().__init__()
        self.feed = feed
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "heartbeats"
            yield DataTable(id="heartbeats", cursor_type="row")
            yield Static("", id="heartbeats-hint")

    def on_mount(self) -> None:
        table = self.query_one("#heartbeats", DataTable)
        for label in heartbeat_rows([])[0]:
            table.add_column(label.lower(), key=label.lower())
        self.action_refresh_list()

    @work(exclusive=True, group="heartbeats")
    async def action_refresh_list(self) -> None:
        try:
            beats = await self.feed.heartbeats()
        except (CLIError, httpx.HTTPError) as exc:
            self.notify(visible(f"could not list heartbeats: {exc}"), severity="error", markup=False)
            return
        table = self.query_one("#heartbeats", DataTable)
        table.clear()
        for row in heartbeat_rows(beats)[1:]:
            cells = [Text(cell) for cell in row]  # never markup: names come from whoever checks in
            cells[1] = Text(row[1], style=HEARTBEAT_STYLES.get(row[1], ""))
            table.add_row(*cells, key=row[0])
        self.query_one("#heartbeats-hint", Static).update("" if beats else self.EMPTY_HINT)
        self.loaded = True


class RulesScreen(ModalScreen[None]):
    """The hub's rules (docs/rules.md) with their state, alerting first; the highlighted rule's
    history (state changes, newest first) below the table; ``r`` refreshes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,R", "dismiss", "close"),
        Binding("r", "refresh_list", "refresh"),
    ]
    DEFAULT_CSS = """
    RulesScreen { align: center middle; }
    RulesScreen > Vertical { width: 95%; height: 90%; border: round $accent; background: $surface; }
    RulesScreen DataTable { height: auto; max-height: 1fr; }
    #rule-history { padding: 1 2; height: auto; }
    """
    #: Shown instead of rows when the hub has no rule.
    EMPTY_HINT = (
        "no rules yet: declare one with\n"
        '  pushlog rules add "nightly backup finished" --kind expect --every 1d --grace 1h\n'
        "  or PUT /v1/rules/NAME, or a rules file (pushlog serve --rules rules.toml)"
    )

    def __init__(self, feed: FeedSource) -> None:
        super().__init__()
        self.feed = feed
        self.loaded = False
        #: The rule whose history is shown, once it has loaded.
        self.shown: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "rules"
            yield DataTable(id="rules", cursor_type="row")
            yield Static("", id="rule-history", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#rules", DataTable)
        for label in rule_rows([])[0]:
            table.add_column(label.lower(), key=label.lower())
        self.action_refresh_list()

    @work(exclusive=True, group="rules")
    async def action_refresh_list(self) -> None:
        try:
            rules = await self.feed.rules()
        except (CLIError, httpx.HTTPError) as exc:
            self.notify(visible(f"could not list rules: {exc}"), severity="error", markup=False)
            return
        table = self.query_one("#rules", DataTable)
        table.clear()
        ordered = sort_rules(rules)
        for rule, row in zip(ordered, rule_rows(ordered)[1:], strict=True):
            cells = [Text(cell) for cell in row]  # never markup: names come from whoever declared them
            alerting = rule.get("state") in ALERTING_RULE_STATES
            colour = "yellow" if rule.get("paused") else "bold red" if alerting else "green"
            cells[2] = Text(row[2], style=colour)
            table.add_row(*cells, key=str(rule["name"]))
        if not rules:
            self.query_one("#rule-history", Static).update(self.EMPTY_HINT)
        self.loaded = True

    @on(DataTable.RowHighlighted, "#rules")
    def _highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.row_key.value is not None:
            self.show_history(message.row_key.value)

    @work(exclusive=True, group="rule-history")
    async def show_history(self, name: str) -> None:
        try:
            rule = await self.feed.rule(name)
        except (CLIError, httpx.HTTPError) as exc:
            self.notify(visible(f"could not read rule {name}: {exc}"), severity="error", markup=False)
            return
        lines = rule_history_lines(rule)
        self.query_one("#rule-history", Static).update(
            "\n".join([f"history of {visible(name)} (newest first):", *lines])
        )
        self.shown = name


class TailApp(App[int]):
    """The live feed. ``feed`` is the hub (``AsyncHubFeed``); ``flt`` the initial filter."""

    TITLE = "pushlog tail"
    #: Header and Footer dock to the top and bottom edges; everything else flows between them in
    #: order (filter bar, feed, status line). A second widget docked to the same edge would be drawn
    #: over the first one.
    CSS = """
    #filter { height: 3; }
    #feed { height: 1fr; }
    #status { height: 1; padding: 0 1; background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("slash", "focus_filter", "filter"),
        Binding("l", "cycle_level", "level"),
        Binding("a", "ack", "acknowledge"),
        Binding("i,space", "toggle_incident", "incident"),
        Binding("n", "older", "older"),
        Binding("r", "reload", "reload"),
        Binding("h", "heartbeats", "heartbeats"),
        Binding("R", "rules", "rules"),
        Binding("question_mark", "help", "help"),
    ]

    def __init__(
        self,
        feed: FeedSource,
        flt: FeedFilter | None = None,
        *,
        page_size: int = 50,
        max_backoff: float = 15.0,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.filter = flt or FeedFilter()
        self.page_size = page_size
        self.max_backoff = max_backoff
        self.events: list[StoredEvent] = []  # newest first
        #: The rows as shown: (event, role, its incident for a head row); role is "" (a line alone),
        #: "head" (an incident's newest line) or "member" (another line of an unfolded incident).
        self.shown: list[tuple[StoredEvent, str, Incident | None]] = []
        #: Incident keys unfolded with ``i``.
        self.expanded: set[str] = set()
        self.next_cursor: str | None = None
        self.last_seq = 0
        self.live = False
        self.loading_older = False
        self.problem: str | None = None

    # -- layout --------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            value=self.filter.describe(),
            placeholder="filter: level:error channel:NAME tag:NAME KEY=VALUE text   (press / to edit)",
            id="filter",
        )
        table: DataTable[Any] = DataTable(id="feed", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#feed", DataTable)
        table.add_column("time", key="time")  # as wide as its widest cell: HH:MM:SS today
        table.add_column("level", key="level", width=8)
        table.add_column("title", key="title")
        table.add_column("channel", key="channel")
        table.add_column("tags", key="tags")
        table.add_column("", key="ack", width=2)
        table.focus()
        self.reload()

    async def on_unmount(self) -> None:
        await self.feed.aclose()

    # -- loading -------------------------------------------------------------------------------------

    @work(exclusive=True, group="feed")
    async def reload(self) -> None:
        """Load the newest page for the current filter, then follow the stream (until cancelled)."""
        self.live = False
        self.problem = None
        self._render_status()
        try:
            page = await self.feed.page(self.filter, limit=self.page_size)
        except CLIError as exc:
            self._fail(str(exc))
            return
        except httpx.HTTPError as exc:
            self._fail(f"cannot reach the hub: {exc}")
            return
        self.events = sorted(page.events, key=log_order, reverse=True)
        self.next_cursor = page.next_cursor
        self.last_seq = max((_seq(e) for e in self.events), default=0)
        self._render_table(keep_cursor=False)
        await self._follow()

    async def _follow(self) -> None:
        delay = 0.5
        while True:
            try:
                async for item in self.feed.stream(self.filter, last_id=str(self.last_seq)):
                    if not self.live:
                        self.live = True
                        self.problem = None
                        delay = 0.5
                        self._render_status()
                    self.apply(item)
            except CLIError as exc:
                self._fail(str(exc))
                return
            except httpx.HTTPError as exc:
                self.problem = f"stream interrupted ({type(exc).__name__}), reconnecting"
            self.live = False
            self._render_status()
            await asyncio.sleep(delay)  # reconnect backoff, not synchronisation
            delay = min(delay * 2, self.max_backoff)

    def _fail(self, message: str) -> None:
        self.problem = message
        self.live = False
        self._render_status()
        self.notify(visible(message), severity="error", timeout=10, markup=False)

    def apply(self, item: StreamItem) -> None:
        """Merge one live item (a new event, a grown count, an acknowledgement or a resolved alert)
        into the list."""
        if item.kind == "open":
            return
        if item.kind in ("ack", "resolved"):
            event_id = str(item.data.get("id"))
            for event in self.events:
                if str(event.get("id")) == event_id:
                    if item.kind == "ack":
                        event["acknowledged_at"] = item.data.get("acknowledged_at")
                    else:
                        mark_resolved(event, item.data)
                    self._update_row(event)
                    break
            return
        if item.kind == "update":
            self._apply_update(item)
            return
        event = item.data
        seq = _seq(event)
        if seq <= self.last_seq:
            return  # replayed after a reconnect
        self.last_seq = seq
        if not self.filter.matches(event):
            return
        self._place(event)
        self._render_table(keep_cursor=True)

    def _place(self, event: StoredEvent) -> None:
        """Insert ``event`` where its log time puts it (newest first): usually the top."""
        key = log_order(event)
        at = next((n for n, shown in enumerate(self.events) if log_order(shown) < key), len(self.events))
        self.events.insert(at, event)

    def _apply_update(self, item: StreamItem) -> None:
        """A shown line's count grew (a dedup follow-up was folded into it): update its row in place."""
        position = int(item.seq) if item.seq is not None and item.seq.isdigit() else None
        if position is not None:
            if position <= self.last_seq:
                return  # replayed after a reconnect
            self.last_seq = position
        event_id = str(item.data.get("id"))
        for event in self.events:
            if str(event.get("id")) == event_id:
                event.update(item.data)
                self._update_row(event)
                break

    @work(exclusive=True, group="older")
    async def load_older(self) -> None:
        if not self.next_cursor or self.loading_older:
            return
        self.loading_older = True
        self._render_status()
        try:
            page = await self.feed.page(self.filter, limit=self.page_size, cursor=self.next_cursor)
        except (CLIError, httpx.HTTPError) as exc:
            self.notify(visible(f"could not load older events: {exc}"), severity="error", markup=False)
            return
        finally:
            self.loading_older = False
        known = {str(e.get("id")) for e in self.events}
        for event in page.events:
            if str(event.get("id")) not in known:
                self._place(event)
        self.next_cursor = page.next_cursor
        self._render_table(keep_cursor=True)

    # -- rendering -----------------------------------------------------------------------------------

    def _layout(self) -> list[tuple[StoredEvent, str, Incident | None]]:
        """The rows: each incident of two or more lines as its newest line (its others under it when
        unfolded), every other line as itself; newest first."""
        groups: dict[str, list[StoredEvent]] = {}
        for event in self.events:
            key = incident_key(event)
            if key is not None:
                groups.setdefault(key, []).append(event)
        rows: list[tuple[StoredEvent, str, Incident | None]] = []
        for event in self.events:
            key = incident_key(event)
            members = groups.get(key, []) if key is not None else []
            incident = incident_of(members) if members else None
            if key is None or incident is None or incident.lines < 2:
                rows.append((event, "", None))
            elif event is members[0]:
                rows.append((event, "head", incident))
                if key in self.expanded:
                    rows.extend((member, "member", None) for member in members[1:])
        return rows

    def _row(self, event: StoredEvent, role: str = "", incident: Incident | None = None) -> tuple[Any, ...]:
        title = Text()
        if role == "head":
            unfolded = incident_key(event) in self.expanded
            title.append("▾ " if unfolded else "▸ ", style="magenta")
        elif role == "member":
            title.append("  └ ", style="dim")
        title.append(visible(str(event.get("title") or "")))
        if is_critical(event) and not event.get("acknowledged_at"):
            title.stylize("bold")
        count = int(event.get("count") or 1)
        if count > 1:
            title.append(f"  x{count}", style="dim")
        if event.get("resolved_at"):
            title.append(f"  {resolved_text(event)}", style="green")
        if incident is not None:
            title.append(f"  {incident.label(_clock_time)}", style="magenta")
        acked = Text("✓", style="green") if event.get("acknowledged_at") else Text("")
        # Text cells throughout: DataTable reads a str cell as markup, and this is the hub's text
        return (
            Text(_when(event)),
            level_cell(event),
            title,
            Text(visible(str(event.get("channel") or ""))),
            Text(visible(" ".join(f"#{t}" for t in event.get("tags") or []))),
            acked,
        )

    def _render_table(self, *, keep_cursor: bool) -> None:
        table = self.query_one("#feed", DataTable)
        current = self.current_event() if keep_cursor else None
        table.clear()
        self.shown = self._layout()
        for event, role, incident in self.shown:
            table.add_row(*self._row(event, role, incident), key=str(event.get("id")))
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(str(current.get("id"))), animate=False)
            except Exception:  # the event left the list
                table.move_cursor(row=0)
        self._render_status()

    def _update_row(self, event: StoredEvent) -> None:
        table = self.query_one("#feed", DataTable)
        key = str(event.get("id"))
        if incident_key(event) is not None:  # its incident's row may change too: lay the rows out again
            self._render_table(keep_cursor=True)
            for screen in self.screen_stack:
                if isinstance(screen, DetailScreen) and str(screen.event.get("id")) == key:
                    screen.refresh_event(event)
            return
        try:
            for column, value in zip(
                ("time", "level", "title", "channel", "tags", "ack"), self._row(event), strict=True
            ):
                table.update_cell(key, column, value)
        except Exception:  # not displayed (filtered out)
            pass
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen) and str(screen.event.get("id")) == key:
                screen.refresh_event(event)
        self._render_status()

    def status_text(self) -> str:
        parts = [
            "● live" if self.live else ("○ " + self.problem if self.problem else "○ connecting"),
            f"{len(self.events)} events",
        ]
        if self.filter.describe():
            parts.append(f"filter: {self.filter.describe()}")
        if self.loading_older:
            parts.append("loading older…")
        elif self.next_cursor:
            parts.append("older: n")
        else:
            parts.append("all loaded")
        unacked = sum(1 for e in self.events if is_critical(e) and not e.get("acknowledged_at"))
        if unacked:
            parts.append(f"{unacked} critical unacknowledged")
        return "  ·  ".join(parts)

    def _render_status(self) -> None:
        with contextlib.suppress(Exception):  # not mounted yet / shutting down
            # a Text, not a str: the filter and hub messages in it are never read as markup
            self.query_one("#status", Static).update(Text(visible(self.status_text())))

    # -- interaction ---------------------------------------------------------------------------------

    def current_event(self) -> StoredEvent | None:
        table = self.query_one("#feed", DataTable)
        if table.row_count == 0:
            return None
        row = table.cursor_row
        if 0 <= row < len(self.shown):
            return self.shown[row][0]
        return None

    @on(DataTable.RowHighlighted, "#feed")
    def _maybe_load_older(self, message: DataTable.RowHighlighted) -> None:
        if message.cursor_row >= message.data_table.row_count - 1 and self.next_cursor:
            self.load_older()

    @on(DataTable.RowSelected, "#feed")
    def _open_detail(self, message: DataTable.RowSelected) -> None:
        event = self.current_event()
        if event is not None:
            self.push_screen(DetailScreen(event))

    @on(Input.Submitted, "#filter")
    def _apply_filter(self, message: Input.Submitted) -> None:
        try:
            self.filter = parse_filter(message.value)
        except ValueError as exc:
            self.notify(visible(str(exc)), severity="error", markup=False)  # quotes what was typed
            return
        self.query_one("#feed", DataTable).focus()
        self.reload()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and isinstance(self.focused, Input):
            self.query_one("#feed", DataTable).focus()
            event.stop()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_cycle_level(self) -> None:
        current = self.filter.level if self.filter.level in LEVEL_CYCLE else None
        following = LEVEL_CYCLE[(LEVEL_CYCLE.index(current) + 1) % len(LEVEL_CYCLE)]
        self.filter = FeedFilter(
            level=following,
            channel=self.filter.channel,
            tag=self.filter.tag,
            meta=dict(self.filter.meta),
            text=self.filter.text,
        )
        self.query_one("#filter", Input).value = self.filter.describe()
        self.reload()

    def action_older(self) -> None:
        if self.next_cursor:
            self.load_older()
        else:
            self.notify("no older events")

    def action_reload(self) -> None:
        self.reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_heartbeats(self) -> None:
        self.push_screen(HeartbeatsScreen(self.feed))

    def action_rules(self) -> None:
        self.push_screen(RulesScreen(self.feed))

    def action_toggle_incident(self) -> None:
        """Unfold the incident under the cursor (its other lines under it), or fold it again."""
        event = self.current_event()
        key = incident_key(event) if event is not None else None
        if key is None or not any(role and incident_key(e) == key for e, role, _ in self.shown):
            self.notify("not an incident: no other line shares its trace id or fingerprint")
            return
        self.expanded.symmetric_difference_update({key})
        self._render_table(keep_cursor=True)

    def action_ack(self) -> None:
        event = self.current_event()
        if event is not None:
            self.acknowledge(event)

    def acknowledge(self, event: StoredEvent) -> None:
        if not is_critical(event):
            self.notify("only CRITICAL events wait for acknowledgement", severity="warning")
            return
        if event.get("acknowledged_at"):
            self.notify("already acknowledged")
            return
        self._ack(event)

    @work(group="ack")
    async def _ack(self, event: StoredEvent) -> None:
        try:
            stored = await self.feed.ack(str(event["id"]))
        except (CLIError, httpx.HTTPError) as exc:
            self.notify(visible(f"could not acknowledge: {exc}"), severity="error", markup=False)
            return
        event["acknowledged_at"] = stored.get("acknowledged_at") or event.get("acknowledged_at")
        event["acknowledged_by"] = stored.get("acknowledged_by")
        self._update_row(event)
        self.notify("acknowledged")


def run_app(access: HubAccess, flt: FeedFilter) -> int:
    """Run the app in this terminal; returns the exit code."""
    app = TailApp(AsyncHubFeed(access), flt)
    result = app.run()
    return int(result or 0)
