"""``pushlog devices list|remove|rekey``: the hub's push devices, read from its database directly."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from ._errors import CLIError
from ._keys import add_db_arguments, open_engine

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog devices list
      pushlog devices list --kind team            # or users, webpush, fcm, apns
      pushlog devices list --user 42              # one app user's devices
      pushlog devices list --data-dir /srv/pushlog
      pushlog devices remove dev_0123456789abcdef
      pushlog devices rekey --new-key             # rotate the device key (hub stopped), docs/hub.md

    Team devices are added from the web app (Enable push); app users' devices by the app's backend
    with a users key. Works on the data directory (default ./.pushlog, $PUSHLOG_DATA_DIR) or --db,
    hub running or not (except rekey --new-key/--retire: stop the hub first).
    """
)

_KINDS = ("team", "users", "webpush", "fcm", "apns")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list and remove push devices, rotate their key (local data dir)",
        description="List or remove the hub's push devices, or rotate the key that encrypts their "
        "tokens (works without a running hub).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list devices")
    listing.add_argument("--kind", choices=_KINDS, help="team or users devices, or one transport")
    listing.add_argument("--user", metavar="USER_ID", help="only this app user's devices")
    add_db_arguments(listing)
    listing.set_defaults(func=_list)
    remove = sub.add_parser("remove", help="remove a device by id")
    remove.add_argument("device", help="device id (dev_...)")
    add_db_arguments(remove)
    remove.set_defaults(func=_remove)
    rekey = sub.add_parser(
        "rekey", help="re-encrypt device tokens and keys under the current key (optionally a new one)"
    )
    rekey.add_argument(
        "--new-key", action="store_true", help="first put a fresh key first in the data dir's key file"
    )
    rekey.add_argument(
        "--retire", action="store_true", help="afterwards drop the older keys from the key file"
    )
    add_db_arguments(rekey)
    rekey.set_defaults(func=_rekey)


def _data_dir(args: argparse.Namespace) -> Path:
    from pushlog.hub.config import default_data_dir

    return Path(args.data_dir) if args.data_dir is not None else default_data_dir()


def _host(endpoint: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(endpoint).hostname or "-" if endpoint else "-"


def _list(args: argparse.Namespace) -> int:
    from pushlog.hub.store import devices as device_store
    from pushlog.hub.store.device_tokens import KEY_ENV, DeviceTokenKeyError, DeviceTokenVault, load_vault

    engine = open_engine(args)
    try:
        vault = load_vault(_data_dir(args), os.environ.get(KEY_ENV), create=False)
    except DeviceTokenKeyError as exc:  # still list; endpoints stay unread
        print(f"pushlog: {exc}: push services not shown", file=sys.stderr)
        vault = DeviceTokenVault(os.urandom(32))
    kind = args.kind if args.kind in ("webpush", "fcm", "apns") else None
    team = {"team": True, "users": False}.get(args.kind or "")
    try:
        with engine.connect() as conn:
            rows = device_store.list_devices(conn, vault, team=team, user_id=args.user, kind=kind)
    finally:
        engine.dispose()
    print(f"{'ID':<22} {'KIND':<8} {'USER':<16} {'MIN LEVEL':<10} {'CHANNELS':<16} {'PUSH SERVICE':<28} NAME")
    for d in rows:
        channels = ",".join(d["preferences"]["channels"]) if d["preferences"]["channels"] else "all"
        level = str(d["preferences"]["min_level"])
        host = _host(d["endpoint"])
        user = d["user_id"] or "(team)"
        print(
            f"{d['id']:<22} {d['kind']:<8} {user:<16} {level:<10} {channels:<16} {host:<28} {d['name'] or ''}"
        )
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


def _rekey(args: argparse.Namespace) -> int:
    """Re-encrypt every device under the current key; ``--new-key`` first makes a fresh key current,
    ``--retire`` then drops the older ones. Changing keys needs the hub stopped (the data dir's lock):
    a running hub would go on sealing with the key it started with."""
    from pushlog.hub._backup import DataDirLock
    from pushlog.hub.store import devices as device_store
    from pushlog.hub.store.device_tokens import KEY_ENV, add_key, load_vault, retire_old_keys

    env_key = os.environ.get(KEY_ENV)
    if env_key and (args.new_key or args.retire):
        raise CLIError(
            f"the device key comes from ${KEY_ENV}: rotate there (new key first, comma, old key), "
            "run 'pushlog devices rekey', then drop the old key"
        )
    data_dir = _data_dir(args)
    lock = DataDirLock(data_dir)
    if (args.new_key or args.retire) and not lock.try_exclusive():
        lock.release()
        raise CLIError(
            f"a hub is running on {data_dir}: stop it first (it keeps using the keys it started with; "
            "it re-encrypts under the current key when it starts)"
        )
    engine = open_engine(args)
    try:
        if args.new_key:
            print(f"new device key {add_key(data_dir)} is now the current one")
        vault = load_vault(data_dir, env_key)
        resealed = device_store.reseal_all(engine, vault)
        print(f"re-encrypted {resealed} devices under key {vault.key_id}")
        if args.retire:
            with engine.connect() as conn:
                left = device_store.count_not_current(conn, vault)
            if left:
                raise CLIError(
                    f"{left} devices are not under the current key (they do not decrypt); older keys kept"
                )
            print(f"dropped {retire_old_keys(data_dir)} older keys from the key file")
    finally:
        engine.dispose()
        lock.release()
    return 0
