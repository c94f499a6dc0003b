"""The hand-off queue and the worker: never blocking the app, drop accounting, retries, linger."""

from __future__ import annotations

import json
import logging
import os

import pytest
from tests.conftest import StandInHub
from tests.support.clock import FakeClock
from tests.support.hub_server import wait_until
from werkzeug import Request, Response

from pushlog import Client, PushHandler
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._worker import Backlog, EventQueue, Worker


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
    assert queue.dropped_report() == (4, "queue full")  # what the exit line says of them
    assert queue.take_dropped() == 4 and queue.take_dropped() == 0
    assert queue.dropped_report() == (0, "")
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
    hub.script += [hub.status(503, {"Retry-After": "7"}), hub.status(500)]
    clock = FakeClock()  # the worker schedules retries on the client's clock: no real waiting
    client = Client(hub.dsn, linger=0.0, clock=clock)
    try:
        event_id = client.capture(_pushed("retry me"))
        hub.wait_for(lambda: len(hub.requests) == 1)
        assert clock.wait_for_waiter(at_least=1.0) == 1.0  # parked for one tick of the 7 s it was told
        clock.advance(6.0)
        assert clock.wait_for_waiter(at_least=1.0) == 1.0 and len(hub.requests) == 1  # 1 s still to go
        clock.advance(1.0)
        hub.wait_for(lambda: len(hub.requests) == 2)  # the 500, second failure: backoff of 0.5 to 1 s
        assert 0.5 <= clock.wait_for_waiter(at_least=0.5) <= 1.0
        clock.advance(1.0)
        assert client.flush(10)
    finally:
        client.close()
    statuses = [r["status"] for r in hub.requests]
    assert statuses == [503, 500, 202]
    assert [r["json"]["events"][0]["id"] for r in hub.requests] == [event_id] * 3


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


