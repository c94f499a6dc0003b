"""LogRecord -> Event, without ever raising: what may change after the logging call is read on the
calling thread, the rest (for PushHandler) is built on the worker (``snapshot(..., later=True)``).

What is taken from a record (see docs/client.md):

* ``title``: the first line of ``record.getMessage()``; ``body``: the remaining lines, and/or the
  exception's type, message and innermost frame. If ``%``-formatting fails, the raw template and the
  arguments' reprs are used instead.
* reserved ``extra=`` keys (``body``, ``channel``, ``tags``, ``link``, ``image``, ``actions``,
  ``fingerprint``, ``resolves``) become event fields; every other non-standard record attribute
  becomes metadata.
* ``source``: logger, ``module:line``, host, pid; ``trace_id``/``span_id`` in metadata when an
  OpenTelemetry span is current (or the record carries OpenTelemetry's ``otel*`` attributes).

Values that do not serialise become safe strings (``repr``, and a placeholder if even that fails);
every field is cut to the limits in :mod:`pushlog._event` with :data:`~pushlog._event.TRUNCATION_MARKER`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Hashable, Mapping
from types import TracebackType

from . import _otel
from ._event import (
    MAX_ACTIONS,
    MAX_BODY,
    MAX_CHANNEL,
    MAX_FINGERPRINT,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEY,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MAX_URL,
    RESERVED_KEYS,
    TRUNCATION_MARKER,
    Event,
    now_utc,
    truncate,
    utc_from_timestamp,
)
from ._levels import Level, level_from_number

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    import datetime as _dt
    from typing import Any, Final

#: Set to a true value in a structlog event dict (and so on ``record.msg`` or as a record attribute)
#: by pushlog's structlog processor once it has pushed the event: PushHandler then skips the record.
STRUCTLOG_MARKER: Final = "_pushlog_sent"
#: Record attribute PushHandler sets to the id of the event a record became (or was counted in).
RECORD_EVENT_ID: Final = "_pushlog_event_id"

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` (or a filter).
STANDARD_ATTRS: Final[frozenset[str]] = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

_OTEL_ATTRS: Final = frozenset({"otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName"})
_MAX_ITEMS: Final = 50


def _host() -> str:
    """The machine's host name: ``uname``'s node name where there is one (what ``socket.gethostname``
    returns there, without loading ``socket`` for it)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


_HOST: Final = _host()


def host_name() -> str:
    return _HOST


def safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder naming the type if repr itself fails."""
    try:
        text = repr(value)
    except Exception:
        try:
            name = type(value).__name__
        except Exception:
            name = "object"
        return f"<unrepresentable {name}>"
    return text if isinstance(text, str) else "<unrepresentable>"


def safe_str(value: object) -> str:
    """``str(value)``, falling back to :func:`safe_repr`."""
    try:
        text = str(value)
    except Exception:
        return safe_repr(value)
    return text if isinstance(text, str) else safe_repr(value)


def safe_value(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable copy of ``value`` (strings, numbers, bools, None, lists, dicts).

    Anything else becomes its ``repr``. Containers keep at most 50 items and 4 levels; a value
    whose JSON is longer than ``MAX_METADATA_VALUE`` becomes truncated text.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if -_INF < value < _INF else str(value)  # finite (NaN compares false)
    if isinstance(value, str):
        return truncate(value, MAX_METADATA_VALUE)
    if depth < MAX_METADATA_DEPTH:
        try:
            if isinstance(value, Mapping):
                items = list(value.items())[:_MAX_ITEMS]
                return _fit({truncate(safe_str(k), 128): safe_value(v, depth + 1) for k, v in items}, depth)
            if isinstance(value, list | tuple | set | frozenset):
                return _fit([safe_value(v, depth + 1) for v in list(value)[:_MAX_ITEMS]], depth)
        except Exception:
            pass
    return truncate(safe_repr(value), MAX_METADATA_VALUE)


def _fit(value: Any, depth: int) -> Any:
    if depth:
        return value
    import json  # loaded by the first client (redaction) in practice; not by import pushlog

    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= MAX_METADATA_VALUE else truncate(text, MAX_METADATA_VALUE)


def safe_metadata(items: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata with safe values, at most ``MAX_METADATA_KEYS`` keys (the rest counted in ``…``)."""
    out: dict[str, Any] = {}
    extra = 0
    for key, value in items.items():
        if len(out) >= MAX_METADATA_KEYS - 1:
            extra += 1
            continue
        if type(key) is not str or len(key) > 128:
            key = truncate(safe_str(key), 128)
        kind = type(value)  # fast path for the usual scalars; exact types only (no subclasses)
        if kind is int or kind is bool or value is None:
            out[key] = value if kind is not int or -(2**63) <= value < 2**63 else str(value)
        elif kind is str and len(value) <= MAX_METADATA_VALUE:
            out[key] = value
        else:
            out[key] = safe_value(value)
    if extra:
        out["…"] = f"{extra} more keys dropped{TRUNCATION_MARKER}"
    return out


