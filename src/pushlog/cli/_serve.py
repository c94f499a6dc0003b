"""``pushlog serve``: run the hub (needs the ``pushlog[hub]`` extra).

First start creates the data directory, the database, the VAPID key pair and the admin, publish and
read keys; every start prints the URL, the ``PUSHLOG_DSN`` to export, the read key for the web app
and a two-line Python example. Stops gracefully on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import _serve_ops
from ._common import EXIT_USAGE, record_local_hub
from ._errors import CLIError

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog serve
      pushlog serve --port 0 --data-dir /tmp/pushlog-try
      pushlog serve --host 0.0.0.0 --port 8765 \\
          --public-url https://push.example.com
      pushlog serve --db postgresql+psycopg://pushlog@db/pushlog
      pushlog serve --db postgresql+psycopg://pushlog@db/pushlog --workers 4

    Each start prints the URL, the PUSHLOG_DSN to export and the read key, and records the URL in the
    data directory so that 'pushlog tail' on this machine finds the hub without options.
    """
)

FCM_CREDENTIALS_ENV = "PUSHLOG_FCM_CREDENTIALS"
DEVICE_TOKEN_KEY_ENV = "PUSHLOG_DEVICE_TOKEN_KEY"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the hub (feed, API, web app, Web Push)",
        description="Run the pushlog hub. Data lives in --data-dir (default ./.pushlog, $PUSHLOG_DATA_DIR).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (default ./.pushlog)")
    parser.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: SQLite in the data dir)"
    )
    parser.add_argument(
        "--public-url", default=None, help="URL phones use to reach the hub (links in pushes)"
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        type=_address_list,
        default=(),
        metavar="ADDRESSES",
        help="reverse proxies (comma-separated addresses or networks) whose X-Forwarded-For/-Proto "
        "are believed, e.g. 127.0.0.1 behind a local Caddy (default: none)",
    )
    parser.add_argument(
        "--allow-private-endpoints",
        action="store_true",
        help="development only: accept push endpoints on loopback/private addresses and plain http",
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, metavar="PER_SECOND", help="requests/s per key"
    )
    parser.add_argument("--rate-burst", type=int, default=None, help="burst size of the per-key rate limit")
    parser.add_argument("--max-request-bytes", type=int, default=None, help="largest request body accepted")
    parser.add_argument(
        "--critical-repeat", type=float, default=None, metavar="SECONDS", help="CRITICAL re-push interval"
    )
    parser.add_argument(
        "--critical-expiry", type=float, default=None, metavar="SECONDS", help="stop re-pushing after"
    )
    parser.add_argument("--vapid-subject", default=None, help="VAPID contact (mailto: or https: URL)")
    limits = parser.add_argument_group(
        "limits on abuse", "defaults and over-limit answers: docs/hub.md, Limits"
    )
    limits.add_argument(
        "--header-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time to send request headers (10)",
    )
    limits.add_argument(
        "--body-timeout", type=float, default=None, metavar="SECONDS", help="time to send a request body (30)"
    )
    limits.add_argument(
        "--max-connections", type=int, default=None, metavar="N", help="open connections (1000)"
    )
    limits.add_argument(
        "--max-streams", type=int, default=None, metavar="N", help="live streams in total (500)"
    )
    limits.add_argument(
        "--max-streams-per-key", type=int, default=None, metavar="N", help="live streams per key (100)"
    )
    limits.add_argument(
        "--auth-failures",
        type=int,
        default=None,
        metavar="N",
        help="failed key checks per address per minute (20)",
    )
    limits.add_argument(
        "--push-budget", type=int, default=None, metavar="N", help="pushed events per key per minute (60)"
    )
    limits.add_argument(
        "--max-critical-series",
        type=int,
        default=None,
        metavar="N",
        help="running CRITICAL re-push series per key (10)",
    )
    native = parser.add_argument_group("native push (docs/hub.md, FCM and APNs)")
    native.add_argument(
        "--fcm-credentials",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"Firebase service-account JSON for FCM (default ${FCM_CREDENTIALS_ENV})",
    )
    native.add_argument("--apns-key", type=Path, default=None, metavar="FILE", help="APNs AuthKey_XXXX.p8")
    native.add_argument("--apns-key-id", default=None, help="the key's 10-character Key ID")
    native.add_argument("--apns-team-id", default=None, help="your Apple developer Team ID")
    native.add_argument("--apns-topic", default=None, help="the iOS app's bundle id")
    native.add_argument(
        "--apns-environment",
        choices=("production", "sandbox"),
        default=None,
        help="production (App Store/TestFlight builds, default) or sandbox (development builds)",
    )
    native.add_argument(
        "--apns-critical-entitled",
        action="store_true",
        help="the app holds Apple's critical-alerts entitlement: CRITICAL uses interruption-level critical",
    )
    _serve_ops.add_options(parser)
    parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        metavar="FILE",
        help="a TOML rules file declared at every start (docs/rules.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.set_defaults(func=run)


