"""Sentry: forward the error events Sentry sends as pushlog pushes, from ``before_send``.

    import sentry_sdk
    from pushlog.integrations.sentry import before_send, make_before_send

    sentry_sdk.init(dsn=SENTRY_DSN, before_send=before_send)            # ERROR and up, default client
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        before_send=make_before_send(
            min_level="warning",
            channel="errors",
            link_template="https://acme.sentry.io/issues/?query={event_id}",
            chain=my_existing_before_send,
        ),
    )

What is pushed: level from Sentry's ``level`` (``fatal`` is CRITICAL); title from the log message, or
the exception as ``Type: message``; body the exception summary and its innermost frame; metadata
``sentry_event_id`` plus ``environment``, ``release``, ``transaction`` and the event's tags; ``link``
from ``link_template`` (``{event_id}``).

Guarantees:

* The hook returns the event it was given (or what ``chain`` returned), even when forwarding fails;
  a raising ``before_send`` would make Sentry drop the user's event. Our failures become one
  rate-limited note on stderr. Exceptions raised by ``chain`` itself are not ours and propagate, as
  they would without pushlog.
* An event Sentry built from a log record that a :class:`~pushlog.PushHandler` already pushed (the
  handler marks the record; Sentry's logging integration calls handlers first) is not pushed again;
  nor is one whose record came from a structlog :class:`~pushlog.integrations.structlog.PushProcessor`.
* Events Sentry made from pushlog's own logging (its HTTP stack's loggers, its worker thread) are never
  pushed: with ``LoggingIntegration(event_level=INFO)`` pushlog would otherwise feed on itself.
* Repeats are deduplicated like other events (by level, message and the exception's type and frame).

sentry-sdk is not imported by this module.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from .._client import CAPTURE, Client, get_default_client
from .._event import MAX_BODY, MAX_URL, Event, truncate
from .._handler import ignored_record
from .._levels import Level, parse_level
from .._snapshot import RECORD_EVENT_ID, STRUCTLOG_MARKER, host_name, safe_metadata, safe_str, split_message
from .._transport import StderrNote

__all__ = ["before_send", "make_before_send"]

SentryEvent = dict[str, Any]
Hint = dict[str, Any]
BeforeSend = Callable[[SentryEvent, Hint], "SentryEvent | None"]


def _already_pushed(hint: Mapping[str, Any] | None) -> bool:
    record = hint.get("log_record") if isinstance(hint, Mapping) else None
    if record is None:
        return False
    attrs = getattr(record, "__dict__", {})
    if attrs.get(RECORD_EVENT_ID) or attrs.get(STRUCTLOG_MARKER):
        return True
    msg = getattr(record, "msg", None)
    return type(msg) is dict and bool(msg.get(STRUCTLOG_MARKER))


def _from_pushlog(hint: Mapping[str, Any] | None, client: Client) -> bool:
    """Whether Sentry built the event from pushlog's own logging (its HTTP requests, its worker thread):
    pushing it would feed pushlog on itself."""
    record = hint.get("log_record") if isinstance(hint, Mapping) else None
    if isinstance(record, logging.LogRecord):
        return ignored_record(record, client)
    return threading.get_ident() == client.worker_ident


def _last_exception(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The exception that was raised last (Sentry lists chained exceptions oldest first)."""
    container = event.get("exception")
    values = container.get("values") if isinstance(container, Mapping) else container
    if isinstance(values, list) and values and isinstance(values[-1], Mapping):
        return values[-1]
    return None


