"""Event ids (UUID version 4 strings, unique in a process, a fresh random part after fork) and
:meth:`Event.quick`, and events the logging thread leaves for the worker to complete."""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
import uuid

import pytest

from pushlog._event import Event, new_event_id
from pushlog._levels import Level
from pushlog._snapshot import snapshot


def test_ids_are_uuid4_and_unique() -> None:
    ids = [new_event_id() for _ in range(20_000)] + [Event(title="x").id for _ in range(100)]
    assert len(set(ids)) == len(ids)
    for value in ids[:: len(ids) // 50]:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, value)


def test_child_after_fork_draws_a_new_random_part() -> None:
    parent = new_event_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write, new_event_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert uuid.UUID(child).version == 4
    assert child[:24] != parent[:24]


def test_quick_builds_the_same_event_as_the_constructor() -> None:
    """Event.quick sets every field (a field added to Event and forgotten there fails here)."""
    ts = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    parts = {
        "title": "t",
        "level": Level.ERROR,
        "ts": ts,
        "body": "b",
        "fingerprint": "f",
        "source": {"logger": "x"},
        "metadata": {"k": 1},
    }
    quick = Event.quick(**parts)  # type: ignore[arg-type]
    full = Event(**parts)  # type: ignore[arg-type]
    assert quick.id != full.id and uuid.UUID(quick.id).version == 4
    quick.id = full.id
    assert quick == full
    assert {name: getattr(quick, name) for name in Event.__slots__} == {
        name: getattr(full, name) for name in Event.__slots__
    }


def test_a_posix_timestamp_becomes_the_same_utc_time_when_read() -> None:
    """The logging thread hands Event.quick ``record.created`` (a float); ``ts`` converts it once."""
    created = 1_767_323_045.123456
    event = Event.quick("t", Level.WARNING, created, None, None, {}, {})
    expected = datetime.datetime.fromtimestamp(created, datetime.UTC)
    assert event.ts == expected and event.ts is event.ts
    assert event.to_wire()["ts"] == expected.isoformat(timespec="microseconds")[:-6] + "Z"
    assert event == Event(title="t", level=Level.WARNING, ts=expected, id=event.id)


def test_events_compare_repr_and_replace_field_by_field() -> None:
    first = Event(title="a", level=Level.ERROR, metadata={"k": 1})
    same = Event(title="a", level=Level.ERROR, metadata={"k": 1}, id=first.id, ts=first.ts)
    assert first == same and first != Event(title="a", id=first.id, ts=first.ts)
    assert repr(first).startswith("Event(title='a', level=<Level.ERROR: 40>, body=None,")
    assert f"id={first.id!r}, ts=" in repr(first)
    follow_up = first.replace(count=3, push=False)
    assert (follow_up.count, follow_up.push, follow_up.title, follow_up.id) == (3, False, "a", first.id)
    assert (first.count, first.push) == (1, None)
    with pytest.raises(TypeError):  # mutable: not hashable, like a dataclass with eq
        hash(first)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.pay", logging.WARNING, "/app/pay.py", 42, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_a_snapshot_left_for_later_completes_to_the_event_built_at_once() -> None:
    """What the logging thread leaves to the worker (title, body, ts, source) is built from the same
    record fields: completed, the event equals the one snapshot builds whole, every slot included."""
    for msg in ("payment %s failed", "  two\nlines %s", "", "x" * 300 + " %s"):
        record = _record(msg, 7, user_id=7, plan="pro")
        whole = snapshot(record, fingerprint="f")
        later = snapshot(record, fingerprint="f", later=True)
        assert later._pending is not None and whole._pending is None
        assert (later.level, later.fingerprint, later.metadata, later.push, later.count) == (
            Level.WARNING,
            "f",
            {"user_id": 7, "plan": "pro"},
            None,
            1,
        )
        later.id = whole.id
        assert later.complete() is later and later._pending is None
        assert {name: getattr(later, name) for name in Event.__slots__} == {
            name: getattr(whole, name) for name in Event.__slots__
        }


def test_a_snapshot_left_for_later_keeps_the_message_and_extras_as_they_were_at_the_call() -> None:
    """The arguments and extras may change after the logging call returns: the message is formatted
    and the extras copied on the logging thread, as QueueHandler.prepare formats there."""
    cart = ["book"]
    record = _record("cart %s", cart, items=cart)
    event = snapshot(record, later=True)
    cart.append("pen")
    record.msg, record.args = "changed %s", ("later",)
    event.complete()
    assert (event.title, event.metadata) == ("cart ['book']", {"items": ["book"]})


def test_records_that_belong_to_the_calling_thread_are_built_whole_at_once() -> None:
    """An exception (its traceback) and reserved keywords are read at the call, not left for later."""
    try:
        raise ValueError("boom")
    except ValueError:
        failing = logging.LogRecord("app", logging.ERROR, "/app/x.py", 1, "failed", None, sys.exc_info())
    for record in (failing, _record("tagged", tags=["a"])):
        assert snapshot(record, later=True)._pending is None


def test_an_event_is_completed_once_so_a_later_build_never_overwrites_what_redaction_changed() -> None:
    """The worker completes and then redacts an event in place while a flush may complete the same
    event (a dedup report) on another thread: the second complete() must not build it again."""
    started, release, builds = threading.Event(), threading.Event(), []

    def finish(event: Event, pending: tuple[object, ...]) -> None:
        builds.append(threading.get_ident())
        started.set()
        release.wait(5)
        event.title, event.body, event.source = "secret token abc", None, {}
        event.channel = event.link = event.image = event.repeat_of = event.resolves = None
        event.tags, event.actions, event._ts = [], [], 0.0

    event = Event.pending(Level.ERROR, None, {}, (finish,))
    worker = threading.Thread(target=event.complete)
    worker.start()
    assert started.wait(5)
    calling = threading.Event()

    def complete_too() -> None:
        calling.set()  # this thread keeps the GIL until it blocks on the build in progress
        event.complete()

    other = threading.Thread(target=complete_too)  # waits for the first build, then finds it done
    other.start()
    assert calling.wait(5)
    release.set()
    worker.join(5)
    event.title = "secret token [redacted]"  # what the worker's redaction does next
    other.join(5)
    assert builds == [worker.ident] and event.title == "secret token [redacted]"
