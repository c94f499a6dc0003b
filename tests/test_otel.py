"""OpenTelemetry: trace/span ids of the current span land in the event's metadata."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import pushlog
from pushlog import PushHandler
from pushlog._otel import current_ids, ids_from_record_attrs
from pushlog.testing import capture_events


def test_ids_of_current_span_reach_metadata() -> None:
    tracer = TracerProvider().get_tracer("pushlog-tests")
    handler = PushHandler("http://k@127.0.0.1:9")
    logger = logging.getLogger("app.otel")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with capture_events() as events:
            logger.error("outside any span")
            with tracer.start_as_current_span("checkout") as span:
                context = span.get_span_context()
                logger.error("inside the span")
                pushlog.notify("explicit inside the span")
    finally:
        logger.removeHandler(handler)
        handler.close()
    outside, inside, explicit = events
    assert "trace_id" not in outside.metadata
    expected = {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }
    assert {k: inside.metadata[k] for k in expected} == expected
    assert {k: explicit.metadata[k] for k in expected} == expected
    assert len(expected["trace_id"]) == 32 and len(expected["span_id"]) == 16


def test_no_span_no_ids_and_record_attributes() -> None:
    assert current_ids() is None
    assert ids_from_record_attrs({"otelTraceID": "0" * 32, "otelSpanID": "0" * 16}) is None
    assert ids_from_record_attrs({"otelTraceID": "ab" * 16, "otelSpanID": "cd" * 8}) == ("ab" * 16, "cd" * 8)
