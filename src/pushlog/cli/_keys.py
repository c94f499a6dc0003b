"""``pushlog keys create|list|revoke``: manage API keys in the hub's database directly.

This and ``pushlog devices`` work on the local data directory (``--data-dir``, default ``./.pushlog``
or ``$PUSHLOG_DATA_DIR``) or any database URL (``--db``) without a running hub; SQLite's WAL mode lets
them run while the hub serves. ``create`` prints the secret once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import textwrap
from pathlib import Path
from typing import Any

from ._errors import CLIError

SCOPES = ("publish", "read", "admin", "users")

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog keys create --name billing-app --scope publish
      pushlog keys create --name laptop --scope read
      pushlog keys list --all
      pushlog keys revoke key_0123456789abcdef
      pushlog keys revoke AbC3dE9x              # the PREFIX column of 'keys list'
      pushlog keys revoke --data-dir /srv/pushlog -- -bC3dE9x

    Works on the data directory (default ./.pushlog, $PUSHLOG_DATA_DIR) or --db, hub running or not.
    """
)

#: What a key prefix looks like: 8 of the url-safe characters a key's random part is made of.
_PREFIX = re.compile(r"-[A-Za-z0-9_-]{7}")


class _PrefixArgumentParser(argparse.ArgumentParser):
    """Reads an 8-character word starting with ``-`` as a value when it is no option of this parser.

    Keys made before prefixes avoided a leading ``-`` may have one (``-bC3dE9x``); argparse would
    otherwise take it for an option and ``keys revoke PREFIX`` would fail. ``--`` works as usual.
    """

    def _parse_optional(self, arg_string: str) -> Any:
        if _PREFIX.fullmatch(arg_string) and arg_string not in self._option_string_actions:
            return None
        return super()._parse_optional(arg_string)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create, list and revoke API keys (local data dir)",
        description="Manage the hub's API keys in its database (works without a running hub).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="keys_command", metavar="ACTION", required=True, parser_class=_PrefixArgumentParser
    )
    create = sub.add_parser("create", help="create a key and print its secret (shown once)")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--scope",
        choices=SCOPES,
        default="publish",
        help="publish (default), read, admin, or users (an app's backend: its users' devices only)",
    )
    add_db_arguments(create)
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    add_db_arguments(listing)
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key", help="key id (key_...), its 8-character prefix, or the secret itself")
    add_db_arguments(revoke)
    revoke.set_defaults(func=_revoke)


def add_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="hub data directory (default ./.pushlog)")
    parser.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: SQLite in the data dir)"
    )


def open_engine(args: argparse.Namespace) -> Any:
    """A migrated engine for the hub's database; CLIError when there is none."""
    try:
        from pushlog.hub.config import DB_FILE, HubConfig, default_data_dir
        from pushlog.hub.store import create_engine, migrate
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"this command needs the hub extra ({exc.name} missing): pip install 'pushlog[hub]'"
        ) from None
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    config = HubConfig(data_dir=data_dir, db_url=args.db)
    if args.db is None and not (Path(data_dir) / DB_FILE).exists():
        raise CLIError(f"no hub database in {data_dir}; start the hub once with 'pushlog serve' or pass --db")
    try:
        engine = create_engine(config.database_url)
        migrate(engine)
    except Exception as exc:
        raise CLIError(f"cannot open the hub database ({config.database_url}): {exc}") from None
    return engine


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _create(args: argparse.Namespace) -> int:
    from pushlog.hub.store import keys as key_store

    if not args.name.strip():
        raise CLIError("--name must not be empty")
    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            record, secret = key_store.create_key(conn, name=args.name.strip(), scope=args.scope, now=_now())
    finally:
        engine.dispose()
    print(f"created {record.scope} key {record.id} ({record.name}); the secret is shown only now:")
    print(secret)
    return 0


def _list(args: argparse.Namespace) -> int:
    from pushlog.hub.store import keys as key_store

    engine = open_engine(args)
    try:
        with engine.connect() as conn:
            records = key_store.list_keys(conn)
    finally:
        engine.dispose()
    shown = [r for r in records if args.all or r.revoked_at is None]
    print(f"{'ID':<22} {'SCOPE':<8} {'PREFIX':<9} {'CREATED':<17} {'LAST USED':<17} NAME")
    for r in shown:
        created = r.created_at.strftime("%Y-%m-%d %H:%M")
        used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never"
        name = r.name + (" (revoked)" if r.revoked_at else "")
        print(f"{r.id:<22} {r.scope:<8} {r.prefix:<9} {created:<17} {used:<17} {name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from pushlog.hub.store import keys as key_store

    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            found = key_store.find_key(conn, args.key)
            if found is None:
                raise CLIError(f"no key matches {args.key!r} (see 'pushlog keys list')")
            if found.revoked_at is not None:
                print(f"key {found.id} ({found.name}) was already revoked")
                return 0
            try:
                key_store.revoke_key(conn, found.id, now=_now())
            except key_store.LastAdminKeyError as exc:
                raise CLIError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"revoked {found.scope} key {found.id} ({found.name})")
    return 0
