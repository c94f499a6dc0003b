"""``pushlog`` command line: one module per subcommand, each with ``register(subparsers)``.

A subcommand module defines ``register(subparsers) -> None`` which adds its parser and sets
``func=<callable(args) -> int>`` as a default. Errors are one line on stderr and a non-zero exit;
tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._errors import CLIError

#: Subcommand modules, in the order ``--help`` lists them. Each is imported lazily.
SUBCOMMANDS: tuple[str, ...] = (
    "serve",
    "send",
    "run",
    "tail",
    "keys",
    "devices",
    "notify",
    "rules",
    "backup",
    "restore",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushlog",
        description="Your logs as a live feed and push notifications. Self-hosted hub included.",
        epilog="Run 'pushlog COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"pushlog.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pushlog.cli._{name}":
                raise
            continue  # subcommand not built yet
        module.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pushlog")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        if args.debug:
            raise
        print(f"pushlog: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"pushlog: error: {exc} (run with --debug for details)", file=sys.stderr)
        return 1


__all__ = ["CLIError", "main"]
