"""Sentry's before_send hook with a real sentry-sdk client whose DSN points at a local fake Sentry:
the user's own event still arrives, and the push goes out exactly once."""

from __future__ import annotations

import gzip
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from pytest_httpserver import HTTPServer
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.logging import LoggingIntegration
from tests.conftest import StandInHub
from werkzeug import Request, Response

from pushlog import Client, PushHandler
from pushlog.integrations.sentry import before_send, make_before_send

LINK = "https://acme.sentry.example/issues/?query={event_id}"


class FakeSentry:
    """Accepts envelopes at ``/api/<project>/envelope/`` and keeps the error events in them."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.server.expect_request("/api/42/envelope/", method="POST").respond_with_handler(self._handle)
        self.server.start()
        self.dsn = f"http://publickey@127.0.0.1:{self.server.port}/42"
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def _handle(self, request: Request) -> Response:
        raw = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        envelope = Envelope.deserialize(raw)
        with self._cond:
            self.events.extend(item.get_event() for item in envelope.items if item.get_event() is not None)
            self._cond.notify_all()
        return Response("{}", 200, content_type="application/json")

    def wait_events(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.events) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"fake Sentry got {len(self.events)} events, wanted {n}")
                self._cond.wait(remaining)
            return list(self.events)

    def stop(self) -> None:
        self.server.clear()
        self.server.stop()


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    sentry = FakeSentry()
    yield sentry
    sentry.stop()


@pytest.fixture
def push_client(hub: StandInHub) -> Iterator[Client]:
    client = Client(hub.dsn, linger=0.05)
    yield client
    client.close()


def _init(fake: FakeSentry, hook: Any) -> Any:
    return sentry_sdk.init(
        dsn=fake.dsn,
        before_send=hook,
        default_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
    )


@pytest.fixture
def sentry_session() -> Iterator[None]:
    yield
    sentry_sdk.flush(5)
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def _charge(card: str) -> None:
    raise ValueError(f"card {card} declined")


def test_captured_exception_reaches_sentry_and_is_pushed_once(
    hub: StandInHub, fake_sentry: FakeSentry, push_client: Client, sentry_session: None
) -> None:
    _init(fake_sentry, make_before_send(client=push_client, channel="errors", link_template=LINK))
    try:
        _charge("4242")
    except ValueError as exc:
        event_id = sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(5)
    (sentry_event,) = fake_sentry.wait_events(1)
    assert sentry_event["event_id"] == event_id
    assert sentry_event["exception"]["values"][-1]["value"] == "card 4242 declined"

    assert push_client.flush(5)
    (pushed,) = hub.accepted_events()
    assert pushed["title"] == "ValueError: card 4242 declined"
    assert pushed["level"] == "error" and pushed["push"] is True
    assert pushed["body"].startswith("at ") and pushed["body"].endswith(" in _charge")
    assert pushed["metadata"]["sentry_event_id"] == event_id
    assert pushed["channel"] == "errors"
    assert pushed["link"] == f"https://acme.sentry.example/issues/?query={event_id}"


def test_record_pushed_by_pushhandler_is_not_pushed_again(
    hub: StandInHub, fake_sentry: FakeSentry, push_client: Client, sentry_session: None
) -> None:
    _init(fake_sentry, make_before_send(client=push_client))
    handler = PushHandler(hub.dsn, linger=0.05)  # its own client: only the record mark prevents a double
    logger = logging.getLogger(f"app.sentry.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            _charge("1111")
        except ValueError:
            logger.exception("Payment failed for order %s", 7)
        logger.error("Inventory out of sync")
    finally:
        logger.removeHandler(handler)
    sentry_sdk.flush(5)
    sentry_events = fake_sentry.wait_events(2)
    assert sorted(e["logentry"]["formatted"] for e in sentry_events) == [
        "Inventory out of sync",
        "Payment failed for order 7",
    ]
    assert handler.client.flush(5) and push_client.flush(5)
    handler.close()
    events = hub.accepted_events()
    assert sorted(e["title"] for e in events) == ["Inventory out of sync", "Payment failed for order 7"]
    assert all(e["source"]["logger"] == logger.name for e in events)
    assert all("sentry_event_id" not in e["metadata"] for e in events)  # both came from the handler


def test_log_record_without_pushhandler_is_pushed_from_sentry(
    hub: StandInHub, fake_sentry: FakeSentry, push_client: Client, sentry_session: None
) -> None:
    _init(fake_sentry, make_before_send(client=push_client))
    logger = logging.getLogger(f"app.sentry.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    try:
        _charge("2222")
    except ValueError:
        logger.exception("Refund failed")
    sentry_sdk.flush(5)
    (sentry_event,) = fake_sentry.wait_events(1)
    assert push_client.flush(5)
    (pushed,) = hub.accepted_events()
    assert pushed["title"] == "Refund failed"
    assert pushed["body"].startswith("ValueError: card 2222 declined\n  at ")
    assert pushed["metadata"]["sentry_event_id"] == sentry_event["event_id"]
    assert pushed["source"]["logger"] == logger.name


def test_failing_forward_still_returns_the_event(
    hub: StandInHub, fake_sentry: FakeSentry, sentry_session: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(Client):
        def capture(self, *args: Any, **kwargs: Any) -> str | None:
            raise RuntimeError("engine broke")

    broken = Broken(hub.dsn)
    hook = make_before_send(client=broken)
    given: dict[str, Any] = {"event_id": "abc", "level": "error", "message": "direct call"}
    assert hook(given, {}) is given
    _init(fake_sentry, hook)
    event_id = sentry_sdk.capture_message("still reaches Sentry", level="error")
    sentry_sdk.flush(5)
    (sentry_event,) = fake_sentry.wait_events(1)
    assert sentry_event["event_id"] == event_id
    broken.close()
    notes = [line for line in capsys.readouterr().err.splitlines() if "before_send" in line]
    assert len(notes) == 1 and "engine broke" in notes[0]  # rate-limited: one note for two failures


def test_min_level_and_chain(
    hub: StandInHub, fake_sentry: FakeSentry, push_client: Client, sentry_session: None
) -> None:
    def mine(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("tags", {}).get("noise") == "yes":
            return None
        event.setdefault("tags", {})["team"] = "payments"
        return event

    _init(fake_sentry, make_before_send(client=push_client, min_level="warning", chain=mine))
    sentry_sdk.capture_message("just info", level="info")
    sentry_sdk.capture_message("a warning", level="warning")
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("noise", "yes")
        sentry_sdk.capture_message("dropped by the user's hook", level="error")
    sentry_sdk.capture_message("fatal one", level="fatal")
    sentry_sdk.flush(5)
    at_sentry = fake_sentry.wait_events(3)
    assert sorted(e["message"] for e in at_sentry) == ["a warning", "fatal one", "just info"]
    assert push_client.flush(5)
    pushed = {e["title"]: e for e in hub.accepted_events()}
    assert sorted(pushed) == ["a warning", "fatal one"]
    assert pushed["fatal one"]["level"] == "critical"
    assert pushed["a warning"]["metadata"]["team"] == "payments"  # the chained hook's change is pushed


def test_module_level_hook_uses_the_default_client_and_returns_the_event() -> None:
    from pushlog.testing import capture_events

    event: dict[str, Any] = {"event_id": "e1", "level": "error", "message": "captured", "environment": "prod"}
    with capture_events() as events:
        assert before_send(event, {}) is event
        assert before_send({"level": "warning", "message": "below error"}, {}) is not None
    (pushed,) = events
    assert pushed.title == "captured" and pushed.metadata == {"sentry_event_id": "e1", "environment": "prod"}


def test_hex_ids_with_long_digit_runs_survive_redaction(push_client: Client, hub: StandInHub) -> None:
    """A Sentry event id (or trace id) can hold a Luhn-valid run of digits; it is not a card number."""
    hook = make_before_send(client=push_client)
    event_id = "1cc58d8867ba4287916539991ae19772"
    hook({"event_id": event_id, "level": "error", "message": "card 4242 4242 4242 4242 declined"}, {})
    assert push_client.flush(5)
    (pushed,) = hub.accepted_events()
    assert pushed["metadata"]["sentry_event_id"] == event_id
    assert pushed["title"] == "card [redacted] declined"


def test_events_sentry_makes_from_pushlogs_own_logging_are_not_pushed(
    hub: StandInHub, fake_sentry: FakeSentry, push_client: Client, sentry_session: None
) -> None:
    sentry_sdk.init(
        dsn=fake_sentry.dsn,
        before_send=make_before_send(client=push_client, min_level="info"),
        default_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.INFO)],
    )
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.INFO)  # httpx's "HTTP Request: POST ..." lines from the worker become events
    werkzeug = logging.getLogger("werkzeug")  # the in-process stand-in hub's own request lines
    werkzeug.disabled = True
    try:
        logging.getLogger(f"app.sentry.{uuid.uuid4().hex[:8]}").info("Order shipped")
        assert push_client.flush(5)
        assert push_client.flush(5)  # anything pushlog's own requests produced would go out now
        sentry_sdk.flush(5)
    finally:
        root.setLevel(saved)
        werkzeug.disabled = False
    assert any("HTTP Request" in str(e.get("logentry")) for e in fake_sentry.events)  # Sentry saw them
    assert [e["title"] for e in hub.accepted_events()] == ["Order shipped"]
