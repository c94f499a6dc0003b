"""OpenTelemetry trace context for events, without importing OpenTelemetry.

If the application never imported ``opentelemetry.trace`` there cannot be a current span, so the check
is a dictionary lookup in :data:`sys.modules`: free for apps without OpenTelemetry, and no import cost.
The span lives in contextvars, so this must run on the thread that logged.

The ids go into the event's ``metadata`` as ``trace_id`` (32 hex) and ``span_id`` (16 hex): the wire
format has no dedicated fields, and metadata makes them filterable in the feed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current valid span, or ``None``. Never raises."""
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
    except Exception:
        return None


def ids_from_record_attrs(attrs: dict[str, Any]) -> tuple[str, str] | None:
    """Ids that OpenTelemetry's logging instrumentation put on a LogRecord (``otelTraceID``...)."""
    trace_id = attrs.get("otelTraceID")
    span_id = attrs.get("otelSpanID")
    if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id.strip("0"):
        return trace_id, span_id
    return None


def current_metadata() -> dict[str, Any] | None:
    """Ids plus the SDK span's attributes and resource ``service.name`` (see
    :func:`pushlog.integrations.opentelemetry.span_metadata`), or ``None`` without a valid span."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from .integrations.opentelemetry import span_metadata

    return span_metadata()


@contextlib.contextmanager
def suppressed() -> Iterator[None]:
    """Run the block with OpenTelemetry instrumentation suppressed (pushlog's own HTTP requests must not
    be traced). Free when ``opentelemetry.context`` was never imported."""
    context: Any = sys.modules.get("opentelemetry.context")
    token = None
    if context is not None:
        try:
            token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
        except Exception:
            token = None
    try:
        yield
    finally:
        if token is not None:
            with contextlib.suppress(Exception):
                context.detach(token)
