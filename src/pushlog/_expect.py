"""``pushlog.expect()``: declare from the app that a log line should keep coming (docs/rules.md).

    pushlog.expect("nightly backup finished", every="1d", grace="1h", channel="backup")

The hub then pushes (ERROR by default) "nightly backup finished: not seen for 25 h" when no event
whose title or body contains that text (in that channel) arrived within ``every`` + ``grace``, and
resolves that push when one arrives again. The job that logs needs no change: its existing line is
the check-in.

The declaration is a ``PUT /v1/rules/{name}`` through the client's transport with its publish key,
sent from a daemon thread: ``expect()`` returns at once, never raises, and says on stderr (once per
call) when the hub could not be told. Declaring the same expectation again (every start) changes
nothing on the hub.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from ._client import CAPTURE, Client, get_default_client
from ._duration import parse_seconds
from ._levels import parse_level
from ._transport import SendError

#: Seconds (and attempts) a declaration may take in its thread.
TIMEOUT: Final = 10.0
RETRIES: Final = 3


class Registration:
    """The declaration in flight: :meth:`wait` tells whether the hub took it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.ok = False
        self.error: str | None = None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` seconds) for the hub's answer; True if it took the declaration."""
        self._done.wait(timeout)
        return self.ok

    def _finish(self, ok: bool, error: str | None = None) -> None:
        self.ok, self.error = ok, error
        self._done.set()


def expect(
    text: str,
    *,
    every: str | float,
    grace: str | float | None = None,
    channel: str | None = None,
    min_level: str | int | None = None,
    level: str | int = "error",
    name: str | None = None,
    meta: Mapping[str, Any] | None = None,
    client: Client | None = None,
) -> Registration:
    """Expect an event containing ``text`` at least every ``every`` (+ ``grace``); see the module
    docstring. ``name`` (default: ``text``) names the rule on the hub; ``min_level``, ``channel`` and
    ``meta`` narrow what counts; ``level`` is the level of the push when it is missed."""
    registration = Registration()
    try:
        rule = _declaration(text, every, grace, channel, min_level, level, meta)
        rule_name = name or text
        target = client or get_default_client()
    except Exception as exc:  # a wrong argument is said, not raised: logging setup must not fail
        _note(f"expect({text!r}) not declared: {exc}")
        registration._finish(False, str(exc))
        return registration
    hub = target.transport
    if hub is None or CAPTURE.get() is not None:
        registration._finish(False, "no hub (inert client or capture_events)")
        return registration
    path = "/v1/rules/" + urllib.parse.quote(rule_name, safe="")

    def declare() -> None:
        try:
            hub.post_json(path, rule, timeout=TIMEOUT, retries=RETRIES, method="PUT")
        except SendError as exc:
            _note(f"expect({rule_name!r}) not declared: {exc}")
            registration._finish(False, str(exc))
        except Exception as exc:
            registration._finish(False, f"{type(exc).__name__}: {exc}")
        else:
            registration._finish(True)

    threading.Thread(target=declare, name="pushlog-expect", daemon=True).start()
    return registration


def _declaration(
    text: str,
    every: str | float,
    grace: str | float | None,
    channel: str | None,
    min_level: str | int | None,
    level: str | int,
    meta: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    match: dict[str, Any] = {"text": text}
    if channel:
        match["channel"] = channel
    if min_level is not None:
        match["level"] = parse_level(min_level).wire_name
    if meta:
        match["meta"] = {str(k): str(v) for k, v in meta.items()}
    rule: dict[str, Any] = {
        "kind": "expect",
        "match": match,
        "every": parse_seconds(every, "every"),
        "level": parse_level(level).wire_name,
    }
    if grace is not None:
        rule["grace"] = parse_seconds(grace, "grace")
    return rule


def _note(message: str) -> None:
    with contextlib.suppress(Exception):
        print(f"pushlog: {message}", file=sys.stderr, flush=True)
