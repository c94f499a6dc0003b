"""PushHandler against a stand-in hub on loopback: wire format, levels, snapshot, recursion, markers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from tests.conftest import StandInHub

from pushlog import Client, PushHandler
from pushlog._event import MAX_BODY, MAX_TITLE, TRUNCATION_MARKER
from pushlog._handler import IGNORED_LOGGERS
from pushlog._snapshot import RECORD_EVENT_ID, STRUCTLOG_MARKER

WIRE_FIELDS = {
    "id",
    "ts",
    "level",
    "title",
    "body",
    "channel",
    "tags",
    "link",
    "image",
    "actions",
    "metadata",
    "fingerprint",
    "count",
    "push",
    "source",
}


@pytest.fixture
def quiet_werkzeug() -> Iterator[None]:
    """The stand-in hub's own request log must not reach handlers on the root logger."""
    werkzeug = logging.getLogger("werkzeug")
    old = werkzeug.disabled
    werkzeug.disabled = True
    yield
    werkzeug.disabled = old


@pytest.fixture
def app_logger(hub: StandInHub) -> Iterator[tuple[logging.Logger, PushHandler]]:
    handler = PushHandler(hub.dsn, level="DEBUG", linger=0.05)
    logger = logging.getLogger(f"app.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)
    handler.close()


def test_wire_format_field_by_field(hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler]) -> None:
    logger, handler = app_logger
    before = dt.datetime.now(dt.UTC)
    logger.warning(
        "Payment failed for %s\nsecond line\nthird",
        "ada",
        extra={
            "user_id": 42,
            "plan": "pro",
            "channel": "payments",
            "tags": ["billing", "eu"],
            "link": "https://example.com/p/1",
            "image": "https://example.com/i.png",
            "actions": [{"action": "open", "title": "Open", "url": "https://example.com"}],
        },
    )
    assert handler.client.flush(5)
    (request,) = hub.requests
    assert request["headers"]["Authorization"] == f"Bearer {hub.key}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"].startswith("pushlog/")
    body = request["json"]
    assert set(body) == {"events", "client"}
    assert body["client"]["sdk"].startswith("pushlog/")
    (event,) = body["events"]
    assert set(event) == WIRE_FIELDS
    assert uuid.UUID(event["id"]).version == 4
    ts = dt.datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
    assert event["ts"].endswith("Z") and before <= ts <= dt.datetime.now(dt.UTC)
    assert event["level"] == "warning"
    assert event["title"] == "Payment failed for ada"
    assert event["body"] == "second line\nthird"
    assert event["channel"] == "payments"
    assert event["tags"] == ["billing", "eu"]
    assert event["link"] == "https://example.com/p/1"
    assert event["image"] == "https://example.com/i.png"
    assert event["actions"] == [{"action": "open", "title": "Open", "url": "https://example.com"}]
    assert event["metadata"] == {"user_id": 42, "plan": "pro"}
    assert isinstance(event["fingerprint"], str) and len(event["fingerprint"]) == 32
    assert event["count"] == 1
    assert event["push"] is True
    assert event["source"] == {
        "logger": logger.name,
        "module": f"test_handler:{event['source']['module'].split(':')[1]}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


@pytest.mark.parametrize(
    ("levelno", "wire", "push"),
    [
        (logging.DEBUG, "debug", False),
        (logging.INFO, "info", False),
        (25, "info", False),  # a custom level maps down
        (logging.WARNING, "warning", True),
        (35, "warning", True),
        (logging.ERROR, "error", True),
        (logging.CRITICAL, "critical", True),
        (70, "critical", True),
    ],
)
def test_record_levels_map_to_wire_levels(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler], levelno: int, wire: str, push: bool
) -> None:
    logger, handler = app_logger
    logger.log(levelno, "level %d", levelno)
    assert handler.client.flush(5)
    (event,) = hub.accepted_events()
    assert (event["level"], event["push"]) == (wire, push)


