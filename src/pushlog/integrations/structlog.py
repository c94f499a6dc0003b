"""structlog: :class:`PushProcessor` turns structlog events into pushlog events.

Place it just before the renderer (or before ``wrap_for_formatter`` / ``render_to_log_kwargs`` when
structlog is routed into the standard library)::

    import structlog
    from pushlog.integrations.structlog import PushProcessor

    structlog.configure(processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        PushProcessor(),                      # reads PUSHLOG_DSN, like PushHandler()
        structlog.processors.JSONRenderer(),
    ])
    structlog.get_logger().warning("Payment failed", body="card declined", channel="payments", user_id=42)

* The level comes from the method name (``warning``, ``exception``, ``fatal``, ``msg``...) through
  :func:`pushlog._levels.parse_level`; events below ``level`` (default INFO) are left alone.
* Title from ``event``; body from ``body`` and/or the exception (``exc_info`` or an already rendered
  ``exception``); ``channel``, ``tags``, ``link``, ``image``, ``actions``, ``fingerprint`` are event
  fields; structlog's bookkeeping keys (``level``, ``timestamp``, ``logger``...) are skipped; every other
  key is metadata. OpenTelemetry ids (and span attributes) are added when a span is current.
* The event dict is returned unchanged except for one key, ``"_pushlog_sent": True``, which tells a
  :class:`pushlog.PushHandler` further down (structlog routed into logging) that this event was already
  sent, so with both installed each event goes out exactly once. Drop the key before rendering with
  :func:`drop_marker` if you do not want it in your output.
* It never raises: an internal error becomes one rate-limited note on stderr and the event dict passes on.
  Placed after the renderer (it then gets a string, not a dict) it says so once on stderr.
* In structlog's recommended standard-library setup it may also sit in ``ProcessorFormatter``'s
  ``foreign_pre_chain`` (shared processors) or in ``ProcessorFormatter(processors=[...])``: it then sends
  each record once however many handlers format it, never one a :class:`pushlog.PushHandler` already
  sent (nor lets that handler send it again), and never pushlog's own records (its HTTP stack's
  loggers, its worker thread), so it cannot feed on itself.

structlog itself is not imported by this module; any structlog version with the
``(logger, method_name, event_dict)`` processor protocol works.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

from .._client import CAPTURE, Client, _write_stderr, get_default_client
from .._eventdict import build_event, dedup_key_of, split_event_dict
from .._handler import SENT_RECORDS, ignored_record
from .._levels import LEVEL_NAMES, Level, parse_level
from .._snapshot import STRUCTLOG_MARKER, host_name, safe_str
from .._transport import StderrNote

__all__ = ["STRUCTLOG_MARKER", "PushProcessor", "drop_marker"]


def _logger_name(logger: object, event_dict: MutableMapping[str, Any]) -> str:
    given = event_dict.get("logger") or event_dict.get("logger_name")
    if given:
        return given if isinstance(given, str) else safe_str(given)
    name = getattr(logger, "name", None)
    return name if isinstance(name, str) and name else "structlog"


def _module(event_dict: MutableMapping[str, Any]) -> str:
    """``module:line`` when structlog's ``CallsiteParameterAdder`` supplied them."""
    module = event_dict.get("module") or event_dict.get("filename")
    line = event_dict.get("lineno")
    if module and line is not None:
        return f"{module}:{line}"
    return "structlog"


