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
from collections.abc import Iterator, Mapping, Sequence

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Any, Final


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
    """Ids plus the SDK span's attributes and resource ``service.name`` (see :func:`span_metadata`),
    or ``None`` without a valid span."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    return span_metadata()


#: Span attributes copied into an event's metadata, at most.
MAX_SPAN_ATTRIBUTES: Final = 32
_MAX_TEXT: Final = 1_024


def _plain(value: Any) -> Any:
    """An attribute value as JSON: OpenTelemetry allows scalars and homogeneous sequences of them."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, Sequence):
        return [_plain(v) for v in list(value)[:50]]
    return _text(value)[:_MAX_TEXT]


def span_metadata(span: Any = None) -> dict[str, Any] | None:
    """Metadata for ``span`` (default: the current span), or ``None`` when there is no valid span.

    ``trace_id``, ``span_id``, ``service.name`` (when the span's resource has one) and the span's
    attributes. Only SDK spans expose attributes and a resource; other spans give the ids alone.
    Never raises.
    """
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        if span is None:
            span = trace.get_current_span()
        context = span.get_span_context()
        if not context.is_valid:
            return None
        out: dict[str, Any] = {
            "trace_id": trace.format_trace_id(context.trace_id),
            "span_id": trace.format_span_id(context.span_id),
        }
        resource = getattr(span, "resource", None)
        service = getattr(resource, "attributes", {}).get("service.name") if resource is not None else None
        if service:
            out["service.name"] = _text(service)[:_MAX_TEXT]
        attributes = getattr(span, "attributes", None)
        if isinstance(attributes, Mapping):
            for n, (key, value) in enumerate(attributes.items()):
                if n >= MAX_SPAN_ATTRIBUTES:
                    break
                out.setdefault(str(key), _plain(value))
        return out
    except Exception:
        return None


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


def _text(value: object) -> str:
    from ._snapshot import safe_str  # _snapshot imports this module at load time

    return safe_str(value)
