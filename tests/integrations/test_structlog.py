"""structlog's PushProcessor against a stand-in hub: alone (PrintLogger), routed through the standard
library (ProcessorFormatter.wrap_for_formatter and render_to_log_kwargs), and with PushHandler too."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from tests.conftest import StandInHub

from pushlog import Client, PushHandler
from pushlog._event import format_ts
from pushlog._snapshot import STRUCTLOG_MARKER
from pushlog.integrations.structlog import PushProcessor, drop_marker


def _fail(where: str) -> None:
    raise ValueError(f"bad card in {where}")


@pytest.fixture
def processor(hub: StandInHub) -> Iterator[PushProcessor]:
    proc = PushProcessor(hub.dsn, linger=0.05)
    yield proc
    proc.client.close()


def _print_logger(proc: PushProcessor, out: io.StringIO) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.processors.add_log_level, proc, structlog.processors.JSONRenderer()],
    )


def test_print_logger_event_fields_and_dict_passes_on(hub: StandInHub, processor: PushProcessor) -> None:
    out = io.StringIO()
    log = _print_logger(processor, out)
    log.warning(
        "Payment failed\nsecond line",
        body="card declined",
        channel="payments",
        tags=["billing"],
        link="https://example.com/p/1",
        user_id=42,
        plan="pro",
    )
    log.info("Deployed", sha="abc123")
    log.debug("too chatty")  # below the processor's INFO default
    assert processor.client.flush(5)

    warning, info = hub.accepted_events()
    assert warning["level"] == "warning" and warning["push"] is True
    assert warning["title"] == "Payment failed"
    assert warning["body"] == "card declined\n\nsecond line"
    assert warning["channel"] == "payments" and warning["tags"] == ["billing"]
    assert warning["link"] == "https://example.com/p/1"
    assert warning["metadata"] == {"user_id": 42, "plan": "pro"}  # "level" is bookkeeping, not metadata
    assert warning["source"]["logger"] == "structlog"
    assert (info["level"], info["push"], info["metadata"]) == ("info", False, {"sha": "abc123"})

    # what the renderer got is the original dict plus the marker only
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {
        "event": "Payment failed\nsecond line",
        "body": "card declined",
        "channel": "payments",
        "tags": ["billing"],
        "link": "https://example.com/p/1",
        "user_id": 42,
        "plan": "pro",
        "level": "warning",
        STRUCTLOG_MARKER: True,
    }
    assert lines[2] == {"event": "too chatty", "level": "debug"}  # untouched: not ours


@pytest.mark.parametrize(
    ("method", "level"),
    [
        ("msg", "info"),
        ("err", "error"),
        ("exception", "error"),
        ("critical", "critical"),
        ("fatal", "critical"),
    ],
)
def test_method_names_map_to_levels(
    hub: StandInHub, processor: PushProcessor, method: str, level: str
) -> None:
    log = structlog.wrap_logger(  # the generic BoundLogger passes any method name through
        structlog.PrintLogger(io.StringIO()),
        processors=[processor, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.BoundLogger,
    )
    getattr(log, method)("something happened")
    assert processor.client.flush(5)
    (event,) = hub.accepted_events()
    assert event["level"] == level


def test_exception_becomes_body_and_rendered_exception_too(hub: StandInHub, processor: PushProcessor) -> None:
    log = _print_logger(processor, io.StringIO())
    try:
        _fail("checkout")
    except ValueError:
        log.exception("Checkout crashed", order=7)
    formatted = structlog.wrap_logger(
        structlog.PrintLogger(io.StringIO()),
        processors=[structlog.processors.format_exc_info, processor, structlog.processors.JSONRenderer()],
    )
    try:
        _fail("refund")
    except ValueError:
        formatted.exception("Refund crashed")
    assert processor.client.flush(5)
    crash, refund = hub.accepted_events()
    assert crash["level"] == "error" and crash["metadata"] == {"order": 7}
    assert crash["body"].startswith("ValueError: bad card in checkout\n  at ")
    assert crash["body"].endswith(" in _fail")
    assert refund["body"].startswith("ValueError: bad card in refund\n  at ")  # from format_exc_info's text
    assert refund["body"].endswith(" in _fail")


@pytest.mark.parametrize(
    "renderer",
    [structlog.processors.format_exc_info, structlog.processors.dict_tracebacks],
    ids=["format_exc_info", "dict_tracebacks"],
)
def test_an_exception_rendered_before_the_processor_keeps_type_message_and_frame(
    hub: StandInHub, processor: PushProcessor, renderer: Any
) -> None:
    log = structlog.wrap_logger(
        structlog.PrintLogger(io.StringIO()),
        processors=[
            structlog.processors.add_log_level,
            renderer,
            processor,
            structlog.processors.JSONRenderer(),
        ],
    )
    try:
        try:
            _fail("refund")
        except ValueError as cause:
            raise RuntimeError("refund failed") from cause
    except RuntimeError:
        log.exception("Refund crashed")
    assert processor.client.flush(5)
    (event,) = hub.accepted_events()
    body = event["body"]
    assert body.startswith("RuntimeError: refund failed\n  at "), body  # the exception logged, not its cause
    assert body.endswith(" in test_an_exception_rendered_before_the_processor_keeps_type_message_and_frame")
    assert __file__ in body


def test_never_raises_and_notes_once_on_stderr(hub: StandInHub, capsys: pytest.CaptureFixture[str]) -> None:
    class Broken(Client):
        def capture(self, *args: Any, **kwargs: Any) -> str | None:
            raise RuntimeError("engine broke")

    broken = Broken(hub.dsn)
    proc = PushProcessor(client=broken)
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[proc, structlog.processors.JSONRenderer()]
    )
    log.error("first")
    log.error("second")
    broken.close()
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["first", "second"]
    notes = [line for line in capsys.readouterr().err.splitlines() if "PushProcessor" in line]
    assert len(notes) == 1 and "engine broke" in notes[0]


def test_marker_already_set_is_not_sent_again(hub: StandInHub, processor: PushProcessor) -> None:
    log = structlog.wrap_logger(
        structlog.PrintLogger(io.StringIO()),
        processors=[processor, processor, structlog.processors.KeyValueRenderer()],
    )
    log.error("twice in the chain")
    assert processor.client.flush(5)
    assert [e["title"] for e in hub.accepted_events()] == ["twice in the chain"]


def test_drop_marker_keeps_it_out_of_the_rendered_line(processor: PushProcessor) -> None:
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[processor, drop_marker, structlog.processors.JSONRenderer()]
    )
    log.info("clean")
    assert json.loads(out.getvalue()) == {"event": "clean"}


# ---- routed through the standard library ----------------------------------------------------------
@pytest.fixture
def stdlib_logger(hub: StandInHub) -> Iterator[tuple[logging.Logger, io.StringIO, PushHandler]]:
    """A logger with a console handler using ProcessorFormatter and a PushHandler (own client)."""
    logger = logging.getLogger(f"app.structlog.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    out = io.StringIO()
    console = logging.StreamHandler(out)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                drop_marker,
                structlog.processors.JSONRenderer(),
            ]
        )
    )
    push = PushHandler(hub.dsn, linger=0.05)
    logger.addHandler(console)
    logger.addHandler(push)
    yield logger, out, push
    logger.removeHandler(console)
    logger.removeHandler(push)
    push.close()


def _wrapped(logger: logging.Logger, *processors: Any) -> Any:
    return structlog.wrap_logger(
        logger, processors=list(processors), wrapper_class=structlog.stdlib.BoundLogger
    )


def test_wrap_for_formatter_with_processor_and_handler_sends_once(
    hub: StandInHub, processor: PushProcessor, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, out, push = stdlib_logger
    log = _wrapped(
        logger,
        structlog.stdlib.add_log_level,
        processor,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    )
    log.error("Payment failed", user_id=42, channel="payments")
    assert processor.client.flush(5) and push.client.flush(5)
    (event,) = hub.accepted_events()
    assert (event["title"], event["level"], event["channel"]) == ("Payment failed", "error", "payments")
    assert event["metadata"] == {"user_id": 42}
    assert json.loads(out.getvalue()) == {
        "event": "Payment failed",
        "user_id": 42,
        "channel": "payments",
        "level": "error",
    }


def test_wrap_for_formatter_handler_alone_renders_from_event_key(
    hub: StandInHub, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, _out, push = stdlib_logger
    log = _wrapped(
        logger, structlog.stdlib.add_log_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter
    )
    try:
        _fail("signup")
    except ValueError:
        log.exception("Signup broke", email_domain="example.com", tags=["signup"])
    assert push.client.flush(5)
    (event,) = hub.accepted_events()
    assert event["title"] == "Signup broke"  # not str(dict)
    assert event["level"] == "error" and event["tags"] == ["signup"]
    assert event["metadata"] == {"email_domain": "example.com"}
    assert event["body"].startswith("ValueError: bad card in signup\n  at ")
    assert event["source"]["logger"] == logger.name


def test_render_to_log_kwargs_with_processor_and_handler_sends_once(
    hub: StandInHub, processor: PushProcessor, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, _out, push = stdlib_logger
    logger.handlers[0].setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = _wrapped(logger, processor, structlog.stdlib.render_to_log_kwargs)
    log.warning("Disk almost full", disk="/var", percent=93)
    log.info("handler alone would send this too")
    assert processor.client.flush(5) and push.client.flush(5)
    events = hub.accepted_events()
    assert [(e["title"], e["metadata"]) for e in events] == [
        ("Disk almost full", {"disk": "/var", "percent": 93}),
        ("handler alone would send this too", {}),
    ]
    assert all(e["source"]["logger"] == logger.name for e in events)  # the wrapped logger's name


def test_render_to_log_kwargs_handler_alone(
    hub: StandInHub, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, _out, push = stdlib_logger
    log = _wrapped(logger, structlog.stdlib.render_to_log_kwargs)
    log.error("Queue stuck", queue="mail", body="42 jobs waiting")
    assert push.client.flush(5)
    (event,) = hub.accepted_events()
    assert (event["title"], event["body"], event["metadata"]) == (
        "Queue stuck",
        "42 jobs waiting",
        {"queue": "mail"},
    )


def test_plain_dict_without_event_key_keeps_the_stdlib_rendering(
    hub: StandInHub, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, _out, push = stdlib_logger
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    logger.warning({"order": 7})  # not structlog's: no "event" key
    assert push.client.flush(5)
    (event,) = hub.accepted_events()
    assert event["title"] == "{'order': 7}"


def test_wrap_for_formatter_event_time_is_the_records(
    hub: StandInHub, stdlib_logger: tuple[logging.Logger, io.StringIO, PushHandler]
) -> None:
    logger, _out, push = stdlib_logger
    seen: list[logging.LogRecord] = []
    push.addFilter(lambda record: seen.append(record) or True)
    log = _wrapped(logger, structlog.stdlib.ProcessorFormatter.wrap_for_formatter)
    log.warning("timed")
    assert push.client.flush(5)
    (event,) = hub.accepted_events()
    assert event["ts"] == format_ts(dt.datetime.fromtimestamp(seen[0].created, dt.UTC))


# ---- never feeding on itself, in structlog's recommended stdlib setups ------------------------------
@pytest.fixture
def root_at_debug() -> Iterator[logging.Logger]:
    """The root logger at DEBUG (so httpx/httpcore lines from pushlog's worker reach its handlers);
    handlers, level and structlog's configuration are restored afterwards."""
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    root.setLevel(logging.DEBUG)
    werkzeug = logging.getLogger("werkzeug")  # the in-process stand-in hub's own request lines
    werkzeug.propagate = False
    yield root
    werkzeug.propagate = True
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    structlog.reset_defaults()


def _flush_twice(client: Client) -> None:
    # Records pushlog's own request produced would be queued during the first flush: send them too.
    assert client.flush(5)
    assert client.flush(5)


def _formatter(**kwargs: Any) -> logging.Handler:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(**kwargs))
    return handler