def _address_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _config(args: argparse.Namespace) -> Any:
    from pushlog.hub.config import HubConfig, default_data_dir

    values: dict[str, Any] = {
        "data_dir": args.data_dir if args.data_dir is not None else default_data_dir(),
        "db_url": args.db,
        "host": args.host,
        "port": args.port,
        "public_url": args.public_url,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "allow_private_endpoints": args.allow_private_endpoints,
    }
    optional = {
        "rate_limit_per_second": args.rate_limit,
        "rate_limit_burst": args.rate_burst,
        "max_request_bytes": args.max_request_bytes,
        "critical_repeat_interval": args.critical_repeat,
        "critical_expiry": args.critical_expiry,
        "vapid_subject": args.vapid_subject,
        "header_timeout": args.header_timeout,
        "body_timeout": args.body_timeout,
        "max_connections": args.max_connections,
        "max_streams": args.max_streams,
        "max_streams_per_key": args.max_streams_per_key,
        "auth_failures_per_minute": args.auth_failures,
        "push_budget_per_minute": args.push_budget,
        "max_critical_series": args.max_critical_series,
        "fcm_credentials": args.fcm_credentials
        or (Path(p) if (p := os.environ.get(FCM_CREDENTIALS_ENV)) else None),
        "apns_key": args.apns_key,
        "apns_key_id": args.apns_key_id,
        "apns_team_id": args.apns_team_id,
        "apns_topic": args.apns_topic,
        "apns_environment": args.apns_environment,
        "apns_critical_entitled": args.apns_critical_entitled or None,
        "device_token_key": os.environ.get(DEVICE_TOKEN_KEY_ENV) or None,
        "rules_file": _rules_file(args.rules),
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    apns = [args.apns_key, args.apns_key_id, args.apns_team_id, args.apns_topic]
    if any(apns) and not all(apns):
        raise CLIError("APNs needs all of --apns-key, --apns-key-id, --apns-team-id and --apns-topic")
    values.update(_serve_ops.config_values(args))
    try:
        config = HubConfig(**values)
    except ValueError as exc:
        raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    _serve_ops.check_workers(args.workers, sqlite=config.is_sqlite)
    return config


def _rules_file(path: Path | None) -> Path | None:
    """``--rules``: checked before the hub starts, so a mistake is one line naming the rule."""
    if path is None:
        return None
    from pushlog.hub.rules import RulesFileError, read_rules_file

    try:
        read_rules_file(path)
    except RulesFileError as exc:
        raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    return path


def _check_native(config: Any) -> None:
    """Refuse to start with unreadable FCM or APNs credentials (instead of failing every push later)."""
    if config.fcm_credentials:
        from pushlog.hub.delivery.fcm import CredentialsError, ServiceAccount

        try:
            ServiceAccount.from_file(config.fcm_credentials)
        except CredentialsError as exc:
            raise CLIError(str(exc)) from None
    if config.apns_key:
        from pushlog.hub.delivery.apns import ApnsKeyError, load_key_file

        try:
            load_key_file(config.apns_key)
        except ApnsKeyError as exc:
            raise CLIError(str(exc)) from None


def banner(listen_url: str, base_url: str, dsn: str, read_key: str, data_dir: Path) -> str:
    """What a start prints: where it listens, and the public URL (``--public-url``, else the same
    address) for the web app and the DSN, since that is where browsers and apps reach it."""
    return "\n".join(
        [
            f"pushlog hub listening on {listen_url}",
            f"  web app:   {base_url}/  (sign in with the read key below)",
            f"  data:      {data_dir.resolve()}  (keys in credentials.json)",
            "",
            "Send events from your app:",
            f"  export PUSHLOG_DSN={dsn}",
            "",
            f"Read key for the web app and 'pushlog tail': {read_key}",
            "",
            "Python:",
            "  import logging, pushlog",
            '  logging.getLogger().addHandler(pushlog.PushHandler()); logging.warning("Hello from pushlog")',
            "",
        ]
    )


def run(args: argparse.Namespace) -> int:
    try:
        from pushlog.hub._bootstrap import bootstrap
        from pushlog.hub._server import bind, build_server, with_bound_port
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"the hub needs extra packages ({exc.name} missing): pip install 'pushlog[hub]'"
        ) from None
    config = _config(args)
    _check_native(config)
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    try:
        config = with_bound_port(config, sock)
        try:
            ready = bootstrap(config)
        except Exception as exc:
            raise CLIError(f"cannot open the hub's data ({config.database_url}): {exc}") from None
        ready.engine.dispose()
        if args.workers > 1:  # created once here, not raced by the workers' first starts
            from pushlog.hub.store.device_tokens import open_vault

            open_vault(config.data_dir, config.device_token_key)
        listen_url = dataclasses.replace(config, public_url=None).base_url
        record_local_hub(config.data_dir, listen_url)
        print(
            banner(
                listen_url,
                config.base_url,
                ready.credentials.dsn(config.base_url),
                ready.credentials.read,
                config.data_dir,
            ),
            flush=True,
        )
        if args.workers > 1:
            from ._serve_workers import supervise

            return supervise(config, sock, workers=args.workers, access_log=not args.quiet)
        server, _app = build_server(config, access_log=not args.quiet)
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        print("pushlog: the hub failed to start (see the log above)", file=sys.stderr)
        return 1
    return 0
