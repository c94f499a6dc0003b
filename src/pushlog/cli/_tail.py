"""``pushlog tail``: the feed in a terminal.

Interactive (stdout is a terminal): a Textual app, newest first (see ``_tail_app.py``). Otherwise, or
with ``--plain``: one line per event like ``tail -f``; ``--json``: one StoredEvent JSON object per line.
When a dedup follow-up grows a line's count (the stream's ``update``), ``--json`` writes the line's
StoredEvent again with ``"type": "update"`` added (match it to the earlier line by ``id``), and the
plain mode writes ``<time> REPEAT   <id> now xN`` for a line it has shown (nothing otherwise). When
an alert is resolved (the stream's ``resolved``), ``--json`` writes the message with ``"type":
"resolved"`` and plain mode ``<time> RESOLVED <id> resolved after 14 min`` for a line it has shown.
The line modes print the last ``-n`` events to arrive, in the order they were logged (``ts``, oldest
first), then follow the live stream (lines in arrival order), resuming after
the last event seen (``last_event_id``) whenever the connection drops, so nothing is printed twice or
missed. Reading needs a key with *read* scope (``--key`` / ``PUSHLOG_READ_KEY``, or the local hub's,
see ``_common.resolve_read_access``), never the DSN's publish key.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any, TextIO

import httpx

from .._duration import format_seconds
from .._event import parse_ts
from .._levels import Level, parse_level
from ._common import (
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    add_read_options,
    parse_metadata,
    resolve_read_access,
)
from ._errors import CLIError
from ._feed import FeedFilter, HubFeed, StoredEvent, StreamItem, log_order, resolved_text
from ._incidents import Incident, incident_key
from ._rules import rule_state_text
from ._safe_text import json_line, visible

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog tail                          # the hub started in this directory (./.pushlog)
      export PUSHLOG_URL=https://hub.example.com PUSHLOG_READ_KEY=pl_read_xxx
      pushlog tail                          # interactive feed (press ? for keys)
      pushlog tail --plain --level warning  # like tail -f, warnings and up
      pushlog tail -n 100 --no-follow -c payments
      pushlog tail --json -d user_id=42 | jq .title
      pushlog tail --plain -q timeout -g db
      pushlog tail --heartbeats             # jobs that check in, overdue ones first

    Without a terminal (piped, in scripts) the output is --plain automatically.
    """
)

LEVEL_COLOURS = {
    "debug": "\x1b[2m",
    "info": "\x1b[36m",
    "warning": "\x1b[33m",
    "error": "\x1b[31m",
    "critical": "\x1b[1;97;41m",
}
_RESET = "\x1b[0m"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail",
        help="the live feed in the terminal (interactive, --plain or --json)",
        description="Show the hub's feed: history, then live events as they arrive.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--plain", action="store_true", help="one line per event (default when piped)")
    mode.add_argument("--json", action="store_true", help="one JSON object per event and line")
    parser.add_argument(
        "-n",
        "--lines",
        type=int,
        default=10,
        metavar="N",
        help="history to show first, in line modes (default: 10; 0 for only new events)",
    )
    parser.add_argument("--no-follow", action="store_true", help="print the history and exit (line modes)")
    parser.add_argument(
        "--heartbeats",
        action="store_true",
        help="list the heartbeats (jobs checking in) with their state and exit",
    )
    parser.add_argument("--level", help="minimum level: debug, info, warning, error, critical")
    parser.add_argument("-c", "--channel", help="only this channel")
    parser.add_argument("-g", "--tag", help="only events with this tag")
    parser.add_argument(
        "-d", "--data", action="append", metavar="KEY=VALUE", help="metadata filter (repeatable)"
    )
    parser.add_argument("-q", "--query", metavar="TEXT", help="text search in title and body")
    add_read_options(parser)
    parser.set_defaults(func=run)


