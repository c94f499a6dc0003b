"""Event validation defaults and limits (the API tests cover the error answers)."""

from __future__ import annotations

import datetime as _dt
import uuid

import pytest

from pushlog._levels import Level
from pushlog.hub._errors import ApiError
from pushlog.hub._validate import parse_batch, parse_event, parse_json

NOW = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)


def test_defaults() -> None:
    event = parse_event({"title": "hello"}, "e", now=NOW)
    uuid.UUID(event.id)  # an id is made when the client sent none
    assert (event.ts, event.level, event.push, event.count, event.tags, event.metadata) == (
        NOW,
        Level.INFO,
        False,
        1,
        [],
        {},
    )


def test_push_follows_the_level_and_never_pushes_below_warning() -> None:
    assert parse_event({"title": "t", "level": "warning"}, "e", now=NOW).push is True
    assert parse_event({"title": "t", "level": "error", "push": False}, "e", now=NOW).push is False
    assert parse_event({"title": "t", "level": "info", "push": True}, "e", now=NOW).push is False
    assert (
        parse_event({"title": "t", "level": 45}, "e", now=NOW).level is Level.ERROR
    )  # custom levels map down


def test_timestamps_are_utc() -> None:
    event = parse_event({"title": "t", "ts": "2026-03-01T12:00:00+02:00"}, "e", now=NOW)
    assert event.ts == _dt.datetime(2026, 3, 1, 10, 0, tzinfo=_dt.UTC)


def test_metadata_values_at_and_over_the_limit() -> None:
    assert parse_event({"title": "t", "metadata": {"k": "x" * 1022}}, "e", now=NOW).metadata["k"]
    with pytest.raises(ApiError, match=r"e\.metadata\.k"):
        parse_event({"title": "t", "metadata": {"k": "x" * 1023}}, "e", now=NOW)
    with pytest.raises(ApiError, match=r"e\.metadata\.k"):
        parse_event({"title": "t", "metadata": {"k": '"' * 600}}, "e", now=NOW)  # escapes count
    with pytest.raises(ApiError, match="more than 64 keys"):
        parse_event({"title": "t", "metadata": {str(i): i for i in range(65)}}, "e", now=NOW)


def test_batch_limits_and_json_errors() -> None:
    with pytest.raises(ApiError, match="more than 2 events"):
        parse_batch({"events": [{"title": "a"}] * 3}, now=NOW, max_events=2)
    assert parse_batch({"events": []}, now=NOW, max_events=2) == []
    with pytest.raises(ApiError) as caught:
        parse_json(b"\xff\xfe")
    assert (caught.value.status, caught.value.code) == (400, "invalid_utf8")