def test_events_the_hub_rejects_in_a_202_are_counted_as_dropped(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hub stores a batch's good events and names the bad ones under ``rejected``: those are
    dropped, said once on stderr, and reported as dropped with the next batch."""

    def reject_second(request: Request) -> Response:
        events = request.get_json()["events"]
        body = {
            "accepted": len(events) - 1,
            "duplicates": 0,
            "rejected": [
                {
                    "index": 1,
                    "id": events[1]["id"],
                    "error": {"code": "invalid", "message": "events[1].title: too long"},
                }
            ],
        }
        return Response(json.dumps(body), 202, content_type="application/json")

    hub.script.append(reject_second)
    client = Client(hub.dsn, linger=3600, dedup_window=0)
    try:
        client.capture(_feed("one"))
        client.capture(_feed("two"))
        client.capture(_feed("three"))
        assert client.flush(5) is False  # not everything was delivered: one event was dropped
        client.capture(_pushed("next"))
        assert client.flush(5) is True
    finally:
        client.close()
    assert len(hub.requests) == 2
    assert hub.requests[1]["json"]["client"]["dropped"] == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["pushlog: hub refused 1 event(s) of a batch (events[1].title: too long); dropped them"]


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


# ---- a worker that cannot die -------------------------------------------------------------------------
def _titles(hub: StandInHub) -> list[str]:
    return [e["title"] for e in hub.accepted_events()]


def _dropped(hub: StandInHub) -> int:
    return sum(r["json"]["client"].get("dropped", 0) for r in hub.requests if r["status"] == 202)


def test_lone_surrogate_is_repaired_and_later_records_arrive(hub: StandInHub) -> None:
    client = Client(hub.dsn, linger=0.0, dedup_window=0)
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.surrogate")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        path = os.fsdecode(b"report-\xff.txt")  # an undecodable file name: a lone surrogate
        logger.warning("cannot open %s", path, extra={"path": path, path: "as a key too"})
        for i in range(20):
            logger.info(f"normal record {i}")
        assert client.flush(10)
    finally:
        logger.removeHandler(handler)
        client.close()
    titles = _titles(hub)
    assert titles[0] == "cannot open report-\\xff.txt"
    assert sorted(titles[1:]) == sorted(f"normal record {i}" for i in range(20))
    first = hub.accepted_events()[0]
    assert first["metadata"]["path"] == "report-\\xff.txt" and "report-\\xff.txt" in first["metadata"]


def test_event_that_cannot_be_encoded_is_dropped_counted_and_alone(hub: StandInHub) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        __repr__ = __str__

    client = Client(hub.dsn, linger=3600, dedup_window=0)
    try:
        client.capture(_feed("before"))
        # Client.capture takes an Event as given (with its dedup key, nothing looks at the metadata
        # on this thread): the worker finds that its wire form cannot be encoded
        client.capture(Event(title="unprintable", metadata={"value": Unprintable()}), dedup_key="k")
        for i in range(20):
            client.capture(_feed(f"after {i}"))
        assert client.flush(10) is False  # one event did not make it
        client.capture(_pushed("next batch carries the count"))
        assert client.flush(10)
    finally:
        client.close()
    assert sorted(_titles(hub)) == sorted(
        ["before", "next batch carries the count", *(f"after {i}" for i in range(20))]
    )
    assert _dropped(hub) == 1


def test_hub_rejecting_one_event_costs_only_that_event(hub: StandInHub) -> None:
    def respond(request: Request) -> Response:
        if any(e["title"] == "bad" for e in request.get_json()["events"]):
            return StandInHub.status(422)(request)
        return hub.accept(request)

    hub.script += [respond] * 20
    client = Client(hub.dsn, linger=3600, dedup_window=0)
    try:
        for i in range(10):
            client.capture(_feed(f"good {i}"))
        client.capture(_feed("bad"))
        for i in range(10, 20):
            client.capture(_feed(f"good {i}"))
        assert client.flush(10) is False
        hub.script.clear()
        client.capture(_feed("reports the drop"))
        assert client.flush(10)
    finally:
        client.close()
    assert sorted(_titles(hub)) == sorted([*(f"good {i}" for i in range(20)), "reports the drop"])
    assert _dropped(hub) == 1
    assert len(hub.requests) < 20  # found by halving the batch, not by one request per event


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected death
def test_worker_thread_that_dies_is_restarted_and_says_so_once(
    hub: StandInHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(hub.dsn, linger=0.0, dedup_window=0)
    original = Worker._cycle
    deaths: list[Worker] = []

    def dying_cycle(self: Worker, backlog: Backlog) -> None:
        if len(deaths) < 2:
            deaths.append(self)
            raise SystemExit  # not an Exception: the loop's guard does not catch it, the thread ends
        original(self, backlog)

    monkeypatch.setattr(Worker, "_cycle", dying_cycle)
    try:
        client.capture(_pushed("lost with the first thread"))
        wait_until(lambda: client._worker is not None and client._worker.died, timeout=10, what="death 1")
        client.capture(_pushed("starts a second thread, which dies too"))
        wait_until(
            lambda: len(deaths) == 2 and client._worker is not None and client._worker.died,
            timeout=10,
            what="death 2",
        )
        for i in range(20):
            client.capture(_pushed(f"after {i}"))
        assert client.flush(10)
    finally:
        client.close()
    assert deaths[0] is not deaths[1]
    titles = _titles(hub)
    assert all(f"after {i}" in titles for i in range(20))
    notes = [line for line in capsys.readouterr().err.splitlines() if "worker thread stopped" in line]
    assert notes == ["pushlog: the worker thread stopped unexpectedly; started a new one"]


def test_an_event_that_cannot_be_completed_is_dropped_and_counted_not_raised() -> None:
    """The worker completes what the logging thread left for later; a failure costs that event only."""

    def broken(event: Event, pending: tuple[object, ...]) -> None:
        raise RuntimeError("cannot build")

    queue = EventQueue(10, batch_size=10)
    queue.put(Event.pending(Level.ERROR, None, {}, (broken,)))
    queue.put(_pushed("fine"))
    assert [e.title for e in queue.take(10)] == ["fine"]
    assert queue.dropped_report() == (1, "could not be built")
