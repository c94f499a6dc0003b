"""``pushlog backup PATH``: a consistent copy of the hub's SQLite database, safe while the hub runs.

Uses SQLite's online backup API (``pushlog.hub._backup``); the copy is mode 0600. On PostgreSQL it
prints the ``pg_dump`` recipe instead (docs/deploy.md). ``restore`` lives in ``_restore.py`` and
shares :func:`add_location_options` and :func:`hub_config`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._errors import CLIError


def add_location_options(parser: argparse.ArgumentParser) -> None:
    """Where the hub's database is: the same --data-dir / --db as ``pushlog serve``."""
    parser.add_argument("--data-dir", type=Path, default=None, help="hub data directory (default ./.pushlog)")
    parser.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: SQLite in the data dir)"
    )


def hub_config(args: argparse.Namespace) -> Any:
    try:
        from pushlog.hub.config import HubConfig, default_data_dir
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"this needs the hub's packages ({exc.name} missing): pip install 'pushlog[hub]'"
        ) from None
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    return HubConfig(data_dir=data_dir, db_url=args.db)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backup",
        help="copy the hub's database to a file (safe while the hub runs)",
        description="Copy the hub's SQLite database to PATH with SQLite's online backup API: one "
        "consistent state, taken while the hub keeps running. The file is readable by you only (0600). "
        "On PostgreSQL use pg_dump (docs/deploy.md).",
        epilog="example: pushlog backup /var/backups/pushlog-$(date +%%F).db",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="file to write")
    add_location_options(parser)
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = hub_config(args)
    from pushlog.hub._backup import BackupError, backup

    try:
        copied = backup(config, args.path, force=args.force)
    except BackupError as exc:
        raise CLIError(str(exc)) from None
    print(f"backed up {copied.size} bytes (schema revision {copied.revision}) to {copied.path}")
    return 0
