"""Helpers shared by the client-side commands (``send``, ``run``, ``tail``).

* Where the hub is and which key to use: publishing commands read ``--dsn`` / ``PUSHLOG_DSN`` (a publish
  key); reading commands (``tail``) need a *read* key, given with ``--key`` / ``PUSHLOG_READ_KEY``, and
  the hub's URL with ``--url`` / ``PUSHLOG_URL`` (defaulting to the DSN's host when a DSN is set).
  With none of them, a hub started on this machine is found through its data directory
  (``$PUSHLOG_DATA_DIR`` or ``./.pushlog``): ``pushlog serve`` records the URL it listens on there
  (:func:`record_local_hub`) beside ``credentials.json``, whose read key is used for that URL only.
* Durations like ``90s``, ``15m``, ``1h``, ``1d``, ``1w`` (or a bare number of seconds).
* ``KEY=VALUE`` metadata options.
* The hub's JSON error envelope turned into one line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from .._dsn import DSN, ENV_VAR, DSNError, parse_dsn
from .._duration import parse_duration as _parse_duration
from ._errors import CLIError
from ._safe_text import visible

READ_KEY_ENV: Final = "PUSHLOG_READ_KEY"
URL_ENV: Final = "PUSHLOG_URL"
#: File in the hub's data directory where ``pushlog serve`` records the URL it listens on.
LOCAL_HUB_FILE: Final = "listening.json"

#: Exit code for a hub that could not be reached (after retries) — distinct from a refused request.
EXIT_UNREACHABLE: Final = 3
#: Exit code for a request the hub refused (bad key, bad event).
EXIT_REFUSED: Final = 4
#: Exit code for bad usage (argparse uses 2 as well).
EXIT_USAGE: Final = 2


def parse_duration(text: str) -> _dt.timedelta:
    """Parse ``90s``, ``15m``, ``1h30m``, ``1d``, ``2w`` or a bare number of seconds (see
    :mod:`pushlog._duration`); raises :class:`ValueError` with a one-line message."""
    return _parse_duration(text)


def duration_arg(text: str) -> _dt.timedelta:
    """argparse ``type=`` for durations: a bad value becomes argparse's usual one-line error."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_metadata(pairs: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` to a dict; raises :class:`CLIError` naming the bad pair."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"bad metadata {pair!r}: use KEY=VALUE", exit_code=EXIT_USAGE)
        out[key] = value
    return out


def split_tags(values: list[str] | None) -> list[str]:
    """``-g a,b -g c`` to ``["a", "b", "c"]`` (blank items dropped, order kept, no duplicates)."""
    tags: list[str] = []
    for value in values or []:
        for tag in value.split(","):
            tag = tag.strip()
            if tag and tag not in tags:
                tags.append(tag)
    return tags


# -- where the hub is --------------------------------------------------------------------------------


def add_dsn_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        metavar="DSN",
        help=f"hub and publish key, http(s)://KEY@HOST[:PORT][/PREFIX] (default: ${ENV_VAR})",
    )


def resolve_dsn(value: str | None, environ: dict[str, str] | None = None) -> DSN:
    """The DSN from ``--dsn`` or ``PUSHLOG_DSN``; a missing or malformed one is a one-line CLIError."""
    env = os.environ if environ is None else environ
    raw = (value or env.get(ENV_VAR, "")).strip()
    if not raw:
        raise CLIError(f"no DSN: set {ENV_VAR} or pass --dsn http(s)://KEY@HOST", exit_code=EXIT_USAGE)
    try:
        return parse_dsn(raw)
    except DSNError as exc:
        raise CLIError(str(exc), exit_code=EXIT_USAGE) from None


def add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"the hub's base URL (default: ${URL_ENV}, else the host of $PUSHLOG_DSN)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help=f"a key with read scope (default: ${READ_KEY_ENV})",
    )


@dataclass(frozen=True, slots=True)
class HubAccess:
    """Base URL (no trailing slash) and a bearer key for the hub's read API."""

    base_url: str
    key: str