def test_exception_body_has_type_message_and_innermost_frame(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler]
) -> None:
    logger, handler = app_logger

    def inner() -> None:
        raise KeyError("missing-card")

    try:
        inner()
    except KeyError:
        logger.exception("Charge failed")
    assert handler.client.flush(5)
    (event,) = hub.accepted_events()
    assert event["title"] == "Charge failed"
    assert event["level"] == "error"
    first, second = event["body"].splitlines()
    assert first == "KeyError: 'missing-card'"
    assert second.startswith(f"  at {__file__}:") and second.endswith(" in inner")


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __str__(self) -> str:
        raise RuntimeError("no str either")


def test_odd_extra_values_become_safe(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler]
) -> None:
    logger, handler = app_logger
    cyclic: list[object] = []
    cyclic.append(cyclic)
    logger.error(
        "odd values",
        extra={
            "obj": Unrepresentable(),
            "nan": float("nan"),
            "big": 2**80,
            "raw": b"\xff\x00",
            "when": dt.date(2026, 1, 2),
            "cyclic": cyclic,
            "nested": {"a": {1, 2}, 3: (4, 5)},
            "huge": "x" * 5000,
            "tags": Unrepresentable(),  # a reserved key with a bad value
        },
    )
    # a msg that cannot even be str()'d (stdlib handlers would fail on it; give it to ours directly)
    handler.handle(logging.LogRecord(logger.name, logging.ERROR, __file__, 1, Unrepresentable(), None, None))
    bad_format = logging.LogRecord(logger.name, logging.ERROR, __file__, 1, "bad %d format", ("x",), None)
    handler.handle(bad_format)  # %-formatting fails
    assert handler.client.flush(5)
    first, second, third = hub.accepted_events()
    meta = first["metadata"]
    assert meta["obj"] == "<unrepresentable Unrepresentable>"
    assert meta["nan"] == "nan"
    assert meta["big"] == str(2**80)
    assert meta["raw"] == repr(b"\xff\x00")
    assert meta["when"] == "datetime.date(2026, 1, 2)"
    assert isinstance(meta["cyclic"], list)
    assert sorted(meta["nested"]["a"]) == [1, 2] and meta["nested"]["3"] == [4, 5]
    assert meta["huge"].endswith(TRUNCATION_MARKER) and len(meta["huge"]) <= 1024
    assert first["tags"] == ["<unrepresentable Unrepresentable>"]
    assert second["title"] == "<unrepresentable Unrepresentable>"
    assert third["title"].startswith("bad %d format (args:") and "'x'" in third["title"]


def test_200kb_message_is_truncated_with_marker(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler]
) -> None:
    logger, handler = app_logger
    logger.warning("A" * 200_000 + "\n" + "B" * 200_000)
    assert handler.client.flush(5)
    (event,) = hub.accepted_events()
    assert len(event["title"]) == MAX_TITLE and event["title"].endswith(TRUNCATION_MARKER)
    assert len(event["body"]) == MAX_BODY and event["body"].endswith(TRUNCATION_MARKER)


def test_root_at_debug_one_call_makes_exactly_one_event(hub: StandInHub, quiet_werkzeug: None) -> None:
    root = logging.getLogger()
    old_level = root.level
    handler = PushHandler(hub.dsn, level="DEBUG", linger=0.0)
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        logging.getLogger("app.once").debug("exactly once")
        assert handler.client.flush(5)
        # the worker's own httpx/httpcore DEBUG records went through root: none may become an event
        logging.getLogger("app.once").info("second")
        assert handler.client.flush(5)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    titles = [e["title"] for e in hub.accepted_events()]
    assert titles == ["exactly once", "second"]


@pytest.mark.parametrize("name", sorted(IGNORED_LOGGERS))
def test_own_and_http_stack_loggers_are_ignored(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler], name: str
) -> None:
    _, handler = app_logger
    for logger_name in (name, f"{name}.sub"):
        record = logging.LogRecord(logger_name, logging.ERROR, __file__, 1, "ignored", None, None)
        handler.handle(record)
    logging.getLogger("app.x").addHandler(handler)
    try:
        logging.getLogger("app.x").error("kept")
    finally:
        logging.getLogger("app.x").removeHandler(handler)
    assert handler.client.flush(5)
    assert [e["title"] for e in hub.accepted_events()] == ["kept"]