def filter_from_args(args: argparse.Namespace) -> FeedFilter:
    level: Level | None = None
    if args.level:
        try:
            level = parse_level(args.level)
        except ValueError as exc:
            raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    return FeedFilter(
        level=level,
        channel=args.channel or None,
        tag=args.tag or None,
        meta=parse_metadata(args.data),
        text=args.query or None,
    )


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def format_plain(event: StoredEvent, *, colour: bool = False, incident: Incident | None = None) -> str:
    """``2026-11-21T07:12:43Z ERROR    Title — body's first line  [channel] #tag key=value``, with
    ``(incident: 3 lines, first 00:44:10, last 00:52:03)`` (UTC) when ``incident`` has two or more.

    Hub text is passed through :func:`visible`: control characters show as escapes."""
    try:
        ts = parse_ts(str(event.get("ts"))).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, TypeError):
        ts = visible(str(event.get("ts", "")))
    level = str(event.get("level") or "info").lower()
    name = f"{visible(level.upper()):<8}"
    if colour:
        name = f"{LEVEL_COLOURS.get(level, '')}{name}{_RESET}"
    parts = [ts, name, visible(_first_line(str(event.get("title") or "")))]
    body = _first_line(event.get("body"))
    if body:
        parts.append(f"— {visible(body)}")
    if event.get("count", 1) and int(event.get("count", 1)) > 1:
        parts.append(f"(x{event['count']})")
    if incident is not None and incident.lines > 1:
        parts.append(f"({incident.label(_utc_time)})")
    if event.get("channel"):
        parts.append(f"[{visible(str(event['channel']))}]")
    parts.extend(f"#{visible(str(t))}" for t in event.get("tags") or [])
    parts.extend(f"{visible(str(k))}={visible(_short(v))}" for k, v in (event.get("metadata") or {}).items())
    if event.get("acknowledged_at"):
        parts.append("(acknowledged)")
    if event.get("resolved_at"):
        parts.append(f"({resolved_text(event)})")
    return " ".join(parts)


def _utc_time(text: str) -> str:
    try:
        return parse_ts(text).strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return visible(text)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:59] + "…"


