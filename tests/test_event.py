"""Event ids: UUID version 4 strings, unique in a process, a fresh random part after fork."""

from __future__ import annotations

import os
import uuid

from pushlog._event import Event, new_event_id


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
