"""Event validation defaults and limits (the API tests cover the error answers over HTTP)."""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from typing import Any

import pytest

from pushlog._event import MAX_METADATA_VALUE, Event, truncate
from pushlog._levels import Level
from pushlog.hub._errors import ApiError
from pushlog.hub._models import PublishBatch, decode_publish

NOW = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)


def batch(*events: Any, max_events: int = 100, raw: bytes | None = None) -> PublishBatch:
    body = raw if raw is not None else json.dumps({"events": list(events)}).encode()
    return decode_publish(body, now=NOW, max_events=max_events)


def one(event: dict[str, Any]) -> Any:
    result = batch(event)
    assert not result.rejected, result.rejected
    [parsed] = result.events
    return parsed


def test_defaults() -> None:
    event = one({"title": "hello"})
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
    assert one({"title": "t", "level": "warning"}).push is True
    assert one({"title": "t", "level": "error", "push": False}).push is False
    assert one({"title": "t", "level": "info", "push": True}).push is False
    assert one({"title": "t", "level": 45}).level is Level.ERROR  # custom levels map down
    assert one({"title": "t", "level": "error", "repeat_of": "x"}).push is False


def test_timestamps_are_utc() -> None:
    event = one({"title": "t", "ts": "2026-03-01T12:00:00+02:00"})
    assert event.ts == _dt.datetime(2026, 3, 1, 10, 0, tzinfo=_dt.UTC)


def test_metadata_values_are_measured_as_the_client_cuts_them() -> None:
    cut = truncate("x" * 10_000, MAX_METADATA_VALUE)
    assert one({"title": "t", "metadata": {"k": cut}}).metadata["k"] == cut
    assert one({"title": "t", "metadata": {"k": '"' * MAX_METADATA_VALUE}}).metadata["k"]
    result = batch({"title": "t", "metadata": {"k": "x" * (MAX_METADATA_VALUE + 1)}})
    assert "events[0].metadata.k" in result.rejected[0].error.message
    result = batch({"title": "t", "metadata": {"k": ['"' * 600]}})  # a container: its JSON counts
    assert "events[0].metadata.k" in result.rejected[0].error.message
    result = batch({"title": "t", "metadata": {str(i): i for i in range(65)}})
    assert "more than 64 keys" in result.rejected[0].error.message


def test_what_the_client_builds_is_accepted() -> None:
    """The client's own event, with every field at its limit, passes the hub's checks."""
    event = Event(
        title="t" * 256,
        body="b" * 8192,
        tags=["g" * 64] * 32,
        metadata={f"k{i}": "v" * MAX_METADATA_VALUE for i in range(64)},
        fingerprint="f" * 128,
        channel="c" * 64,
        level=Level.CRITICAL,
        count=5,
    )
    parsed = one(event.to_wire())
    assert (parsed.id, parsed.title, parsed.count) == (event.id, event.title, 5)


def test_one_bad_event_keeps_its_neighbours_and_its_position() -> None:
    result = batch({"title": "a"}, {"title": 3, "id": "bad"}, {"title": "c"})
    assert [e.title for e in result.events] == ["a", "c"]
    assert result.positions == [0, 2]
    [rejected] = result.rejected
    assert (rejected.index, rejected.id) == (1, "bad")


def test_batch_limits_and_json_errors() -> None:
    with pytest.raises(ApiError, match="more than 2 events"):
        batch({"title": "a"}, {"title": "b"}, {"title": "c"}, max_events=2)
    assert batch().events == []
    with pytest.raises(ApiError) as caught:
        batch(raw=b"\xff\xfe")
    assert (caught.value.status, caught.value.code) == (400, "invalid_utf8")
    with pytest.raises(ApiError) as caught:
        batch(raw=b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
    assert (caught.value.status, caught.value.code) == (400, "malformed_json")
