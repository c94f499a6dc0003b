"""Event ids (UUID version 4 strings, unique in a process, a fresh random part after fork) and
:meth:`Event.quick`."""

from __future__ import annotations

import datetime
import os
import uuid

import pytest

from pushlog._event import Event, new_event_id
from pushlog._levels import Level


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
