"""Per-key token buckets, driven by an injected clock; and the API's 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.clock import utc_clock

from pushlog.hub._ratelimit import RateLimiter


def test_burst_then_refill_at_the_rate() -> None:
    clock = utc_clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)  # one token takes 1/rate seconds
    clock.advance(0.5)
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(0.5)
    clock.advance(100)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]  # refills only up to the burst
    assert limiter.take("k") > 0


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=utc_clock())
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1, clock=utc_clock())


def test_api_answers_429_with_retry_after_and_recovers_when_time_passes(hub_factory: Any) -> None:
    clock = utc_clock()
    running = hub_factory(clock=clock, rate_limit_per_second=0.5, rate_limit_burst=2)
    body = {"events": [{"title": "t"}]}
    with running.client(running.publish_key) as client:
        assert [client.post("/v1/events", json=body).status_code for _ in range(2)] == [202, 202]
        limited = client.post("/v1/events", json=body)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()["error"]["code"] == "rate_limited"
        with running.client(running.read_key) as reader:  # another key is not affected
            assert reader.get("/v1/events").status_code == 200
        clock.advance(2)
        assert client.post("/v1/events", json=body).status_code == 202


def test_wait_looks_without_taking() -> None:
    clock = utc_clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    assert limiter.wait("k") == 0.0
    limiter.take("k")
    limiter.take("k")
    assert limiter.wait("k") == pytest.approx(1.0)
    assert limiter.wait("k") == pytest.approx(1.0)  # looking took nothing
    clock.advance(1)
    assert limiter.wait("k") == 0.0


def test_memory_is_bounded_and_full_buckets_go_first() -> None:
    clock = utc_clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock, max_buckets=3)
    limiter.take("busy")
    limiter.take("busy")
    limiter.take("idle-1")
    limiter.take("idle-2")
    clock.advance(1.0)  # idle-1 and idle-2 are full again (they behave like new); busy has 1 of 2
    limiter.take("new")
    assert set(limiter._buckets) == {"busy", "new"}
    assert limiter.take("busy") == 0.0
    assert limiter.wait("busy") > 0  # its debt was remembered: a new bucket would still hold a token


def test_failed_authentications_are_throttled_per_address_with_retry_after(hub_factory: Any) -> None:
    clock = utc_clock()
    running = hub_factory(clock=clock, auth_failures_per_minute=3)
    with running.client("pl_read_" + "x" * 32) as guesser:
        assert [guesser.get("/v1/events").status_code for _ in range(3)] == [401, 401, 401]
        throttled = guesser.get("/v1/events")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "20"  # one failure refills in 60 s / 3
    assert throttled.json()["error"]["code"] == "too_many_auth_failures"
    with running.client(running.read_key) as reader:
        assert reader.get("/v1/events").status_code == 429  # the address is throttled, right key or not
        with running.client() as anonymous:  # no key at all costs nothing and is still a plain 401
            assert anonymous.get("/v1/events").status_code == 401
        clock.advance(20)
        assert reader.get("/v1/events").status_code == 200
        assert reader.get("/v1/events").status_code == 200  # successes take nothing
