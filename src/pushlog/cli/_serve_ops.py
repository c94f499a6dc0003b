"""``pushlog serve`` options for running a hub for months: retention, public metrics, ``--workers``,
the delivery lease.

Kept beside ``_serve.py`` (which calls :func:`add_options` and :func:`config_values`) so the
operations settings read as one group; what they do is docs/deploy.md.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Final

from ._common import EXIT_USAGE, duration_arg
from ._errors import CLIError

_FOREVER: Final = ("forever", "off", "never")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention",
        type=_age,
        default=None,
        metavar="AGE",
        help="delete events older than AGE (default 30d; 'forever' keeps all; docs/deploy.md)",
    )
    parser.add_argument(
        "--retention-channel",
        action="append",
        type=_channel_age,
        default=[],
        metavar="CHANNEL=AGE",
        help="retention for one channel, e.g. audit=365d or audit=forever (repeatable)",
    )
    parser.add_argument(
        "--device-inactive-days",
        type=_days,
        default=None,
        metavar="DAYS",
        help="remove app users' devices not registered or refreshed for DAYS (default 270; 'forever' keeps)",
    )
    parser.add_argument(
        "--metrics-public",
        action="store_true",
        help="serve /metrics without a key (only with a loopback --host; else it needs an admin key)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="hub processes sharing the port (PostgreSQL only: a SQLite database takes one; docs/deploy.md)",
    )
    parser.add_argument(
        "--delivery-lease",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a claimed push is held before another process may send it (120; docs/deploy.md)",
    )


def _age(text: str) -> float:
    """A retention age in seconds; ``forever`` (or off, never) is infinite."""
    if text.strip().lower() in _FOREVER:
        return math.inf
    return duration_arg(text).total_seconds()


def _days(text: str) -> float:
    """A number of days (> 0), or ``forever``: infinite."""
    if text.strip().lower() in _FOREVER:
        return math.inf
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days or 'forever', got {text!r}") from None
    if not days > 0 or math.isinf(days):
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return days


def _channel_age(text: str) -> tuple[str, float]:
    channel, sep, age = text.partition("=")
    if not sep or not channel.strip():
        raise argparse.ArgumentTypeError(f"expected CHANNEL=AGE (e.g. audit=365d), got {text!r}")
    return channel.strip(), _age(age)


def _kept(age: float) -> float | None:
    """HubConfig's form of a retention age: ``None`` keeps forever."""
    return None if math.isinf(age) else age


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~pushlog.hub.config.HubConfig` fields these options set."""
    values: dict[str, Any] = {
        "metrics_public": args.metrics_public,
        "retention_channels": {name: _kept(age) for name, age in args.retention_channel},
    }
    if args.retention is not None:
        values["retention"] = _kept(args.retention)
    if args.device_inactive_days is not None:
        values["device_inactive_days"] = _kept(args.device_inactive_days)
    if args.delivery_lease is not None:
        if args.delivery_lease <= 0:
            raise CLIError("--delivery-lease must be more than 0 seconds", exit_code=EXIT_USAGE)
        values["delivery_lease"] = args.delivery_lease
    return values


def check_workers(workers: int, *, sqlite: bool) -> None:
    """``--workers``: at least 1; more than 1 needs PostgreSQL (what they share: docs/deploy.md)."""
    if workers < 1:
        raise CLIError("--workers must be at least 1", exit_code=EXIT_USAGE)
    if workers > 1 and sqlite:
        raise CLIError(
            "--workers needs PostgreSQL: a SQLite database is served by one hub process "
            "(run one process, or use --db postgresql+psycopg://...)",
            exit_code=EXIT_USAGE,
        )
