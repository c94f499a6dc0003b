import datetime as _dt
import logging
import re
from pathlib import Path

import pytest

import pushlog
from pushlog._event import Event
from pushlog._levels import FEED_FLOOR, LEVEL_NAMES, POLICIES, PUSH_FLOOR, Level, parse_level
from pushlog._ratelimit import PushLimiter
from pushlog._worker import EventQueue
from pushlog.hub._models import decode_publish


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (logging.DEBUG, Level.DEBUG),
        (logging.INFO, Level.INFO),
        (logging.WARNING, Level.WARNING),
        (logging.ERROR, Level.ERROR),
        (logging.CRITICAL, Level.CRITICAL),
        (0, Level.DEBUG),
        (5, Level.DEBUG),
        (15, Level.DEBUG),
        (25, Level.INFO),  # e.g. a custom NOTICE/SUCCESS level maps down
        (35, Level.WARNING),
        (45, Level.ERROR),
        (60, Level.CRITICAL),
        ("35", Level.WARNING),
        (Level.ERROR, Level.ERROR),
        *[(name, level) for name, level in LEVEL_NAMES.items()],
        *[(name.upper(), level) for name, level in LEVEL_NAMES.items()],
    ],
)
def test_parse_level(given: object, expected: Level) -> None:
    assert parse_level(given) is expected


@pytest.mark.parametrize("bad", ["loud", "", None, True, 1.5, []])
def test_parse_level_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="level"):
        parse_level(bad)


@pytest.mark.parametrize(
    ("level", "feed", "push", "urgent", "urgency", "repeat"),
    [
        (Level.DEBUG, False, False, False, None, False),
        (Level.INFO, True, False, False, None, False),
        (Level.WARNING, True, True, False, "normal", False),
        (Level.ERROR, True, True, False, "high", False),
        (Level.CRITICAL, True, True, True, "high", True),
    ],
)
def test_policy_table_matches_design(
    level: Level, feed: bool, push: bool, urgent: bool, urgency: str | None, repeat: bool
) -> None:
    policy = POLICIES[level]
    assert (policy.feed, policy.push, policy.urgent) == (feed, push, urgent)
    assert (policy.webpush_urgency, policy.repeat_until_acknowledged) == (urgency, repeat)
    assert (FEED_FLOOR, PUSH_FLOOR) == (Level.INFO, Level.WARNING)


def test_every_push_decision_reads_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make INFO behave like CRITICAL in the table alone: client and hub must follow."""
    monkeypatch.setitem(POLICIES, Level.INFO, POLICIES[Level.CRITICAL])
    event = Event(title="x", level=Level.INFO)
    assert event.pushed
    queue = EventQueue(1, batch_size=10)
    assert queue.put(Event(title="feed", level=Level.DEBUG)) and queue.put(event)  # pushed lane evicts
    assert [e.title for e in queue.take(10)] == ["x"]
    limiter = PushLimiter(
        push_burst=1, push_per_minute=0, critical_burst=1, critical_per_minute=0, clock=lambda: 0.0
    )
    assert limiter.admit(Level.INFO) and limiter.admit(Level.WARNING)  # INFO drew on the urgent budget
    assert not limiter.admit(Level.CRITICAL)
    now = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    batch = decode_publish(
        b'{"events": [{"id": "e1", "title": "t", "level": "info"}]}', now=now, max_events=10
    )
    assert [e.push for e in batch.events] == [True]


def test_no_level_comparison_is_restated_outside_the_table() -> None:
    pattern = re.compile(
        r"[<>]=?\s*(Level\.[A-Z]+|(logging\.)?(WARNING|ERROR|CRITICAL)\b)|level\w*\s*[<>]=?\s*[1-5]0\b"
    )
    src = Path(pushlog.__file__).parent
    found = [
        f"{path.relative_to(src)}:{n}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        if path.name != "_levels.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
