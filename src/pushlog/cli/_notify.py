"""``pushlog notify``: send (or schedule) a notification to an app's users (docs/notifications.md).

Exit codes: 0 the hub accepted it, 2 bad usage (no DSN, bad option), 3 hub unreachable after bounded
retries, 4 the hub refused it (bad key, unknown segment or template, invalid filter).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import textwrap
from typing import Any

from .._push_to import NOTIFICATIONS_PATH, USERS_ENV_VAR, notification_request, users_dsn
from .._transport import SendError
from ._common import EXIT_USAGE, parse_metadata
from ._errors import CLIError
from ._publish import post_json

EPILOG = textwrap.dedent(
    """\
    examples:
      export PUSHLOG_USERS_DSN=https://pl_users_xxx@hub.example.com
      pushlog notify --users 42,43 --title "Your order shipped" --body "A-1001 is on its way"
      pushlog notify --segment pro-eu --template weekly -d count=3 --at 09:00 --local
      pushlog notify --filter 'plan = "pro" and last_seen within 30d' --template promo --delay 2h
      pushlog notify --topic news --title "New: exports" --at 2027-01-04T09:00:00Z

    --at with --local is a wall-clock time in each recipient's own time zone, on --date (default:
    tomorrow); without --local it is an RFC 3339 time.
    exit codes: 0 accepted, 2 bad usage or no DSN, 3 hub unreachable, 4 refused by the hub.
    """
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "notify",
        help="send a notification to your app's users",
        description="Send or schedule a notification to app users. Reads the hub and a users key from "
        f"${USERS_ENV_VAR} (else $PUSHLOG_DSN).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_argument_group("audience (several: recipients match all)")
    who.add_argument("--users", metavar="ID,ID", help="comma-separated user ids")
    who.add_argument("--segment", help="a saved segment's name")
    who.add_argument("--filter", help="a filter (docs/notifications.md)")
    who.add_argument("--topic", help="users subscribed to this topic")
    what = parser.add_argument_group("content")
    what.add_argument("--template", help="a template's name (rendered for each user)")
    what.add_argument("-t", "--title", help="literal title (instead of --template)")
    what.add_argument("-m", "--body", help="literal body")
    what.add_argument("-d", "--data", action="append", metavar="KEY=VALUE", help="template data (repeatable)")
    what.add_argument("-l", "--link", help="a URL the notification opens")
    what.add_argument("--image", help="an image URL")
    what.add_argument("--category", help="category (the app decides what it means)")
    what.add_argument("--level", default="info", help="debug, info (default), warning, error or critical")
    what.add_argument("--ttl", type=int, metavar="SECONDS", help="how long push services keep it")
    what.add_argument("--collapse-key", help="a newer notification with this key replaces the older")
    what.add_argument("--idempotency-key", help="the same key again returns the first notification")
    when = parser.add_argument_group("schedule (default: now)")
    when.add_argument("--at", help="RFC 3339 time, or HH:MM with --local")
    when.add_argument("--local", action="store_true", help="--at is a local time in each recipient's zone")
    when.add_argument("--date", help="YYYY-MM-DD for --local (default: tomorrow)")
    when.add_argument("--timezone", help="zone of recipients without one (default: UTC)")
    when.add_argument("--delay", help="send after this long: 90m, 2h, 1d")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="default: 10")
    parser.add_argument(
        "--dsn", metavar="DSN", help=f"hub and users key, http(s)://KEY@HOST (default: ${USERS_ENV_VAR})"
    )
    parser.set_defaults(func=run)


def build_request(args: argparse.Namespace, *, today: _dt.date | None = None) -> dict[str, Any]:
    """The POST body from parsed options; bad combinations are one-line CLIErrors."""
    schedule: dict[str, Any] = {}
    if args.local:
        if not args.at:
            raise CLIError("--local needs --at HH:MM", exit_code=EXIT_USAGE)
        day = args.date or ((today or _dt.date.today()) + _dt.timedelta(days=1)).isoformat()
        schedule = {"local_time": args.at, "date": day}
    elif args.at:
        schedule = {"at": args.at}
    elif args.date:
        raise CLIError("--date goes with --at HH:MM --local", exit_code=EXIT_USAGE)
    if args.delay:
        schedule["delay"] = args.delay
    try:
        return notification_request(
            users=[u.strip() for u in args.users.split(",") if u.strip()] if args.users else None,
            segment=args.segment,
            filter=args.filter,
            topic=args.topic,
            template=args.template,
            title=args.title,
            body=args.body,
            data=parse_metadata(args.data) if args.data else None,
            image=args.image,
            link=args.link,
            category=args.category,
            level=args.level,
            ttl=args.ttl,
            collapse_key=args.collapse_key,
            idempotency_key=args.idempotency_key,
            timezone=args.timezone,
            **schedule,
        )
    except SendError as exc:
        raise CLIError(str(exc).removeprefix("push_to: "), exit_code=EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    request = build_request(args)
    try:
        dsn = users_dsn(args.dsn)
    except SendError as exc:
        raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    answer = post_json(dsn, NOTIFICATIONS_PATH, request, timeout=args.timeout)
    print(
        json.dumps(
            {"id": answer.get("id"), "status": answer.get("status"), "start_at": answer.get("start_at")}
        )
    )
    if sys.stderr.isatty():
        print(f"pushlog: notification {answer.get('id')} {answer.get('status')}", file=sys.stderr)
    return 0
