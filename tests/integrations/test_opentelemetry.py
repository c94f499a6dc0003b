"""OpenTelemetry with the real SDK: span ids, attributes and service.name in metadata, the logging
instrumentation's record attributes, trace links, and pushlog's own requests left untraced."""

from __future__ import annotations

import io
import logging
import logging.config
import logging.handlers
import queue
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.conftest import StandInHub

import pushlog
from pushlog import PushHandler
from pushlog.integrations.opentelemetry import TraceLinkFilter, span_metadata, trace_link
from pushlog.integrations.structlog import PushProcessor
from pushlog.testing import capture_events

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
JAEGER = "https://jaeger.example/trace/{trace_id}?span={span_id}"


@pytest.fixture
def provider() -> TracerProvider:
    return TracerProvider(resource=Resource.create({"service.name": "checkout-svc"}))


@pytest.fixture
def logger(hub: StandInHub) -> Iterator[tuple[logging.Logger, PushHandler]]:
    handler = PushHandler(hub.dsn, linger=0.05)
    log = logging.getLogger(f"app.otel.{uuid.uuid4().hex[:8]}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    yield log, handler
    log.removeHandler(handler)
    handler.close()


def test_span_ids_attributes_and_service_name(
    hub: StandInHub, provider: TracerProvider, logger: tuple[logging.Logger, PushHandler]
) -> None:
    log, handler = logger
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("charge", attributes={"http.route": "/pay", "retries": 2}) as span:
        ctx = span.get_span_context()
        log.error("Charge failed", extra={"retries": "mine wins"})
    log.error("after the span")  # the span ended: nothing to add
    assert handler.client.flush(5)  # sent after the span ended: ids were read on the logging thread

    inside, after = hub.accepted_events()
    meta = inside["metadata"]
    assert meta["trace_id"] == trace.format_trace_id(ctx.trace_id) and HEX32.match(meta["trace_id"])
    assert meta["span_id"] == trace.format_span_id(ctx.span_id) and HEX16.match(meta["span_id"])
    assert meta["service.name"] == "checkout-svc"
    assert meta["http.route"] == "/pay"
    assert meta["retries"] == "mine wins"  # the record's own metadata is never overridden
    assert after["metadata"] == {}


def test_other_threads_do_not_see_the_span(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("tests")
    seen: list[dict[str, Any] | None] = []
    with tracer.start_as_current_span("request"):
        here = span_metadata()
        worker = threading.Thread(target=lambda: seen.append(span_metadata()))
        worker.start()
        worker.join(5)
    assert here is not None and here["service.name"] == "checkout-svc"
    assert seen == [None]
    assert span_metadata() is None


def test_logging_instrumentation_attributes_honoured_across_a_queue(
    hub: StandInHub, provider: TracerProvider
) -> None:
    """LoggingInstrumentor stamps otelTraceID/otelSpanID on the record; PushHandler runs on a
    QueueListener thread where no span is current, so only those attributes can carry the ids."""
    handler = PushHandler(hub.dsn, linger=0.05)
    handler.addFilter(TraceLinkFilter(JAEGER))
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    listener = logging.handlers.QueueListener(records, handler)
    log = logging.getLogger(f"app.otel.queued.{uuid.uuid4().hex[:8]}")
    log.propagate = False
    log.addHandler(logging.handlers.QueueHandler(records))
    instrumentor = LoggingInstrumentor()
    instrumentor.instrument(tracer_provider=provider, set_logging_format=False, inject_trace_context=True)
    listener.start()
    try:
        with provider.get_tracer("tests").start_as_current_span("job") as span:
            ctx = span.get_span_context()
            log.error("Job failed")
    finally:
        listener.stop()
        instrumentor.uninstrument()
    assert handler.client.flush(5)
    handler.close()
    (event,) = hub.accepted_events()
    trace_id, span_id = trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)
    assert event["metadata"] == {"trace_id": trace_id, "span_id": span_id, "service.name": "checkout-svc"}
    assert event["link"] == f"https://jaeger.example/trace/{trace_id}?span={span_id}"


def test_trace_link_filter_processor_and_explicit_calls(
    hub: StandInHub, provider: TracerProvider, logger: tuple[logging.Logger, PushHandler]
) -> None:
    log, handler = logger
    handler.addFilter(TraceLinkFilter(JAEGER))
    processor = PushProcessor(client=handler.client, trace_link="https://tempo.example/{trace_id}")
    slog = structlog.wrap_logger(
        structlog.PrintLogger(io.StringIO()), processors=[processor, structlog.processors.JSONRenderer()]
    )
    with provider.get_tracer("tests").start_as_current_span("signup") as span:
        trace_id = trace.format_trace_id(span.get_span_context().trace_id)
        log.warning("linked")
        log.warning("own link kept", extra={"link": "https://app.example/u/1"})
        slog.warning("from structlog")
        explicit = trace_link("https://tempo.example/{trace_id}")
    log.warning("no span, no link")
    assert trace_link("https://tempo.example/{trace_id}") is None
    assert trace_link("https://tempo.example/{unknown}", {"trace_id": "a", "span_id": "b"}) is None
    with pytest.raises(ValueError, match="trace_id"):
        TraceLinkFilter("https://jaeger.example/")
    assert handler.client.flush(5)
    links = {e["title"]: e["link"] for e in hub.accepted_events()}
    assert links == {
        "linked": f"https://jaeger.example/trace/{trace_id}?span={span.get_span_context().span_id:016x}",
        "own link kept": "https://app.example/u/1",
        "from structlog": f"https://tempo.example/{trace_id}",
        "no span, no link": None,
    }
    assert explicit == f"https://tempo.example/{trace_id}"


def test_explicit_calls_get_span_metadata(provider: TracerProvider) -> None:
    with capture_events() as events, provider.get_tracer("tests").start_as_current_span("cron") as span:
        span.set_attribute("job.name", "nightly")
        pushlog.notify("Cron done", duration=41)
    (event,) = events
    assert event.metadata["job.name"] == "nightly" and event.metadata["duration"] == 41
    assert event.metadata["service.name"] == "checkout-svc"


def test_pushlogs_own_requests_are_not_traced(
    hub: StandInHub, provider: TracerProvider, logger: tuple[logging.Logger, PushHandler]
) -> None:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    log, handler = logger
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with provider.get_tracer("tests").start_as_current_span("user work"):
            log.error("inside a traced request")
            with httpx.Client() as http:  # control: the instrumentation is live for the app's own calls
                http.get(f"http://127.0.0.1:{hub.server.port}/not-pushlog")
        assert handler.client.flush(5)
    finally:
        instrumentor.uninstrument()
    assert len(hub.accepted_events()) == 1
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["GET", "user work"]  # the app's GET is traced; pushlog's POST is not
    get = next(s for s in exporter.get_finished_spans() if s.name == "GET")
    url = get.attributes.get("url.full") or get.attributes.get("http.url") if get.attributes else None
    assert "not-pushlog" in str(url)


def test_trace_link_filter_from_dictconfig(hub: StandInHub, provider: TracerProvider) -> None:
    name = f"app.otel.dictconfig.{uuid.uuid4().hex[:8]}"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "trace_link": {
                    "()": "pushlog.integrations.opentelemetry.TraceLinkFilter",
                    "template": "https://jaeger.example/trace/{trace_id}",
                }
            },
            "handlers": {
                "push": {
                    "class": "pushlog.PushHandler",
                    "dsn": hub.dsn,
                    "linger": "0.05",
                    "filters": ["trace_link"],
                }
            },
            "loggers": {name: {"handlers": ["push"], "level": "INFO", "propagate": False}},
        }
    )
    log = logging.getLogger(name)
    (handler,) = log.handlers
    assert isinstance(handler, PushHandler)
    try:
        with provider.get_tracer("tests").start_as_current_span("configured") as span:
            log.warning("from dictConfig")
        assert handler.client.flush(5)
    finally:
        log.removeHandler(handler)
        handler.close()
    (event,) = hub.accepted_events()
    assert event["link"] == f"https://jaeger.example/trace/{span.get_span_context().trace_id:032x}"
