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
