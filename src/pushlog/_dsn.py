"""``PUSHLOG_DSN`` parsing: ``http(s)://<publish-key>@<host>[:port][/prefix]``."""

from __future__ import annotations

import os

from ._lean_typing import NamedTuple

ENV_VAR = "PUSHLOG_DSN"


class DSNError(ValueError):
    """The DSN is malformed; the message is one line and says what is wrong."""


class DSN(NamedTuple):
    """A parsed DSN: the key and the hub's base URL (no trailing slash). Immutable."""

    key: str
    base_url: str

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/v1/events"

    def __repr__(self) -> str:  # never print the key
        return f"DSN(key='{self.key[:6]}…', base_url={self.base_url!r})"


def parse_dsn(value: str) -> DSN:
    """Parse a DSN string; raise :class:`DSNError` if it is not usable."""
    text = value.strip()
    import urllib.parse  # with the first DSN, not with the package

    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise DSNError("PUSHLOG_DSN must start with http:// or https://")
    if not parts.username:
        raise DSNError("PUSHLOG_DSN has no key: use http(s)://<publish-key>@<host>[:port][/prefix]")
    if not parts.hostname:
        raise DSNError("PUSHLOG_DSN has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise DSNError(f"PUSHLOG_DSN has a bad port: {exc}") from None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    prefix = parts.path.rstrip("/")
    key = urllib.parse.unquote(parts.username)
    return DSN(key=key, base_url=f"{parts.scheme}://{netloc}{prefix}")


def dsn_from_env(environ: dict[str, str] | None = None) -> DSN | None:
    """The DSN from ``PUSHLOG_DSN``, or ``None`` when unset or empty. Malformed raises DSNError."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_VAR, "").strip()
    return parse_dsn(raw) if raw else None