def test_push_processor_in_foreign_pre_chain_sends_each_record_once_and_never_its_own(
    hub: StandInHub, processor: PushProcessor, root_at_debug: logging.Logger
) -> None:
    shared = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, processor]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    processors = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.JSONRenderer(),
    ]
    # structlog's recommended setup, twice (a console and a file), plus a PushHandler on the same root
    root_at_debug.addHandler(_formatter(foreign_pre_chain=shared, processors=processors))
    root_at_debug.addHandler(_formatter(foreign_pre_chain=shared, processors=processors))
    root_at_debug.addHandler(PushHandler(client=processor.client))
    structlog.get_logger("app.s").warning("from structlog", order=1)
    logging.getLogger("app.f").warning("from the standard library %d", 2)
    _flush_twice(processor.client)
    events = hub.accepted_events()
    assert sorted((e["title"], e["source"]["logger"]) for e in events) == [
        ("from structlog", "app.s"),
        ("from the standard library 2", "app.f"),
    ]


def test_push_processor_inside_processor_formatter_processors_sends_each_record_once(
    hub: StandInHub, processor: PushProcessor, root_at_debug: logging.Logger
) -> None:
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    processors = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        processor,
        drop_marker,
        structlog.processors.JSONRenderer(),
    ]
    root_at_debug.addHandler(_formatter(processors=processors))
    root_at_debug.addHandler(PushHandler(client=processor.client))
    root_at_debug.addHandler(_formatter(processors=processors))
    structlog.get_logger("app.s").error("from structlog")
    logging.getLogger("app.f").error("from the standard library")
    _flush_twice(processor.client)
    assert sorted(e["title"] for e in hub.accepted_events()) == [
        "from structlog",
        "from the standard library",
    ]


def test_structlog_chain_into_stdlib_with_push_handler_on_root_never_feeds_on_itself(
    hub: StandInHub, processor: PushProcessor, root_at_debug: logging.Logger
) -> None:
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, processor, structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    root_at_debug.addHandler(PushHandler(client=processor.client))
    structlog.get_logger("app.s").info("only this")
    _flush_twice(processor.client)
    assert [e["title"] for e in hub.accepted_events()] == ["only this"]


def test_push_processor_after_the_renderer_says_where_it_belongs_once(
    processor: PushProcessor, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.processors.JSONRenderer(), processor, lambda _l, _m, rendered: rendered],
    )
    log.warning("one")
    log.warning("two")
    assert out.getvalue().splitlines() == ['{"event": "one"}', '{"event": "two"}']  # passed on untouched
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pushlog:")]
    assert notes == [
        "pushlog: PushProcessor got a str, not an event dict: it sits after the renderer (JSONRenderer, "
        "ConsoleRenderer, wrap_for_formatter...); put it just before the renderer in processors=[...]"
    ]
    assert processor.client.worker_ident is None  # nothing was queued
