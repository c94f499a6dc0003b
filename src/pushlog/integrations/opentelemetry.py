"""OpenTelemetry: trace context in events, links to your trace UI, and pushlog's own requests untraced.

Nothing here needs configuring for the basics: when ``opentelemetry`` is imported and a valid span is
current on the thread that logs, every event (``PushHandler``, ``PushProcessor``, ``pushlog.notify``...)
gets in its metadata

* ``trace_id`` (32 hex) and ``span_id`` (16 hex);
* ``service.name`` from the span's resource (SDK spans only);
* the span's attributes under their own names (``http.route``, ``user.id``...), at most
  :data:`MAX_SPAN_ATTRIBUTES`, never overriding metadata the event already has.

Without a current span, the ``otelTraceID``/``otelSpanID``/``otelServiceName`` attributes that
``opentelemetry-instrumentation-logging`` puts on log records are used instead.

A link to the trace in your UI (Jaeger, Tempo, Honeycomb...) is opt-in, as a template with
``{trace_id}`` (and optionally ``{span_id}``):

* on a handler: ``handler.addFilter(TraceLinkFilter("https://jaeger.example/trace/{trace_id}"))``
  (dictConfig: ``{"()": "pushlog.integrations.opentelemetry.TraceLinkFilter", "template": "..."}``);
* in structlog: ``PushProcessor(trace_link="https://jaeger.example/trace/{trace_id}")``;
* for explicit events: ``pushlog.notify("...", link=trace_link("https://.../{trace_id}"))``.

The client's worker sends with OpenTelemetry's ``suppress_instrumentation`` context set, so an
instrumented httpx does not create spans (or further log records) for pushlog's own requests.

opentelemetry is imported lazily: importing this module does not need it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._otel import MAX_SPAN_ATTRIBUTES, span_metadata

__all__ = ["MAX_SPAN_ATTRIBUTES", "TraceLinkFilter", "span_metadata", "trace_link"]


def _ids(known: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if known is not None:
        trace_id, span_id = known.get("trace_id"), known.get("span_id")
        if isinstance(trace_id, str) and isinstance(span_id, str):
            return trace_id, span_id
        trace_id, span_id = known.get("otelTraceID"), known.get("otelSpanID")
        if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id.strip("0"):
            return trace_id, span_id
    found = span_metadata()
    if found is None:
        return None
    return found["trace_id"], found["span_id"]


def trace_link(template: str, known: Mapping[str, Any] | None = None) -> str | None:
    """``template`` filled with ``{trace_id}`` and ``{span_id}``; ``None`` without trace context.

    The ids come from ``known`` (an event's metadata, or a record's ``otel*`` attributes) or else from
    the current span. Never raises: a template with other placeholders gives ``None``.
    """
    try:
        ids = _ids(known)
        if ids is None:
            return None
        return template.format(trace_id=ids[0], span_id=ids[1])
    except Exception:
        return None


class TraceLinkFilter(logging.Filter):
    """A logging filter that sets ``record.link`` from ``template`` when trace context is known.

    Add it to a :class:`~pushlog.PushHandler`; it runs on the logging thread, where the current span is.
    Records that already carry a ``link`` (``extra={"link": ...}``) keep it. It never drops a record.
    """

    def __init__(self, template: str, name: str = "") -> None:
        super().__init__(name)
        if "{trace_id}" not in template:
            raise ValueError("TraceLinkFilter template must contain {trace_id}")
        self.template = template

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.__dict__.get("link") is None:
                link = trace_link(self.template, record.__dict__)
                if link is not None:
                    record.link = link
        except Exception:  # pragma: no cover - trace_link never raises; a filter must not either
            pass
        return True