def split_message(message: str) -> tuple[str, str | None]:
    """Title (the first line) and the rest (or ``None``)."""
    if "\n" not in message and 0 < len(message) <= MAX_TITLE and not message[0].isspace():
        return message.rstrip() or "(no message)", None  # the common one-line message
    text = message.strip("\n")
    head, sep, rest = text.partition("\n")
    title = head.strip() or "(no message)"
    body = rest.strip("\n") if sep else ""
    return truncate(title, MAX_TITLE), (body or None)


def record_message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or the template plus the arguments when formatting fails."""
    try:
        return record.getMessage()
    except Exception:
        template = safe_str(record.msg)
        return f"{template} (args: {safe_repr(record.args)})" if record.args else template


def innermost_frame(tb: TracebackType | None) -> tuple[str, int, str] | None:
    """``(filename, line, function)`` of the innermost traceback frame."""
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return code.co_filename, tb.tb_lineno, code.co_name


def exception_summary(exc_info: Any) -> str | None:
    """``"Type: message\\n  at file:line in function"`` for a record's ``exc_info``."""
    if not isinstance(exc_info, tuple) or len(exc_info) != 3 or exc_info[1] is None:
        return None
    etype, value, tb = exc_info
    try:
        name = etype.__qualname__
        module = getattr(etype, "__module__", "builtins")
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
    except Exception:
        name = "Exception"
    text = safe_str(value)
    summary = f"{name}: {text}" if text else name
    frame = innermost_frame(tb) if isinstance(tb, TracebackType) else None
    if frame:
        summary += f"\n  at {frame[0]}:{frame[1]} in {frame[2]}"
    return summary


def dedup_key(record: logging.LogRecord) -> Hashable:
    """What makes two records "the same" for dedup, computed without formatting:
    logger, level, the message template before ``%`` formatting, and the exception's type and
    innermost frame; or ``("fp", fingerprint)`` when ``extra={"fingerprint": ...}`` is given."""
    explicit = record.__dict__.get("fingerprint")
    if explicit is not None:
        return ("fp", truncate(safe_str(explicit), MAX_FINGERPRINT))
    msg = record.msg
    if not isinstance(msg, str):
        # a structlog event dict: its "event" is the template
        msg = safe_str(msg.get("event", "")) if isinstance(msg, dict) else type(msg).__qualname__
    exc = record.exc_info
    if exc and isinstance(exc, tuple) and exc[0] is not None:
        frame = innermost_frame(exc[2])
        return (record.name, record.levelno, msg, exc[0].__qualname__, frame[:2] if frame else None)
    return (record.name, record.levelno, msg)


