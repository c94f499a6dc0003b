"""``pushlog devices list|remove``: the hub's push devices, read from its database directly."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from ._errors import CLIError
from ._keys import add_db_arguments, open_engine

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog devices list
      pushlog devices list --data-dir /srv/pushlog
      pushlog devices remove dev_0123456789abcdef

    Devices are added from the web app (Enable push). Works on the data directory (default ./.pushlog,
    $PUSHLOG_DATA_DIR) or --db, hub running or not.
    """
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list and remove push devices (local data dir)",
        description="List or remove the hub's push devices (works without a running hub).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list devices")
    add_db_arguments(listing)
    listing.set_defaults(func=_list)
    remove = sub.add_parser("remove", help="remove a device by id")
    remove.add_argument("device", help="device id (dev_...)")
    add_db_arguments(remove)
    remove.set_defaults(func=_remove)


def _host(endpoint: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(endpoint).hostname or "-" if endpoint else "-"


def _list(args: argparse.Namespace) -> int:
    from pushlog.hub.store import devices as device_store

    engine = open_engine(args)
    try:
        with engine.connect() as conn:
            rows = device_store.list_devices(conn)
    finally:
        engine.dispose()
    print(f"{'ID':<22} {'KIND':<8} {'MIN LEVEL':<10} {'CHANNELS':<16} {'PUSH SERVICE':<28} NAME")
    for d in rows:
        channels = ",".join(d["preferences"]["channels"]) if d["preferences"]["channels"] else "all"
        level = str(d["preferences"]["min_level"])
        host = _host(d["endpoint"])
        print(f"{d['id']:<22} {d['kind']:<8} {level:<10} {channels:<16} {host:<28} {d['name'] or ''}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from pushlog.hub.store import devices as device_store

    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            removed = device_store.remove_device(conn, args.device)
    finally:
        engine.dispose()
    if not removed:
        raise CLIError(f"no device with id {args.device!r} (see 'pushlog devices list')")
    print(f"removed device {args.device}")
    return 0
