"""Event ids (UUID version 4 strings, unique in a process, a fresh random part after fork) and
:meth:`Event.quick`."""

from __future__ import annotations

import datetime
import os
import uuid

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