def coerce_reserved(key: str, value: Any, event: Event) -> None:
    """Put a reserved keyword's value on ``event``, coerced to the field's type and limits."""
    if value is None:
        return
    if key == "body":
        event.body = truncate(safe_str(value), MAX_BODY)
    elif key == "channel":
        event.channel = truncate(safe_str(value), MAX_CHANNEL) or None
    elif key == "tags":
        tags = [value] if isinstance(value, str) else _as_list(value)
        event.tags = [truncate(safe_str(t), MAX_TAG) for t in tags[:MAX_TAGS] if t is not None]
    elif key == "link":
        event.link = truncate(safe_str(value), MAX_URL)
    elif key == "image":
        event.image = truncate(safe_str(value), MAX_URL)
    elif key == "actions":
        actions = []
        for item in _as_list(value)[:MAX_ACTIONS]:
            if isinstance(item, Mapping):
                actions.append(
                    {truncate(safe_str(k), 64): truncate(safe_str(v), MAX_URL) for k, v in item.items()}
                )
        event.actions = actions
    elif key == "fingerprint":
        event.fingerprint = truncate(safe_str(value), MAX_FINGERPRINT)
    elif key == "resolves":
        event.resolves = truncate(safe_str(value), MAX_FINGERPRINT) or None


def _as_list(value: Any) -> list[Any]:
    try:
        return list(value)
    except Exception:
        return [value]


def add_trace_ids(metadata: dict[str, Any], attrs: Mapping[str, Any] | None = None) -> None:
    """Add ``trace_id``/``span_id`` from the current span (or from OpenTelemetry's record attributes)."""
    if "trace_id" in metadata:
        return
    found = _otel.current_metadata()  # ids, span attributes, service.name; user metadata wins
    if found is not None:
        for key, value in found.items():
            if len(metadata) >= MAX_METADATA_KEYS - 1:
                break
            metadata.setdefault(key, value)
        return
    ids = _otel.ids_from_record_attrs(dict(attrs)) if attrs is not None else None
    if ids is not None:
        metadata["trace_id"], metadata["span_id"] = ids
        service = attrs.get("otelServiceName") if attrs is not None else None
        if isinstance(service, str) and service:
            metadata.setdefault("service.name", service)


