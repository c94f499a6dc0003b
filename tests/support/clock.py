"""The one hand-moved clock for tests: time passes only when the test calls :meth:`FakeClock.advance`.

It reads as monotonic seconds (``clock()``), which is what the client (:class:`pushlog.Client`'s
``clock=``), the dedup window, the push budget and the VAPID signer take, and as aware UTC datetimes
(``clock.utc``), which is what the hub's injected clocks take::

    clock = FakeClock()
    client = Client(dsn, clock=clock)          # the worker waits on this clock, not on real time
    hub = start_hub_thread(data_dir, clock=clock.utc)
    clock.advance(60)                          # both see a minute pass, at once

``wait(event, timeout)`` (the :class:`pushlog._clock.Clock` protocol) returns when the event is set or
when the clock was advanced past the timeout, never because real time passed: a test moves time
instead of sleeping through it. ``sleep(seconds)`` is a synchronous caller letting time pass: it
advances the clock itself and records the delay in :attr:`sleeps`.
"""

from __future__ import annotations

import datetime as _dt
import threading

#: Where a FakeClock starts unless told otherwise (also its UTC reading at that moment).
DEFAULT_START = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)

# A thread in wait() re-checks its event this often: threading.Event.set() cannot notify our condition.
_EVENT_POLL = 0.005


class FakeClock:
    """Seconds that move by hand, readable as a float (``clock()``) or an aware datetime (``clock.utc()``)."""

    def __init__(self, start: float | _dt.datetime = DEFAULT_START) -> None:
        if isinstance(start, _dt.datetime):
            if start.tzinfo is None:
                raise ValueError("FakeClock needs an aware datetime")
            self._now = start.timestamp()
        else:
            self._now = float(start)
        self._cond = threading.Condition()
        self._deadlines: list[float] = []
        self.sleeps: list[float] = []

    # ---- reading ----------------------------------------------------------------------------------
    def __call__(self) -> float:
        with self._cond:
            return self._now

    def utc(self) -> _dt.datetime:
        """Now as an aware UTC datetime (pass the bound method ``clock.utc`` as a hub clock)."""
        with self._cond:
            return _dt.datetime.fromtimestamp(self._now, _dt.UTC)

    # ---- moving -----------------------------------------------------------------------------------
    def advance(self, by: float | _dt.timedelta) -> None:
        seconds = by.total_seconds() if isinstance(by, _dt.timedelta) else float(by)
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def set(self, moment: float | _dt.datetime) -> None:
        """Jump to ``moment`` (not earlier than now)."""
        target = moment.timestamp() if isinstance(moment, _dt.datetime) else float(moment)
        self.advance(target - self())

    # ---- waiting (the Clock protocol) -------------------------------------------------------------
    def wait(self, event: threading.Event, timeout: float) -> bool:
        with self._cond:
            deadline = self._now + max(0.0, timeout)
            self._deadlines.append(deadline)
            self._cond.notify_all()
            try:
                while not event.is_set() and self._now < deadline:
                    self._cond.wait(_EVENT_POLL)
            finally:
                self._deadlines.remove(deadline)
                self._cond.notify_all()
        return event.is_set()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def waiting_until(self) -> list[float]:
        """How far ahead (seconds on this clock) each thread now parked in :meth:`wait` will wake."""
        with self._cond:
            return sorted(d - self._now for d in self._deadlines)

    def wait_for_waiter(self, at_least: float = 0.0, timeout: float = 10.0) -> float:
        """Block (real time, at most ``timeout``) until a thread waits on this clock for at least
        ``at_least`` seconds; returns how long that thread waits. Raises AssertionError otherwise."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: any(d - self._now >= at_least for d in self._deadlines), timeout=timeout
            )
            if not found:
                raise AssertionError(f"no thread waited {at_least}s on the clock within {timeout}s")
            return max(d - self._now for d in self._deadlines)

    def __repr__(self) -> str:
        return f"FakeClock({self.utc().isoformat()})"
