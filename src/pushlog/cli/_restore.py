"""``pushlog restore PATH``: put a ``pushlog backup`` file back as the hub's SQLite database.

Refuses while a hub runs on the data directory (unless ``--force``) and checks the file's schema
revision (``pushlog.hub._backup.restore``). On PostgreSQL it prints the ``pg_restore`` recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._backup import add_location_options, hub_config
from ._errors import CLIError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="replace the hub's database with a backup",
        description="Replace the hub's SQLite database with a file made by 'pushlog backup'. Stop the "
        "hub first: restore refuses while a hub runs on the data directory. A backup from an older "
        "pushlog is migrated when the hub next starts; one from a newer pushlog is refused.",
        epilog="example: pushlog restore /var/backups/pushlog-2026-12-01.db --data-dir /var/lib/pushlog",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="backup file to restore")
    add_location_options(parser)
    parser.add_argument(
        "--force", action="store_true", help="restore even while a hub runs on the data directory"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = hub_config(args)
    from pushlog.hub._backup import BackupError, restore

    try:
        copied = restore(config, args.path, force=args.force)
    except BackupError as exc:
        raise CLIError(str(exc)) from None
    print(f"restored {args.path} (schema revision {copied.revision}) into {copied.path}")
    return 0