_BASE_COUNT: Final = len(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
#: The standard levels by number, looked up before :func:`level_from_number` (the usual record).
_LEVELS: Final = {int(level): level for level in Level}
#: The module whose presence means a span may be current (see :func:`pushlog._otel.current_metadata`).
_OTEL_MODULE: Final = "opentelemetry.trace"
_SKIP_ATTRS: Final = STANDARD_ATTRS | _OTEL_ATTRS | {RECORD_EVENT_ID, STRUCTLOG_MARKER}
#: Record attributes that are not metadata: the ones skipped and the reserved keys (event fields).
_NOT_METADATA: Final = _SKIP_ATTRS | RESERVED_KEYS
#: Finite floats are the ones strictly between -_INF and _INF (NaN compares false): no ``math`` import.
_INF: Final = float("inf")


def record_source(name: str, module: str, lineno: int, process: int | None) -> dict[str, Any]:
    """``{"logger", "module": "module:line", "host", "pid"}`` for a record's fields of those names."""
    return {
        "logger": name,
        "module": f"{module}:{lineno}",
        "host": _HOST,
        "pid": process if process is not None else os.getpid(),
    }


def snapshot(
    record: logging.LogRecord,
    *,
    fingerprint: str | None = None,
    sources: dict[tuple[Any, ...], dict[str, Any]] | None = None,
    later: bool = False,
) -> Event:
    """Build the event for ``record``. Copies everything it keeps; never raises for odd input.

    ``sources`` is an optional cache of source dicts per call site, owned by the caller (PushHandler
    keeps one): the dict is built once per site and copied per event.

    With ``later``, only what may change after the logging call returns is read now: the formatted
    message (the arguments may be mutated afterwards), the extras (copied, non-scalar values made
    safe), the level and the current span's ids; title, body, timestamp and source, which come from
    the message and the record's own immutable fields, are built by :meth:`Event.complete` on the
    worker. A record with an exception or a reserved keyword is built whole at once (its traceback
    and values are the caller's).
    """
    msg = record.msg
    if type(msg) is dict and "event" in msg:  # structlog's wrap_for_formatter: title from "event"
        from ._eventdict import event_from_record  # imports this module: load on first use

        return event_from_record(record, marker=STRUCTLOG_MARKER, fingerprint=fingerprint)
    try:
        message = record.getMessage()
    except Exception:
        message = record_message(record)
    metadata: dict[str, Any] = {}
    attrs = record.__dict__
    reserved: list[str] | None = None
    if len(attrs) > _BASE_COUNT:
        # LogRecord.__init__ sets its attributes first, so extra= keys (and anything a filter or a
        # formatter added) come after them: look only at that tail. Exact scalars are kept as they are;
        # anything else (or too many keys) goes through safe_metadata.
        plain = True
        for key in list(attrs)[_BASE_COUNT:]:
            if key in _NOT_METADATA or key[:8] == "_pushlog":
                if key in RESERVED_KEYS:
                    reserved = [key] if reserved is None else [*reserved, key]
                continue
            value = metadata[key] = attrs[key]
            if plain:
                kind = value.__class__
                if kind is str:
                    plain = len(value) <= MAX_METADATA_VALUE
                elif kind is int:
                    plain = -(2**63) <= value < 2**63
                elif not (value is None or kind is bool or (kind is float and -_INF < value < _INF)):
                    plain = False
                if len(key) > MAX_METADATA_KEY:
                    plain = False
        if not plain or len(metadata) >= MAX_METADATA_KEYS:
            metadata = safe_metadata(metadata)
    event = Event.pending(
        _LEVELS.get(record.levelno) or level_from_number(record.levelno),
        fingerprint,
        metadata,
        (
            _finish,
            message,
            record.created,
            record.name,
            record.module,
            record.lineno,
            record.process,
            sources,
        ),
    )
    if "otelTraceID" in attrs:
        add_trace_ids(metadata, attrs)
    elif _OTEL_MODULE in sys.modules:  # only a loaded OpenTelemetry can have a current span
        add_trace_ids(metadata)
    if later and reserved is None and not record.exc_info:
        return event
    event.complete()
    if record.exc_info:
        exc = exception_summary(record.exc_info)
        if exc:
            event.body = (
                truncate(f"{event.body}\n\n{exc}", MAX_BODY) if event.body else truncate(exc, MAX_BODY)
            )
    if reserved is not None:
        for key in reserved:
            value = attrs[key]
            if key == "body":  # extra body joins the message's own body
                text = truncate(safe_str(value), MAX_BODY) if value is not None else None
                joined = f"{text}\n\n{event.body}" if event.body and text else (text or event.body)
                event.body = truncate(joined, MAX_BODY) if joined else None
            else:
                coerce_reserved(key, value, event)  # an explicit fingerprint replaces the computed one
    return event


def _finish(event: Event, pending: tuple[Any, ...]) -> None:
    """The rest of an event :func:`snapshot` left for later: title and body from the message, the
    timestamp, the source (see :meth:`Event.complete`; every field is computed before any is set)."""
    _, message, created, name, module, lineno, process, sources = pending
    if "\n" not in message and 0 < len(message) <= MAX_TITLE and not message[0].isspace():
        title, body = message.rstrip() or "(no message)", None  # the usual one-line message, inline
    else:
        title, body = split_message(message)
    ts: _dt.datetime | float = created  # a float: Event.ts converts it when read
    if created.__class__ is not float:
        try:
            ts = utc_from_timestamp(created)
        except Exception:
            ts = now_utc()
    site = (name, module, lineno, process)
    cached = sources.get(site) if sources is not None else None
    if cached is None:
        cached = record_source(name, module, lineno, process)
        if sources is not None:
            if len(sources) >= 4096:
                sources.clear()
            sources[site] = cached
    source = cached.copy()
    tags: list[str] = []
    actions: list[dict[str, str]] = []
    event.title, event.body, event._ts, event.source = (
        title,
        truncate(body, MAX_BODY) if body else None,
        ts,
        source,
    )
    event.channel = event.link = event.image = event.repeat_of = event.resolves = None
    event.tags, event.actions = tags, actions