@dataclass(frozen=True, slots=True)
class LocalHub:
    """A hub started on this machine, as its data directory describes it."""

    base_url: str
    read_key: str | None


def record_local_hub(data_dir: Path, base_url: str) -> None:
    """Write the URL a hub listens on into its data directory (for :func:`find_local_hub`)."""
    path = Path(data_dir) / LOCAL_HUB_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": base_url}) + "\n")
    os.replace(tmp, path)


def find_local_hub(environ: dict[str, str] | None = None) -> LocalHub | None:
    """The hub whose data directory is ``$PUSHLOG_DATA_DIR`` or ``./.pushlog``, if one was served there."""
    from pushlog.hub.config import CREDENTIALS_FILE, default_data_dir

    data_dir = default_data_dir(environ)
    try:
        url = json.loads((data_dir / LOCAL_HUB_FILE).read_text())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    read_key = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        found = json.loads((data_dir / CREDENTIALS_FILE).read_text())["read"]
        read_key = found if isinstance(found, str) and found else None
    return LocalHub(base_url=url.rstrip("/"), read_key=read_key)


def resolve_read_access(url: str | None, key: str | None, environ: dict[str, str] | None = None) -> HubAccess:
    """Where to read from and with which key; the publish key of the DSN is never used to read.

    The URL is ``--url``, ``$PUSHLOG_URL``, the DSN's host, else the local hub's; the key is ``--key``,
    ``$PUSHLOG_READ_KEY``, else the local hub's read key when reading from the local hub's URL.
    """
    local = find_local_hub(environ)
    env = os.environ if environ is None else environ
    base = (url or env.get(URL_ENV, "")).strip()
    if not base:
        raw_dsn = env.get(ENV_VAR, "").strip()
        if raw_dsn:
            try:
                base = parse_dsn(raw_dsn).base_url
            except DSNError as exc:
                raise CLIError(str(exc), exit_code=EXIT_USAGE) from None
    if not base and local is not None:
        base = local.base_url
    if not base:
        raise CLIError(
            f"no hub URL: pass --url or set {URL_ENV} (or {ENV_VAR}), "
            "or run 'pushlog serve' in this directory first",
            exit_code=EXIT_USAGE,
        )
    if not base.startswith(("http://", "https://")):
        raise CLIError(f"hub URL must start with http:// or https://: {base!r}", exit_code=EXIT_USAGE)
    base = base.rstrip("/")
    secret = (key or env.get(READ_KEY_ENV, "")).strip()
    if not secret and local is not None and local.base_url == base:
        secret = local.read_key or ""
    if not secret:
        raise CLIError(
            f"no read key: pass --key or set {READ_KEY_ENV} (a key with read scope, see 'pushlog keys')",
            exit_code=EXIT_USAGE,
        )
    return HubAccess(base_url=base, key=secret)


def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pushlog-cli/{version('pushlog')}"
    except PackageNotFoundError:  # pragma: no cover - source tree without metadata
        return "pushlog-cli/0"


def hub_client(access: HubAccess, *, timeout: float = 10.0) -> httpx.Client:
    """A synchronous client for the hub's API with the key and a bounded timeout."""
    return httpx.Client(
        base_url=access.base_url,
        headers={"Authorization": f"Bearer {access.key}", "User-Agent": user_agent()},
        timeout=timeout,
    )


def error_message(response: httpx.Response) -> str:
    """One line for a failed hub response: the JSON envelope's message, or the status."""
    detail = ""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        detail = str(err.get("message") or err.get("code") or "")
    if not detail:
        detail = response.reason_phrase or "error"
    detail = visible(" ".join(detail.split()))  # the hub may quote what it was sent
    return f"hub answered {response.status_code}: {detail}"


def raise_for_hub(response: httpx.Response) -> None:
    """Turn a non-2xx hub answer into a CLIError (refused: 4)."""
    if response.is_success:
        return
    raise CLIError(error_message(response), exit_code=EXIT_REFUSED)
