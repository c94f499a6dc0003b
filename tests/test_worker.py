"""The hand-off queue and the worker: never blocking the app, drop accounting, retries, linger."""

from __future__ import annotations

import logging

import pytest
from tests.conftest import StandInHub

from pushlog import Client, PushHandler
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._worker import EventQueue


def _feed(title: str) -> Event:
    return Event(title=title, level=Level.INFO)


def _pushed(title: str) -> Event:
    return Event(title=title, level=Level.ERROR)


def test_full_queue_drops_feed_before_pushed() -> None:
    queue = EventQueue(3, batch_size=10)
    assert queue.put(_feed("f1")) and queue.put(_feed("f2")) and queue.put(_pushed("p1"))
    assert queue.put(_feed("f3")) is False  # full: a feed-only event is dropped
    assert queue.put(_pushed("p2")) is True  # full: a pushed event evicts the oldest feed-only one
    assert queue.put(_pushed("p3")) is True
    assert queue.put(_pushed("p4")) is False  # only pushed events left: the newcomer is dropped
    assert [e.title for e in queue.take(10)] == ["p1", "p2", "p3"]
    assert queue.take_dropped() == 4 and queue.take_dropped() == 0
    assert queue.accepted == 5 and queue.left == 5


def test_hung_hub_does_not_block_10000_error_calls(hub: StandInHub) -> None:
    hub.script.append(hub.hang)  # the first POST is parked until we release it
    client = Client(hub.dsn, timeout=60, queue_size=1000, linger=0.0, dedup_window=0, rate_limit=False)
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.hang")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("first")
        hub.wait_for(lambda: client.worker_ident is not None)
        for i in range(10_000):
            logger.error(f"error number {i}")
        # Every call returned while the first POST is still parked: none waited for the network.
        assert hub.requests == [] and not hub.release.is_set()
        assert client.flush(0.05) is False  # bounded: gives up instead of waiting for the hub
        hub.release.set()
        assert client.flush(10)
    finally:
        logger.removeHandler(handler)
        client.close()
    delivered = hub.accepted_events()
    dropped = sum(r["json"]["client"].get("dropped", 0) for r in hub.requests)
    assert len(delivered) < 10_001 and dropped > 0
    assert len(delivered) + dropped == 10_001  # every record is either delivered or counted as dropped
    assert len({e["id"] for e in delivered}) == len(delivered)


def test_503_retry_after_is_honoured_and_retry_has_same_ids(hub: StandInHub) -> None:
    hub.script += [hub.status(503, {"Retry-After": "1"}), hub.status(500)]
    client = Client(hub.dsn, linger=0.0)
    try:
        event_id = client.capture(_pushed("retry me"))
        assert client.flush(10)
    finally:
        client.close()
    statuses = [r["status"] for r in hub.requests]
    assert statuses == [503, 500, 202]
    assert [r["json"]["events"][0]["id"] for r in hub.requests] == [event_id] * 3
    assert hub.requests[1]["at"] - hub.requests[0]["at"] >= 1.0  # waited as told


def test_other_4xx_not_retried_and_one_stderr_note(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.script += [hub.status(400), hub.status(422)]
    client = Client(hub.dsn, linger=0.0, batch_size=1, dedup_window=0)
    try:
        client.capture(_pushed("bad one"))
        assert client.flush(5) is False
        client.capture(_pushed("bad two"))
        assert client.flush(5) is False
        client.capture(_pushed("good"))
        assert client.flush(5) is True
    finally:
        client.close()
    assert [r["status"] for r in hub.requests] == [400, 422, 202]
    err = capsys.readouterr().err.splitlines()
    assert err == ["pushlog: hub refused 1 event(s) (400 status_400: stand-in says 400); dropped them"]


def test_pushed_event_goes_at_once_and_takes_lingering_feed_along(hub: StandInHub) -> None:
    client = Client(hub.dsn, linger=3600)  # feed-only events would wait an hour on their own
    try:
        client.capture(_feed("feed line"))
        client.capture(_pushed("page me"))
        hub.wait_for(lambda: len(hub.requests) == 1)
        (request,) = hub.requests
        assert [e["title"] for e in request["json"]["events"]] == ["page me", "feed line"]
        client.capture(_feed("another feed line"))
        assert client.flush(5)  # a flush does not wait for the linger either
        assert [e["title"] for e in hub.requests[1]["json"]["events"]] == ["another feed line"]
    finally:
        client.close()


def test_large_batches_are_split(hub: StandInHub) -> None:
    client = Client(hub.dsn, linger=3600, dedup_window=0)
    try:
        for i in range(100):
            client.capture(
                Event(title=f"big {i}", body="x" * 8000, metadata={f"k{j}": "y" * 1000 for j in range(5)})
            )
        assert client.flush(10)
    finally:
        client.close()
    assert len(hub.accepted_events()) == 100
    assert len(hub.requests) > 1


def test_transport_timeout_is_retried_and_the_retry_is_a_duplicate_not_a_second_event(
    hub: StandInHub,
) -> None:
    hub.script.append(hub.hang)  # the first attempt gets no answer in time: a read timeout
    client = Client(hub.dsn, linger=0.0, timeout=0.3)
    try:
        event_id = client.capture(_pushed("timed out once"))
        hub.wait_for(lambda: client.worker_ident is not None)
        assert client.flush(1.0) is False  # still retrying behind the hung request
        hub.release.set()
        assert client.flush(10) is True
    finally:
        client.close()
    assert [r["json"]["events"][0]["id"] for r in hub.requests][:2] == [event_id, event_id]
    assert [e["id"] for e in hub.accepted_events()].count(event_id) >= 2
    assert len(hub.seen_ids) == 1  # the hub saw one event; the retry counted as a duplicate
