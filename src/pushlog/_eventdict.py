"""A structlog event dict -> the parts of an event, without importing structlog.

Part of the client core because both sides need it: :class:`pushlog.PushHandler` sees the dict as
``record.msg`` when structlog is routed into the standard library with
``ProcessorFormatter.wrap_for_formatter``, and :class:`pushlog.integrations.structlog.PushProcessor`
(which builds on the client) sees it in the processor chain:

* the title is the ``event`` key (its first line; further lines start the body);
* the body is the ``body`` key and/or the exception: ``exc_info`` (``True``, an exception, or a
  ``sys.exc_info()`` tuple) as ``Type: message`` plus the innermost frame; when a processor already
  rendered it into ``exception`` (``format_exc_info``'s text, ``dict_tracebacks``' list of dicts), the
  same two lines are read back from that;
* the reserved keys of DESIGN §3 (``channel``, ``tags``, ``link``, ``image``, ``actions``,
  ``fingerprint``, ``resolves``) become event fields;
* structlog's own bookkeeping (``level``, ``timestamp``, ``logger``, ``_record``, ...) is left out;
* everything else is metadata.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from ._event import MAX_BODY, MAX_FINGERPRINT, RESERVED_KEYS, Event, truncate
from ._levels import Level, level_from_number
from ._snapshot import (
    STANDARD_ATTRS,
    add_trace_ids,
    coerce_reserved,
    exception_summary,
    host_name,
    innermost_frame,
    safe_metadata,
    safe_str,
    split_message,
)

#: Keys structlog and its stdlib bridge use for their own purposes: never metadata.
BOOKKEEPING_KEYS: Final[frozenset[str]] = frozenset(
    {
        "event",
        "level",
        "log_level",
        "timestamp",
        "logger",
        "logger_name",
        "exc_info",
        "exception",
        "stack",
        "stack_info",
        "stacklevel",
        "positional_args",
        "_record",
        "_from_structlog",
        "_logger",
        "_name",
        "otelTraceID",
        "otelSpanID",
        "otelTraceSampled",
        "otelServiceName",
    }
)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


@dataclass(slots=True)
class EventDictParts:
    """What an event dict says, split the way :class:`~pushlog.Event` needs it."""

    message: str
    exc_info: ExcInfo | None = None
    exception_text: str | None = None
    reserved: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    logger: str | None = None


def as_exc_info(value: object) -> ExcInfo | None:
    """Normalise structlog's ``exc_info`` (``True``, an exception instance or a 3-tuple)."""
    if value is None or value is False:
        return None
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value
    if value is True:
        etype, exc, tb = sys.exc_info()
        if etype is not None and exc is not None:
            return etype, exc, tb
    return None


def last_line(text: object) -> str | None:
    """The last non-empty line of a rendered traceback (``ValueError: bad``)."""
    if not isinstance(text, str):
        return None
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return None


#: A frame line of a rendered Python traceback.
_FRAME_LINE: Final = re.compile(
    r'^\s*File "(?P<file>.*)", line (?P<line>\d+), in (?P<name>.*)$', re.MULTILINE
)


def rendered_exception(value: object) -> str | None:
    """``Type: message`` and ``at file:line in function`` of the innermost frame (the shape of
    :func:`pushlog._snapshot.exception_summary`) from an exception a structlog processor rendered:
    ``format_exc_info``'s traceback text, or ``dict_tracebacks``' list whose first entry is the
    exception logged (its causes follow) with its frames outermost first."""
    if isinstance(value, str):
        summary = last_line(value)
        lines = list(_FRAME_LINE.finditer(value))
        if summary is None or not lines:
            return summary
        frame = lines[-1]
        return f"{summary}\n  at {frame['file']}:{frame['line']} in {frame['name']}"
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        first = value[0]
        name, text = safe_str(first.get("exc_type") or "Exception"), safe_str(first.get("exc_value") or "")
        summary = f"{name}: {text}" if text else name
        frames = first.get("frames")
        innermost = frames[-1] if isinstance(frames, list) and frames else None
        if isinstance(innermost, Mapping):
            where = f"{safe_str(innermost.get('filename'))}:{safe_str(innermost.get('lineno'))}"
            summary += f"\n  at {where} in {safe_str(innermost.get('name'))}"
        return summary
    return None


