import logging

import pytest

from pushlog._levels import LEVEL_NAMES, POLICIES, Level, parse_level, policy_for


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
    ("level", "feed", "push", "urgency", "apns", "fcm", "repeat"),
    [
        (Level.DEBUG, False, False, None, None, None, False),
        (Level.INFO, True, False, None, None, None, False),
        (Level.WARNING, True, True, "normal", "active", "NORMAL", False),
        (Level.ERROR, True, True, "high", "time-sensitive", "HIGH", False),
        (Level.CRITICAL, True, True, "high", "time-sensitive", "HIGH", True),
    ],
)
def test_policy_table_matches_design(
    level: Level,
    feed: bool,
    push: bool,
    urgency: str | None,
    apns: str | None,
    fcm: str | None,
    repeat: bool,
) -> None:
    policy = POLICIES[level]
    assert (policy.feed, policy.push, policy.webpush_urgency) == (feed, push, urgency)
    assert (policy.apns_interruption_level, policy.fcm_priority) == (apns, fcm)
    assert policy.repeat_until_acknowledged is repeat
    assert policy.apns_priority == (10 if push else None)
    assert policy_for(level.wire_name) is policy
