"""pushlog.testing: users capture what their code would push, without a hub or a DSN."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import pushlog
from pushlog import Event, PushHandler
from pushlog.testing import capture_events, pushlog_events  # noqa: F401 - a fixture


@pytest.fixture
def no_dsn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PUSHLOG_DSN", raising=False)
    previous = pushlog.set_default_client(None)  # the next call makes a fresh one from the environment
    yield
    made = pushlog.set_default_client(previous)
    if made is not None:
        made.close()


def test_capture_without_dsn_sees_redacted_events_in_order(no_dsn: None) -> None:
    handler = PushHandler()
    logger = logging.getLogger("app.capture")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with capture_events() as events:
            logger.warning("signup %s", "ada", extra={"plan": "pro", "api_key": "abc"})
            logger.warning("signup %s", "bob")  # no dedup while capturing: both are seen
            event_id = pushlog.log("Deployed", env="prod")
        logger.error("after the block")
    finally:
        logger.removeHandler(handler)
    assert [e.title for e in events] == ["signup ada", "signup bob", "Deployed"]
    assert events[0].metadata == {"plan": "pro", "api_key": "[redacted]"} and events[0].pushed
    assert events[2].id == event_id and not events[2].pushed


def test_capture_ends_with_the_block(no_dsn: None) -> None:
    with capture_events() as events:
        pushlog.notify("inside")
    assert pushlog.notify("outside") is None  # inert again: nothing captured, nothing sent
    assert [e.title for e in events] == ["inside"]


def test_exported_fixture_as_a_user_would_use_it(
    no_dsn: None,
    pushlog_events: list[Event],  # noqa: F811 - the fixture imported from pushlog.testing above
) -> None:
    pushlog.critical("paged")
    assert [(e.title, e.level.name) for e in pushlog_events] == [("paged", "CRITICAL")]