def test_records_logged_on_the_worker_thread_are_ignored(hub: StandInHub) -> None:
    from pushlog._event import Event
    from pushlog._redact import Redactor

    class ChattyRedactor(Redactor):
        """Runs on the worker thread for every event; logs to an app logger the handler listens to."""

        def event(self, event: Event) -> Event:
            logging.getLogger("app.w").error("logged on the worker while redacting %s", event.title)
            return super().event(event)

    client = Client(hub.dsn, linger=0.0)
    client.redactor = ChattyRedactor()
    handler = PushHandler(client=client)
    logging.getLogger("app.w").addHandler(handler)
    try:
        logging.getLogger("app.w").error("first")
        assert client.flush(5)
        logging.getLogger("app.w").error("second")
        assert client.flush(5)
    finally:
        logging.getLogger("app.w").removeHandler(handler)
        client.close()
    assert [e["title"] for e in hub.accepted_events()] == ["first", "second"]


def test_structlog_marker_skips_and_record_gets_event_id(
    hub: StandInHub, app_logger: tuple[logging.Logger, PushHandler]
) -> None:
    logger, handler = app_logger
    logger.error({"event": "already pushed", STRUCTLOG_MARKER: True})  # wrap_for_formatter style
    logger.error("already pushed too", extra={STRUCTLOG_MARKER: True})  # render_to_log_kwargs style
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keeper = Keep()
    logger.addHandler(keeper)
    logger.error("pushed")
    logger.error("pushed")  # a repeat: counted, marked with the first event's id
    logger.removeHandler(keeper)
    assert handler.client.flush(5)
    events = hub.accepted_events()
    assert [(e["title"], e["count"]) for e in events] == [("pushed", 1), ("pushed", 1)]
    first_id = events[0]["id"]
    assert [getattr(r, RECORD_EVENT_ID) for r in seen] == [first_id, first_id]


def test_dictconfig_class_and_factory_with_string_options(hub: StandInHub) -> None:
    import logging.config

    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "by_class": {
                "class": "pushlog.PushHandler",
                "dsn": hub.dsn,
                "level": "WARNING",
                "dedup_window": "30",
                "linger": "0",
                "rate_limit": "false",
            },
            "by_factory": {
                "()": "pushlog.PushHandler",
                "dsn": hub.dsn,
                "level": "CRITICAL",
                "queue_size": 50,
            },
        },
        "loggers": {"dc": {"handlers": ["by_class", "by_factory"], "level": "DEBUG", "propagate": False}},
    }
    logging.config.dictConfig(config)
    by_class, by_factory = logging.getLogger("dc").handlers
    try:
        assert isinstance(by_class, PushHandler) and isinstance(by_factory, PushHandler)
        assert by_class.level == logging.WARNING and by_factory.level == logging.CRITICAL
        assert by_class.client.dedup_window == 30.0 and by_class.client.rate_limit is False
        assert by_factory.client.queue_size == 50
        assert by_class.client.worker_ident is None  # nothing started, no network in __init__
        logging.getLogger("dc").info("below both")
        logging.getLogger("dc").critical("both")
        assert by_class.client.flush(5) and by_factory.client.flush(5)
        assert [e["title"] for e in hub.accepted_events()] == ["both", "both"]
    finally:
        logging.getLogger("dc").handlers.clear()
        by_class.close()
        by_factory.close()


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        PushHandler("http://k@127.0.0.1:9", level="loud")
    with pytest.raises(ValueError, match="dedup_window must be a number"):
        PushHandler("http://k@127.0.0.1:9", dedup_window="soon")
    with pytest.raises(ValueError, match="PUSHLOG_DSN must start with http"):
        PushHandler("ftp://k@host")
    with pytest.raises(TypeError):
        PushHandler("http://k@127.0.0.1:9", no_such_option=1)
