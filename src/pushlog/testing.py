"""Assert on what your code would push, in your own tests (modelled on structlog's ``capture_logs``).

    from pushlog.testing import capture_events

    def test_signup_notifies():
        with capture_events() as events:
            signup("ada@example.com")
        assert [e.title for e in events] == ["New signup"]
        assert events[0].pushed and events[0].metadata["plan"] == "pro"

Inside the block, every :class:`~pushlog.Client` (so ``PushHandler`` and ``pushlog.log/notify/critical``)
appends events to the list instead of sending them: snapshotted and redacted exactly as they would be
sent, but without dedup or rate limiting, and even without a ``PUSHLOG_DSN``. Capture follows the
current context (:mod:`contextvars`): events logged on other threads are not captured.

With pytest, ``from pushlog.testing import pushlog_events`` in a ``conftest.py`` gives a fixture of the
same list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._client import CAPTURE
from ._event import Event

__all__ = ["capture_events", "pushlog_events"]


@contextmanager
def capture_events() -> Iterator[list[Event]]:
    """Capture events instead of sending them for the duration of the block; yields the list."""
    events: list[Event] = []
    token = CAPTURE.set(events)
    try:
        yield events
    finally:
        CAPTURE.reset(token)


def _pushlog_events() -> Iterator[list[Event]]:
    with capture_events() as events:
        yield events


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional for users
    pushlog_events = None
else:
    pushlog_events = pytest.fixture(name="pushlog_events")(_pushlog_events)