class LinePrinter:
    """Writes events (and acknowledgements of shown events) as plain lines or JSON lines."""

    def __init__(self, out: TextIO, *, as_json: bool, colour: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.colour = colour
        self._shown: collections.OrderedDict[str, None] = collections.OrderedDict()
        #: Incidents of the lines shown, by key: a live line of one is printed with its new count.
        self._incidents: collections.OrderedDict[str, Incident] = collections.OrderedDict()

    def event(self, event: StoredEvent) -> None:
        if self.as_json:
            self.out.write(json_line(event) + "\n")
        else:
            incident = self._incident(event)
            self.out.write(format_plain(event, colour=self.colour, incident=incident) + "\n")
        self.out.flush()
        event_id = str(event.get("id"))
        self._shown[event_id] = None
        if len(self._shown) > 10_000:
            self._shown.popitem(last=False)

    def _incident(self, event: StoredEvent) -> Incident | None:
        """The incident ``event`` belongs to: the hub's (history), else the one held joined by it."""
        key = incident_key(event)
        if key is None:
            return None
        held = self._incidents.pop(key, None)
        if event.get("incident") is not None or held is None:
            incident = Incident.of_line(event)
        else:
            incident = held.join(event)
        self._incidents[key] = incident
        if len(self._incidents) > 10_000:
            self._incidents.popitem(last=False)
        return incident

    def update(self, event: StoredEvent) -> None:
        """A line's count grew: JSON mode re-emits it marked ``"type": "update"``; plain mode notes the
        new count of a line it has shown."""
        event_id = str(event.get("id"))
        if self.as_json:
            self.out.write(json_line({**event, "type": "update"}) + "\n")
        elif event_id in self._shown:
            when = event.get("last_seen_at") or event.get("ts") or ""
            self.out.write(visible(f"{when} REPEAT   {event_id} now x{event.get('count')}") + "\n")
        else:
            return
        self.out.flush()

    def resolved(self, data: dict[str, Any]) -> None:
        """An alert line was resolved: JSON mode writes the message marked ``"type": "resolved"``;
        plain mode notes it under a line it has shown."""
        event_id = str(data.get("id"))
        if self.as_json:
            self.out.write(json_line({**data, "type": "resolved"}) + "\n")
        elif event_id in self._shown:
            self.out.write(
                visible(f"{data.get('resolved_at', '')} RESOLVED {event_id} {resolved_text(data)}") + "\n"
            )
        else:
            return
        self.out.flush()

    def ack(self, data: dict[str, Any]) -> None:
        event_id = str(data.get("id"))
        if self.as_json or event_id not in self._shown:
            return
        self.out.write(visible(f"{data.get('acknowledged_at', '')} ACK      {event_id} acknowledged") + "\n")
        self.out.flush()


def _seq(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def follow_lines(
    feed: HubFeed,
    flt: FeedFilter,
    printer: LinePrinter,
    *,
    lines: int,
    follow: bool,
    stop: threading.Event | None = None,
    note: Callable[[str], None] | None = None,
    max_backoff: float = 15.0,
) -> int:
    """History then the live stream; returns when ``stop`` is set (or after history without follow)."""
    stop = stop or threading.Event()
    say = note or (lambda text: print(f"pushlog: {text}", file=sys.stderr, flush=True))
    last_seq: int | None = None
    try:
        if lines > 0:
            page = feed.page(flt, limit=min(lines, 200))
            events = page.events
            cursor = page.next_cursor
            while len(events) < lines and cursor:
                more = feed.page(flt, limit=min(lines - len(events), 200), cursor=cursor)
                events.extend(more.events)
                cursor = more.next_cursor
            for event in sorted(events[:lines], key=log_order):  # oldest logged first
                printer.event(event)
            seqs = [s for s in (_seq(e.get("seq")) for e in events) if s is not None]
            last_seq = max(seqs) if seqs else 0
    except httpx.TransportError as exc:
        raise CLIError(
            f"cannot reach the hub at {feed.access.base_url}: {exc}", exit_code=EXIT_UNREACHABLE
        ) from None
    if not follow:
        return 0
    delay = 0.5
    connected_once = False
    announced = False
    while not stop.is_set():
        try:
            for item in feed.stream(flt, last_id=None if last_seq is None else str(last_seq)):
                connected_once = True
                delay = 0.5
                if announced:
                    say("reconnected")
                    announced = False
                if stop.is_set():
                    break
                _handle(item, printer, last_seq, flt)
                if item.kind in ("event", "update"):
                    seq = _position(item)
                    if seq is not None:
                        last_seq = seq if last_seq is None else max(last_seq, seq)
        except httpx.TransportError as exc:
            if not connected_once and last_seq is None:
                raise CLIError(
                    f"cannot reach the hub at {feed.access.base_url}: {exc}", exit_code=EXIT_UNREACHABLE
                ) from None
            if not announced:
                say(f"stream interrupted ({type(exc).__name__}); reconnecting")
                announced = True
        if stop.wait(delay):
            break
        delay = min(delay * 2, max_backoff)
    return 0


def _handle(item: StreamItem, printer: LinePrinter, last_seq: int | None, flt: FeedFilter) -> None:
    if item.kind == "ack":
        printer.ack(item.data)
        return
    if item.kind == "resolved":
        printer.resolved(item.data)
        return
    if item.kind not in ("event", "update"):
        return
    seq = _position(item)
    if last_seq is not None and seq is not None and seq <= last_seq:
        return  # replayed after a reconnect: already printed
    if not flt.matches(item.data):
        return
    if item.kind == "update":
        printer.update(item.data)
    else:
        printer.event(item.data)


def _position(item: StreamItem) -> int | None:
    """Where ``item`` sits in the stream: an event's seq; an update's own SSE id (the follow-up's seq)."""
    if item.kind == "update":
        return _seq(item.seq)
    return _seq(item.data.get("seq")) or _seq(item.seq)


HEARTBEAT_COLOURS = {
    "overdue": "\x1b[1;31m",
    "failed": "\x1b[1;31m",
    "up": "\x1b[32m",
    "unmonitored": "\x1b[2m",
}


def heartbeat_status(beat: dict[str, Any]) -> str:
    """The status to show: the hub's, except that a job checking in on time whose last run failed is
    ``failed`` rather than a green ``up`` (the web app's badge follows the same rule)."""
    status = str(beat.get("status"))
    failed, succeeded = beat.get("last_failure_at"), beat.get("last_success_at")
    if status == "up" and failed and (not succeeded or str(failed) > str(succeeded)):
        return "failed"
    return status


def heartbeat_rows(beats: list[dict[str, Any]]) -> list[list[str]]:
    """Rows (header first) for the heartbeat table; overdue, then failed, first; then by name; hub text
    escaped."""
    order = {"overdue": 0, "failed": 1, "up": 2}
    rows = [["NAME", "STATUS", "EVERY", "GRACE", "LAST SUCCESS", "LAST FAILURE", "DUE"]]
    for beat in sorted(beats, key=lambda b: (order.get(heartbeat_status(b), 3), str(b.get("name")))):
        rows.append(
            [
                visible(str(beat.get("name"))),
                visible(heartbeat_status(beat)),
                format_seconds(beat["every_s"]) if beat.get("every_s") else "-",
                format_seconds(beat["grace_s"]) if beat.get("grace_s") else "-",
                _short_ts(beat.get("last_success_at")),
                _short_ts(beat.get("last_failure_at")),
                _short_ts(beat.get("due_at")),
            ]
        )
    return rows


#: Rule states that mean something is wrong (docs/rules.md): listed first.
ALERTING_RULE_STATES = frozenset({"missed", "firing"})


def sort_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerting rules first, then by name."""
    return sorted(rules, key=lambda r: (r.get("state") not in ALERTING_RULE_STATES, str(r.get("name"))))


def rule_rows(rules: list[dict[str, Any]]) -> list[list[str]]:
    """Rows (header first) for the rules table (``GET /v1/rules``); alerting rules first, then by
    name; a paused rule's state says so (``ok, paused``); hub text escaped."""
    rows = [["NAME", "KIND", "STATE", "SINCE"]]
    for rule in sort_rules(rules):
        rows.append(
            [
                visible(str(rule.get("name"))),
                visible(str(rule.get("kind"))),
                visible(rule_state_text(rule)),
                _short_ts(rule.get("state_since")),
            ]
        )
    return rows


def rule_history_lines(rule: dict[str, Any]) -> list[str]:
    """A rule's history (``GET /v1/rules/{name}``), newest first: time, change, cause, event."""
    lines = []
    for entry in rule.get("history") or []:
        previous, state = entry.get("previous"), entry.get("state")
        moved = f"{previous} -> {state}" if previous else str(state)
        detail = f"  {entry['detail']}" if entry.get("detail") else ""
        event = f"  event {entry['event_id']}" if entry.get("event_id") else ""
        lines.append(visible(f"{_short_ts(entry.get('at'))}  {moved}{detail}{event}"))
    return lines


def _short_ts(value: Any) -> str:
    if not value:
        return "-"
    try:
        return parse_ts(str(value)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return visible(str(value))


def print_heartbeats(feed: HubFeed, out: TextIO, *, as_json: bool, colour: bool) -> int:
    """Print the hub's heartbeats as an aligned table (or JSON lines); exit code 0."""
    try:
        beats = feed.heartbeats()
    except httpx.TransportError as exc:
        raise CLIError(
            f"cannot reach the hub at {feed.access.base_url}: {exc}", exit_code=EXIT_UNREACHABLE
        ) from None
    if as_json:
        for beat in beats:
            out.write(json_line(beat) + "\n")
        out.flush()
        return 0
    if not beats:
        out.write("no heartbeats yet: jobs appear here after their first check-in\n")
        return 0
    rows = heartbeat_rows(beats)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        if colour and n > 0:
            cells[1] = f"{HEARTBEAT_COLOURS.get(row[1], '')}{cells[1]}{_RESET}"
        out.write("  ".join(cells).rstrip() + "\n")
    out.flush()
    return 0


def _use_colour(out: TextIO) -> bool:
    return out.isatty() and not os.environ.get("NO_COLOR")


def run(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    if args.lines < 0:
        raise CLIError("-n/--lines must be 0 or more", exit_code=EXIT_USAGE)
    access = resolve_read_access(args.url, args.key)
    interactive = (
        not (args.plain or args.json or args.heartbeats) and sys.stdout.isatty() and sys.stdin.isatty()
    )
    if interactive:
        try:
            from ._tail_app import run_app
        except ImportError as exc:
            if "textual" not in str(exc):
                raise
            raise CLIError(
                "the interactive feed needs Textual: pip install 'pushlog[tui]' (or use --plain)",
                exit_code=EXIT_USAGE,
            ) from None
        return int(run_app(access, flt))
    printer = LinePrinter(sys.stdout, as_json=args.json, colour=_use_colour(sys.stdout))
    feed = HubFeed(access)
    try:
        if args.heartbeats:
            return print_heartbeats(feed, sys.stdout, as_json=args.json, colour=_use_colour(sys.stdout))
        return follow_lines(feed, flt, printer, lines=args.lines, follow=not args.no_follow)
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, and keep the interpreter from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        feed.close()
