"""``pushlog send``: publish one event from the shell and exit 0 once the hub accepted it.

Exit codes: 0 accepted (also when the hub already had it: same id), 2 bad usage (no DSN, bad option),
3 hub unreachable after bounded retries, 4 the hub refused the event (bad key, invalid event).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from .._dsn import DSN
from .._event import MAX_BODY, MAX_TITLE, Event, truncate
from .._levels import parse_level
from .._redact import redact_event
from ._common import (
    EXIT_USAGE,
    add_dsn_option,
    parse_metadata,
    resolve_dsn,
    split_tags,
)
from ._errors import CLIError
from ._publish import publish

EPILOG = textwrap.dedent(
    """\
    examples:
      export PUSHLOG_DSN=https://pl_publish_xxx@hub.example.com
      pushlog send -m "Deploy finished" -c deploys -g prod,web
      pushlog send --level error -t "Backup failed" -m "disk full on db-1" -d host=db-1
      pushlog send --level critical -m "Payments down" -l https://status.example.com
      dmesg | tail -n 20 | pushlog send -t "Kernel messages" -m -

    The level decides what happens: info (default) only enters the feed; warning, error and critical
    are pushed to your devices; critical is re-pushed until acknowledged.
    exit codes: 0 accepted, 2 bad usage or no DSN, 3 hub unreachable, 4 refused by the hub.
    """
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send",
        help="publish one event (feed entry or push)",
        description="Publish one event to the hub. Reads the hub and publish key from $PUSHLOG_DSN.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-m", "--message", required=True, help="the message; '-' reads it from stdin")
    parser.add_argument("-t", "--title", help="a title (default: the message's first line)")
    parser.add_argument("-c", "--channel", help="channel, e.g. deploys or payments")
    parser.add_argument(
        "-g", "--tags", action="append", metavar="TAG,TAG", help="comma-separated tags (repeatable)"
    )
    parser.add_argument("-l", "--link", help="a URL the notification opens")
    parser.add_argument(
        "-d",
        "--data",
        action="append",
        metavar="KEY=VALUE",
        help="metadata, filterable in the feed (repeatable)",
    )
    parser.add_argument(
        "--level",
        default="info",
        help="debug, info (default), warning, error or critical",
    )
    parser.add_argument("--fingerprint", help="dedup key: events with the same fingerprint collapse into one")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up after this long in total, retries included (default: 10)",
    )
    add_dsn_option(parser)
    parser.set_defaults(func=run)


def build_event(args: argparse.Namespace, stdin_text: str | None = None) -> Event:
    """The event ``send`` publishes, from parsed options; bad values are one-line CLIErrors."""
    try:
        level = parse_level(args.level)
    except ValueError as exc:
        raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    message: str = args.message
    if message == "-":
        message = stdin_text if stdin_text is not None else sys.stdin.read()
    message = message.strip("\n")
    title: str | None = args.title
    body: str | None
    if title:
        body = message or None
    else:
        first, _, rest = message.partition("\n")
        title, body = first.strip(), (rest.strip("\n") or None)
    if not title:
        raise CLIError("empty message: give -m TEXT (or -t TITLE)", exit_code=EXIT_USAGE)
    if args.link and not args.link.startswith(("http://", "https://")):
        raise CLIError(f"--link must be an http(s) URL: {args.link!r}", exit_code=EXIT_USAGE)
    return Event(
        title=truncate(title, MAX_TITLE),
        body=truncate(body, MAX_BODY) if body else None,
        level=level,
        channel=args.channel or None,
        tags=split_tags(args.tags),
        link=args.link or None,
        metadata=dict(parse_metadata(args.data)),
        fingerprint=args.fingerprint or None,
        source={"logger": "pushlog.cli", **_host_source()},
    )


def _host_source() -> dict[str, Any]:
    import os
    import socket

    return {"host": socket.gethostname(), "pid": os.getpid()}


def run(args: argparse.Namespace) -> int:
    event = redact_event(build_event(args))
    dsn: DSN = resolve_dsn(args.dsn)
    publish(dsn, [event], timeout=args.timeout)
    if event.pushed and sys.stderr.isatty():
        print(f"pushlog: sent ({event.level.wire_name})", file=sys.stderr)
    return 0