def split_event_dict(event_dict: Mapping[str, Any], *, marker: str) -> EventDictParts:
    """Split ``event_dict`` into message, exception, reserved fields and metadata.

    ``marker`` (pushlog's own key) and keys starting with ``_pushlog`` are dropped. Does not modify
    the dict.
    """
    message = event_dict.get("event")
    parts = EventDictParts(message="" if message is None else safe_str(message))
    parts.exc_info = as_exc_info(event_dict.get("exc_info"))
    if parts.exc_info is None:
        parts.exception_text = rendered_exception(event_dict.get("exception"))
    logger = event_dict.get("logger") or event_dict.get("logger_name")
    parts.logger = str(logger) if logger else None
    for key, value in event_dict.items():
        if not isinstance(key, str) or key == marker or key.startswith("_pushlog"):
            continue
        if key in RESERVED_KEYS:
            parts.reserved[key] = value
        elif key not in BOOKKEEPING_KEYS:
            parts.metadata[key] = value
    return parts


def build_event(
    parts: EventDictParts,
    level: Level,
    *,
    source: dict[str, Any],
    fingerprint: str | None = None,
    otel_attrs: Mapping[str, Any] | None = None,
) -> Event:
    """The event for ``parts``: same limits and safe values as a snapshot of a log record."""
    title, rest = split_message(parts.message)
    event = Event(title=title, level=level)
    exc = exception_summary(parts.exc_info) if parts.exc_info is not None else parts.exception_text
    body = rest
    if exc:
        body = f"{body}\n\n{exc}" if body else exc
    given = parts.reserved.get("body")
    if given is not None:
        text = safe_str(given)
        body = f"{text}\n\n{body}" if body else text
    event.body = truncate(body, MAX_BODY) if body else None
    for key, value in parts.reserved.items():
        if key != "body":
            coerce_reserved(key, value, event)
    metadata = safe_metadata(parts.metadata) if parts.metadata else {}
    add_trace_ids(metadata, otel_attrs)
    event.metadata = metadata
    if event.fingerprint is None:
        event.fingerprint = fingerprint
    event.source = source
    return event


def dedup_key(parts: EventDictParts, level: Level | int, logger: str) -> Hashable:
    """Same shape as :func:`pushlog._snapshot.dedup_key`: logger, level, the ``event`` text and the
    exception's type and innermost frame; or ``("fp", fingerprint)``."""
    return _key(parts.reserved.get("fingerprint"), parts.message, parts.exc_info, level, logger)


def dedup_key_of(event_dict: Mapping[str, Any], level: Level | int, logger: str) -> Hashable:
    """:func:`dedup_key` straight from the dict, without splitting it (the cheap path for repeats)."""
    message = event_dict.get("event")
    text = "" if message is None else message if isinstance(message, str) else safe_str(message)
    return _key(event_dict.get("fingerprint"), text, as_exc_info(event_dict.get("exc_info")), level, logger)


def _key(explicit: object, message: str, exc: ExcInfo | None, level: Level | int, logger: str) -> Hashable:
    if explicit is not None:
        return ("fp", truncate(safe_str(explicit), MAX_FINGERPRINT))
    if exc is not None:
        frame = innermost_frame(exc[2])
        return (logger, int(level), message, exc[0].__qualname__, frame[:2] if frame else None)
    return (logger, int(level), message)


def event_from_record(record: logging.LogRecord, *, marker: str, fingerprint: str | None = None) -> Event:
    """A record whose ``msg`` is a structlog event dict (``wrap_for_formatter``) as an event: the title
    comes from the dict's ``event`` key, not from ``str(dict)``. Attributes added to the record by
    ``extra=`` or filters count too (the dict wins on conflicts)."""
    msg = record.msg
    parts = split_event_dict(msg if isinstance(msg, Mapping) else {}, marker=marker)
    if parts.exc_info is None:
        parts.exc_info = as_exc_info(record.exc_info)
    attrs = record.__dict__
    for key, value in attrs.items():
        if key in STANDARD_ATTRS or key.startswith("_") or key in BOOKKEEPING_KEYS:
            continue
        target = parts.reserved if key in RESERVED_KEYS else parts.metadata
        target.setdefault(key, value)
    source = {
        "logger": record.name,
        "module": f"{record.module}:{record.lineno}",
        "host": host_name(),
        "pid": record.process if record.process is not None else os.getpid(),
    }
    otel = attrs if "otelTraceID" in attrs else None
    event = build_event(
        parts, level_from_number(record.levelno), source=source, fingerprint=fingerprint, otel_attrs=otel
    )
    with contextlib.suppress(Exception):  # the record's own time, like any other record's snapshot
        event.ts = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    return event
