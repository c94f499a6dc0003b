"""The pieces under ``pushlog tail``: the SSE parser, the filter bar syntax and the plain line format."""

from __future__ import annotations

import pytest

from pushlog._levels import Level
from pushlog.cli._feed import FeedFilter, parse_filter
from pushlog.cli._sse import SSEMessage, SSEParser
from pushlog.cli._tail import format_plain


def _feed(parser: SSEParser, text: str) -> list[SSEMessage]:
    out = []
    for line in text.split("\n"):
        message = parser.feed(line)
        if message is not None:
            out.append(message)
    return out


def test_sse_parser_handles_ids_events_comments_and_multiline_data() -> None:
    parser = SSEParser()
    stream = (
        "retry: 2000\n\n"
        ": keepalive\n\n"
        'id: 7\nevent: event\ndata: {"a":\ndata: 1}\n\n'
        'event: ack\ndata:{"id":"x"}\r\n\r\n'
        "id: 8\n\n"  # an id with no data: not dispatched, but remembered
        "data: plain\n\n"
    )
    messages = _feed(parser, stream)
    assert messages == [
        SSEMessage(event="event", data='{"a":\n1}', id="7"),
        SSEMessage(event="ack", data='{"id":"x"}', id="7"),
        SSEMessage(event="message", data="plain", id="8"),
    ]
    assert parser.retry_ms == 2000
    assert parser.last_id == "8"


def test_filter_bar_syntax_round_trips() -> None:
    flt = parse_filter('level:error c:payments tag:db user_id=42 "card declined" again')
    assert flt == FeedFilter(
        level=Level.ERROR, channel="payments", tag="db", meta={"user_id": "42"}, text="card declined again"
    )
    assert parse_filter(flt.describe()) == flt
    assert flt.params() == {
        "level": "error",
        "channel": "payments",
        "tag": "db",
        "meta.user_id": "42",
        "q": "card declined again",
    }
    assert parse_filter("") == FeedFilter()
    with pytest.raises(ValueError, match="unknown level"):
        parse_filter("level:loud")


def test_filter_matches_like_the_hub() -> None:
    event = {
        "level": "warning",
        "channel": "pay",
        "tags": ["a", "b"],
        "metadata": {"user": 42, "vip": True},
        "title": "Card DECLINED",
        "body": None,
    }
    assert FeedFilter(level=Level.WARNING, channel="pay", tag="b", meta={"user": "42"}).matches(event)
    assert FeedFilter(text="declined", meta={"vip": "true"}).matches(event)
    assert not FeedFilter(level=Level.ERROR).matches(event)
    assert not FeedFilter(tag="c").matches(event)
    assert not FeedFilter(meta={"user": "7"}).matches(event)
    assert not FeedFilter(text="timeout").matches(event)


def test_plain_line_format() -> None:
    event = {
        "ts": "2026-11-21T07:12:43.123456Z",
        "level": "error",
        "title": "Backup failed\nsecond line",
        "body": "disk full\nmore",
        "channel": "ops",
        "tags": ["db"],
        "metadata": {"host": "db-1", "size": {"gb": 12}},
        "count": 3,
        "acknowledged_at": None,
    }
    assert format_plain(event) == (
        '2026-11-21T07:12:43Z ERROR    Backup failed — disk full (x3) [ops] #db host=db-1 size={"gb": 12}'
    )
    coloured = format_plain(event, colour=True)
    assert "\x1b[31mERROR   \x1b[0m" in coloured