def _innermost_frame(exc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    stack = exc.get("stacktrace")
    frames = stack.get("frames") if isinstance(stack, Mapping) else None
    if isinstance(frames, list) and frames and isinstance(frames[-1], Mapping):
        return frames[-1]
    return None


def _message(event: Mapping[str, Any]) -> str | None:
    entry = event.get("logentry") or event.get("message")
    if isinstance(entry, Mapping):
        text = entry.get("formatted") or entry.get("message")
        return safe_str(text) if text else None
    return safe_str(entry) if entry else None


def _tags(event: Mapping[str, Any]) -> dict[str, Any]:
    tags = event.get("tags")
    if isinstance(tags, Mapping):
        return {safe_str(k): v for k, v in tags.items()}
    if isinstance(tags, list):  # Sentry also accepts [[key, value], ...]
        return {safe_str(p[0]): p[1] for p in tags if isinstance(p, list | tuple) and len(p) == 2}
    return {}


def event_from_sentry(
    event: Mapping[str, Any], *, level: Level, channel: str | None, link_template: str | None
) -> tuple[Event, Hashable]:
    """The pushlog event for a Sentry event, and its dedup key."""
    exc = _last_exception(event)
    summary = frame_text = None
    etype = None
    frame = None
    if exc is not None:
        etype = safe_str(exc.get("type") or "Exception")
        module = exc.get("module")
        if module and module not in ("builtins", "__main__"):
            etype = f"{module}.{etype}"
        value = exc.get("value")
        summary = f"{etype}: {safe_str(value)}" if value else etype
        frame = _innermost_frame(exc)
        if frame is not None:
            where = frame.get("abs_path") or frame.get("filename") or frame.get("module") or "?"
            frame_text = f"  at {where}:{frame.get('lineno', '?')} in {frame.get('function', '?')}"
    message = _message(event)
    title, rest = split_message(message or summary or "Sentry event")
    lines = [rest] if rest else []
    if message and summary:
        lines.append(summary)
    if frame_text:
        lines.append(frame_text if message and summary else frame_text.strip())
    body = "\n".join(lines)
    pushed = Event(title=title, level=level, body=truncate(body, MAX_BODY) if body else None)
    event_id = safe_str(event.get("event_id") or "")
    meta: dict[str, Any] = {"sentry_event_id": event_id} if event_id else {}
    for key in ("environment", "release", "transaction"):
        if event.get(key):
            meta[key] = event[key]
    for key, value in _tags(event).items():
        meta.setdefault(key, value)
    pushed.metadata = safe_metadata(meta)
    if channel:
        pushed.channel = channel
    if link_template and event_id:
        try:
            pushed.link = truncate(link_template.format(event_id=event_id), MAX_URL)
        except (KeyError, IndexError, ValueError):
            pushed.link = None
    logger = safe_str(event.get("logger") or "sentry")
    module = f"{frame.get('module') or '?'}:{frame.get('lineno', '?')}" if frame is not None else "sentry"
    pushed.source = {
        "logger": logger,
        "module": module,
        "host": safe_str(event.get("server_name") or host_name()),
        "pid": os.getpid(),
    }
    frame_key = (frame.get("abs_path") or frame.get("filename"), frame.get("lineno")) if frame else None
    dedup: Hashable = ("sentry", logger, int(level), message or "", etype, frame_key)
    return pushed, dedup


def make_before_send(
    *,
    min_level: int | str = "error",
    channel: str | None = None,
    link_template: str | None = None,
    client: Client | None = None,
    chain: BeforeSend | None = None,
) -> BeforeSend:
    """A Sentry ``before_send`` hook that pushes events at or above ``min_level``.

    ``channel`` sets the events' channel; ``link_template`` (with ``{event_id}``) links each push to the
    event in Sentry; ``client`` defaults to the process's default client (``PUSHLOG_DSN``); ``chain``
    is your own ``before_send``, run first: if it drops the event (returns ``None``), nothing is pushed.
    """
    threshold = parse_level(min_level)
    note = StderrNote(interval=60.0)

    def pushlog_before_send(event: SentryEvent, hint: Hint) -> SentryEvent | None:
        result = chain(event, hint) if chain is not None else event
        if result is None:
            return None
        try:
            level = parse_level(result.get("level") or "error")
            if level < threshold or _already_pushed(hint):
                return result
            target = client if client is not None else get_default_client()
            if _from_pushlog(hint, target):
                return result
            if target.inert and CAPTURE.get() is None:
                return result
            pushed, key = event_from_sentry(result, level=level, channel=channel, link_template=link_template)
            repeat, _first = target.check_repeat(key)
            if not repeat:
                target.capture(pushed, dedup_key=key)
        except Exception as exc:
            note(f"Sentry before_send could not forward an event: {exc!r}")
        return result

    return pushlog_before_send


#: ``sentry_sdk.init(before_send=before_send)``: ERROR and up, the default client, no channel or link.
before_send: BeforeSend = make_before_send()
