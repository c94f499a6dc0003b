"""pushlog: your Python logs as a live feed and push notifications on your phone.

    import logging, pushlog
    logging.getLogger().addHandler(pushlog.PushHandler())   # reads PUSHLOG_DSN
    pushlog.log("Deployed", body="commit abc in 41s", env="prod")   # feed only
    pushlog.notify("€29 payment", user_id=42)                      # push
    pushlog.critical("Payments failing", body="card gateway 502")   # urgent push
    pushlog.flush(timeout=2.0)

The three calls take the reserved keywords ``body``, ``channel``, ``tags``, ``link``, ``image``,
``actions``, ``fingerprint``, ``resolves`` (the fingerprint of an earlier alert this event ends; its
notification is replaced by "resolved", docs/rules.md); every other keyword argument is metadata.
They return the event id, or ``None`` when pushlog is inert (no ``PUSHLOG_DSN``). They never raise
and never block. ``expect("nightly backup finished", every="1d")`` asks the hub to push when a line
stops coming.

Errors you may catch: :class:`DSNError` (a ``ValueError``) when a DSN given explicitly, as
``Client(dsn)`` or ``PushHandler(dsn)``, is malformed; :class:`SendError` from :func:`send_now`, the
synchronous send that reports the hub's answer.

``expect``, ``Registration``, ``job`` and ``push_to`` load with their first use (module
``__getattr__``), so ``import pushlog`` stays small for an application that only logs.
"""

from __future__ import annotations

from ._client import Client, emit, get_default_client, install_sigterm_flush, set_default_client
from ._dsn import DSNError
from ._event import Event
from ._handler import PushHandler
from ._levels import Level
from ._transport import SendError, SendResult, send_now

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Any

    from ._expect import Registration, expect
    from ._job import job
    from ._push_to import push_to

#: Public names whose modules load on first access: name -> the private module defining it.
_LAZY = {"expect": "._expect", "Registration": "._expect", "job": "._job", "push_to": "._push_to"}

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DSNError",
    "Event",
    "Level",
    "PushHandler",
    "Registration",
    "SendError",
    "SendResult",
    "__version__",
    "critical",
    "expect",
    "flush",
    "get_default_client",
    "install_sigterm_flush",
    "job",
    "log",
    "notify",
    "push_to",
    "send_now",
    "set_default_client",
]


def __getattr__(name: str) -> Any:
    """Load ``expect``, ``Registration``, ``job`` and ``push_to`` on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pushlog' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later accesses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _fields(
    body: object,
    channel: object,
    tags: object,
    link: object,
    image: object,
    actions: object,
    fingerprint: object,
    resolves: object,
) -> dict[str, Any]:
    return {
        "body": body,
        "channel": channel,
        "tags": tags,
        "link": link,
        "image": image,
        "actions": actions,
        "fingerprint": fingerprint,
        "resolves": resolves,
    }


def log(
    title: str,
    *,
    body: str | None = None,
    channel: str | None = None,
    tags: list[str] | None = None,
    link: str | None = None,
    image: str | None = None,
    actions: list[dict[str, str]] | None = None,
    fingerprint: str | None = None,
    resolves: str | None = None,
    **metadata: Any,
) -> str | None:
    """An INFO event: goes to the feed, not pushed. Returns the event id or ``None`` when inert."""
    return emit(
        Level.INFO, title, _fields(body, channel, tags, link, image, actions, fingerprint, resolves), metadata
    )


def notify(
    title: str,
    *,
    body: str | None = None,
    channel: str | None = None,
    tags: list[str] | None = None,
    link: str | None = None,
    image: str | None = None,
    actions: list[dict[str, str]] | None = None,
    fingerprint: str | None = None,
    resolves: str | None = None,
    **metadata: Any,
) -> str | None:
    """A WARNING event: feed and push. Returns the event id or ``None`` when inert."""
    return emit(
        Level.WARNING,
        title,
        _fields(body, channel, tags, link, image, actions, fingerprint, resolves),
        metadata,
    )


def critical(
    title: str,
    *,
    body: str | None = None,
    channel: str | None = None,
    tags: list[str] | None = None,
    link: str | None = None,
    image: str | None = None,
    actions: list[dict[str, str]] | None = None,
    fingerprint: str | None = None,
    resolves: str | None = None,
    **metadata: Any,
) -> str | None:
    """A CRITICAL event: urgent push, re-pushed by the hub until acknowledged. Returns the id or ``None``."""
    return emit(
        Level.CRITICAL,
        title,
        _fields(body, channel, tags, link, image, actions, fingerprint, resolves),
        metadata,
    )


def flush(timeout: float = 2.0) -> bool:
    """Send what the default client (used by these calls and by ``PushHandler()``) has queued; bounded.

    Returns whether everything went out. Use it before a serverless function returns.
    """
    return get_default_client().flush(timeout)
