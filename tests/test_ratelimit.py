"""Push budget: token buckets on an injected clock; over budget events go feed-only, then one summary."""

from __future__ import annotations

from tests.conftest import StandInHub
from tests.support.clock import FakeClock

from pushlog import Client
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._ratelimit import PushLimiter, TokenBucket
from pushlog.testing import capture_events


def test_bucket_burst_then_refill(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, per_minute=6, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.advance(9.9)
    assert bucket.take() is False
    clock.advance(0.1)  # 6 per minute = one every 10 s
    assert bucket.take() is True
    clock.advance(3600)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]  # capped at capacity


def test_critical_has_its_own_budget(clock: FakeClock) -> None:
    limiter = PushLimiter(
        push_burst=2, push_per_minute=1, critical_burst=1, critical_per_minute=1, clock=clock
    )
    assert [limiter.admit(Level.ERROR) for _ in range(3)] == [True, True, False]
    assert limiter.admit(Level.CRITICAL) is True
    assert limiter.admit(Level.CRITICAL) is False
    assert limiter.held == 2


def test_summary_only_when_budget_returns(clock: FakeClock) -> None:
    limiter = PushLimiter(push_burst=1, push_per_minute=1, clock=clock)
    assert limiter.admit(Level.WARNING)
    assert not limiter.admit(Level.WARNING)
    assert not limiter.admit(Level.ERROR)
    assert limiter.take_summary() == 0
    clock.advance(60)
    assert limiter.take_summary() == 2
    assert limiter.take_summary() == 0 and limiter.held == 0


def test_client_downgrades_then_pushes_one_summary(hub: StandInHub, clock: FakeClock) -> None:
    client = Client(hub.dsn, linger=0.0, push_burst=2, push_per_minute=1, dedup_window=0, clock=clock)
    try:
        for i in range(5):
            client.capture(Event(title=f"error {i}", level=Level.ERROR))
        assert client.flush(5)
        clock.advance(60)
        client.capture(Event(title="later", level=Level.ERROR))
        assert client.flush(5)
    finally:
        client.close()
    got = [(e["title"], e["level"], e["push"]) for e in hub.accepted_events()]
    assert got == [
        ("error 0", "error", True),
        ("error 1", "error", True),
        ("error 2", "error", False),  # level kept, push withheld: never silently lost
        ("error 3", "error", False),
        ("error 4", "error", False),
        ("3 pushes held back", "warning", True),
        ("later", "error", False),  # the returned token went to the summary
        ("1 push held back", "warning", True),  # close() sends the summary without waiting for a token
    ]


def test_rate_limit_off(hub: StandInHub, clock: FakeClock) -> None:
    client = Client(hub.dsn, linger=0.0, rate_limit="off", dedup_window=0, clock=clock)
    try:
        for i in range(30):
            client.capture(Event(title=f"e{i}", level=Level.ERROR))
        assert client.flush(5)
    finally:
        client.close()
    assert all(e["push"] for e in hub.accepted_events()) and len(hub.accepted_events()) == 30


def test_capture_is_not_rate_limited(clock: FakeClock) -> None:
    client = Client("http://k@127.0.0.1:9", push_burst=1, push_per_minute=0, clock=clock)
    with capture_events() as events:
        for _ in range(3):
            client.capture(Event(title="same", level=Level.ERROR))
    assert [e.pushed for e in events] == [True, True, True]
    client.close()