def _formatter_record(event_dict: MutableMapping[str, Any]) -> logging.LogRecord | None:
    """The record a ``ProcessorFormatter`` is formatting, when this processor runs inside one (in
    ``foreign_pre_chain`` or ``processors=``): from the dict's ``_record``, or, after
    ``remove_processors_meta`` took that out, from the formatter's own frame. ``None`` in a plain chain."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        return record
    try:
        frame = sys._getframe(2)  # 0: here, 1: PushProcessor.__call__, 2: whoever called the processor
    except ValueError:
        return None
    code = frame.f_code
    if code.co_name != "format" or "structlog" not in code.co_filename:
        return None
    found = frame.f_locals.get("record")
    return found if isinstance(found, logging.LogRecord) else None


class PushProcessor:
    """A structlog processor that sends each event at or above ``level`` to a pushlog hub.

    ``dsn`` defaults to ``PUSHLOG_DSN``; ``client`` shares an existing :class:`~pushlog.Client` (for
    example ``handler.client`` of your :class:`~pushlog.PushHandler`); other keyword arguments are
    :class:`~pushlog.Client` options. With none of these, the process's default client is used (the one
    ``pushlog.flush()`` flushes). ``trace_link`` is an optional URL template with ``{trace_id}`` and
    ``{span_id}`` used as the event's ``link`` when an OpenTelemetry span is current and the event has
    no link of its own.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        level: int | str = "INFO",
        client: Client | None = None,
        trace_link: str | None = None,
        **options: Any,
    ) -> None:
        self.level = parse_level(level)
        if client is not None and (dsn is not None or options):
            raise ValueError("pass either client= or dsn=/client options to PushProcessor, not both")
        if client is not None:
            self.client = client
        elif dsn is None and not options:
            self.client = get_default_client()
        else:
            self.client = Client(dsn, **options)
        self.trace_link = trace_link
        self._note = StderrNote(interval=60.0)
        self._placement_noted = False

    def _level(self, method_name: str, event_dict: MutableMapping[str, Any]) -> Level:
        known = LEVEL_NAMES.get(method_name)
        if known is not None:
            return known
        try:
            return parse_level(method_name)
        except ValueError:
            pass
        try:
            return parse_level(event_dict.get("level", "info"))
        except ValueError:
            return Level.INFO

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not isinstance(event_dict, MutableMapping):
            self._misplaced(event_dict)
            return event_dict
        try:
            if event_dict.get(STRUCTLOG_MARKER):
                return event_dict  # another PushProcessor in the chain already sent it
            client = self.client
            if threading.get_ident() == client.worker_ident:
                return event_dict  # logged by pushlog's own worker (its HTTP requests): never an event
            record = _formatter_record(event_dict)
            if record is not None and ignored_record(record, client):
                # Inside a ProcessorFormatter: pushlog's own records, and records a PushHandler (or this
                # processor, formatting for another handler) already sent, are not sent again.
                event_dict[STRUCTLOG_MARKER] = True
                return event_dict
            level = self._level(method_name, event_dict)
            if level < self.level:
                return event_dict
            if client.inert and CAPTURE.get() is None:
                event_dict[STRUCTLOG_MARKER] = True
                return event_dict
            if record is not None and not event_dict.get("logger"):
                name = record.name  # a stdlib record in foreign_pre_chain: its logger, not "structlog"
            else:
                name = _logger_name(logger, event_dict)
            key = dedup_key_of(event_dict, level, name)
            repeat, _first_id = client.check_repeat(key)  # a repeat is only counted: nothing else to do
            if not repeat:
                parts = split_event_dict(event_dict, marker=STRUCTLOG_MARKER)
                source = {
                    "logger": name,
                    "module": f"{record.module}:{record.lineno}"
                    if record is not None
                    else _module(event_dict),
                    "host": host_name(),
                    "pid": os.getpid(),
                }
                otel = event_dict if "otelTraceID" in event_dict else None
                event = build_event(parts, level, source=source, otel_attrs=otel)
                if self.trace_link and event.link is None:
                    from .opentelemetry import trace_link

                    event.link = trace_link(self.trace_link, event.metadata)
                client.capture(event, dedup_key=key)
            event_dict[STRUCTLOG_MARKER] = True
            if record is not None:
                SENT_RECORDS.add(record)  # the formatter works on a copy: remember the original
                if type(record.msg) is dict:
                    record.msg[STRUCTLOG_MARKER] = True  # the structlog dict the original shares
        except Exception as exc:
            self._note(f"PushProcessor could not handle a structlog event: {exc!r}")
        return event_dict

    def _misplaced(self, rendered: object) -> None:
        if self._placement_noted:
            return
        self._placement_noted = True
        _write_stderr(
            f"pushlog: PushProcessor got a {type(rendered).__name__}, not an event dict: it sits after the "
            "renderer (JSONRenderer, ConsoleRenderer, wrap_for_formatter...); put it just before the "
            "renderer in processors=[...]"
        )


def drop_marker(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A processor that removes pushlog's marker key, for renderers that should not show it.

    Put it after :class:`PushProcessor` and after anything that hands the dict to the standard library's
    PushHandler (whose skip relies on the marker)."""
    event_dict.pop(STRUCTLOG_MARKER, None)
    return event_dict
