"""Dedup: fingerprints, the window (injected clock), repeat reports, and 1,000 identical errors end to end."""

from __future__ import annotations

import logging

from tests.conftest import StandInHub
from tests.support.clock import FakeClock

from pushlog import Client, PushHandler
from pushlog._dedup import Deduplicator, event_key, fingerprint_of
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._snapshot import dedup_key


def _record(
    msg: str, args: tuple[object, ...] = (), level: int = logging.ERROR, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("app.pay", level, __file__, 10, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_key_uses_template_not_formatted_message() -> None:
    assert dedup_key(_record("failed for %s", ("ada",))) == dedup_key(_record("failed for %s", ("bob",)))
    assert dedup_key(_record("failed for %s", ("ada",))) != dedup_key(_record("other %s", ("ada",)))
    assert dedup_key(_record("x", level=logging.ERROR)) != dedup_key(_record("x", level=logging.WARNING))
    assert dedup_key(_record("x", fingerprint="pay-down")) == ("fp", "pay-down")


def test_key_includes_exception_type_and_top_frame() -> None:
    def fail(kind: type[Exception]) -> logging.LogRecord:
        try:
            raise kind("boom")
        except Exception:
            import sys

            record = _record("failed")
            record.exc_info = sys.exc_info()
            return record

    assert dedup_key(fail(ValueError)) == dedup_key(fail(ValueError))
    assert dedup_key(fail(ValueError)) != dedup_key(fail(KeyError))
    assert dedup_key(fail(ValueError)) != dedup_key(_record("failed"))


def test_fingerprint_is_stable_and_explicit_kept() -> None:
    key = ("app", 40, "failed for %s")
    assert fingerprint_of(key) == fingerprint_of(key) and len(fingerprint_of(key)) == 32
    assert fingerprint_of(("fp", "pay-down")) == "pay-down"


def test_explicit_events_differ_by_metadata() -> None:
    a = Event(title="€29 payment", level=Level.WARNING, metadata={"user_id": 1})
    b = Event(title="€29 payment", level=Level.WARNING, metadata={"user_id": 2})
    assert event_key(a) != event_key(b)
    assert event_key(a) == event_key(Event(title="€29 payment", level=Level.WARNING, metadata={"user_id": 1}))


def test_window_counts_repeats_and_reports_when_it_ends(clock: FakeClock) -> None:
    dedup = Deduplicator(window=60, clock=clock)
    first = Event(title="boom", level=Level.ERROR, fingerprint="f")
    assert dedup.seen("k") == (False, None)
    dedup.attach("k", first)
    for _ in range(5):
        assert dedup.seen("k") == (True, first.id)
    clock.advance(59.9)
    assert dedup.take_reports() == []
    clock.advance(0.1)
    (report,) = dedup.take_reports()
    assert (report.title, report.count, report.push, report.fingerprint) == ("boom", 5, False, "f")
    assert report.id != first.id and report.repeat_of == first.id
    assert report.to_wire()["repeat_of"] == first.id and "repeat_of" not in first.to_wire()
    assert dedup.seen("k") == (False, None)  # a new window: the next one goes out again


def test_flush_reports_pending_repeats_but_keeps_the_window(clock: FakeClock) -> None:
    dedup = Deduplicator(window=60, clock=clock)
    first = Event(title="boom", level=Level.ERROR)
    dedup.seen("k")
    dedup.attach("k", first)
    dedup.seen("k")
    dedup.seen("k")
    (report,) = dedup.take_reports(everything=True)
    assert (report.count, report.repeat_of) == (2, first.id)
    assert dedup.take_reports(everything=True) == []
    dedup.seen("k")
    (later,) = dedup.take_reports(everything=True)  # only the repeats since the last report: exact totals
    assert (later.count, later.repeat_of) == (1, first.id) and later.id != report.id
    assert dedup.seen("k") == (True, first.id)  # still inside the window: no second push


def test_next_occurrence_after_window_reports_the_old_window(clock: FakeClock) -> None:
    dedup = Deduplicator(window=10, clock=clock)
    dedup.seen("k")
    dedup.attach("k", Event(title="boom"))
    dedup.seen("k")
    clock.advance(11)
    assert dedup.seen("k") == (False, None)
    (report,) = dedup.take_reports()
    assert report.count == 1


def test_window_zero_disables(clock: FakeClock) -> None:
    dedup = Deduplicator(window=0, clock=clock)
    assert [dedup.seen("k") for _ in range(3)] == [(False, None)] * 3


def test_thousand_identical_errors_are_one_push_and_one_follow_up_naming_it(hub: StandInHub) -> None:
    """What goes on the wire; tests/hub/api/test_event_repeats.py shows the hub folding it into one line."""
    client = Client(hub.dsn, linger=0.0)
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.storm")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(1000):
            try:
                raise ConnectionError(f"db down #{i}")
            except ConnectionError:
                logger.exception("query failed for %s", f"user{i}")
        assert client.flush(5)
    finally:
        logger.removeHandler(handler)
        client.close()
    events = hub.accepted_events()
    assert [(e["count"], e["push"]) for e in events] == [(1, True), (999, False)]
    assert events[0]["fingerprint"] == events[1]["fingerprint"]
    assert events[1]["repeat_of"] == events[0]["id"] and "repeat_of" not in events[0]
    assert sum(e["count"] for e in events) == 1000
