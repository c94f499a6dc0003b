"""The one hand-moved clock for tests: time passes only when the test calls :meth:`FakeClock.advance`.

One moment, two readings. ``clock()`` gives seconds (a float), which is what the client
(:class:`pushlog.Client`'s ``clock=``), the dedup window, the push budget and the VAPID signer read;
``clock.utc()`` gives an aware UTC datetime, and :meth:`FakeClock.as_utc` a view whose calls return
it, which is what the hub's injected clocks (``Callable[[], datetime]``) take::

    clock = FakeClock()
    client = Client(dsn, clock=clock)                       # the worker waits on this clock
    hub = start_hub_thread(data_dir, clock=clock.as_utc())  # the hub reads the same moment
    clock.advance(60)                                       # both see a minute pass, at once

``wait(event, timeout)`` (the client's clock protocol) returns when the event is set or when the clock
was advanced past the timeout, never because real time passed: a test moves time instead of sleeping
through it. ``sleep(seconds)`` is a synchronous caller letting time pass: it advances the clock itself
and records the delay in :attr:`FakeClock.sleeps`.
"""

from __future__ import annotations

import datetime as _dt
import threading

#: Where a FakeClock starts unless told otherwise.
DEFAULT_START = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

# A thread in wait() re-checks its event this often: threading.Event.set() cannot notify our condition.
_EVENT_POLL = 0.005


def _as_datetime(moment: float | _dt.datetime) -> _dt.datetime:
    if isinstance(moment, _dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        return moment.astimezone(_dt.UTC)
    return _EPOCH + _dt.timedelta(seconds=moment)


class FakeClock:
    """A moment that moves by hand, read as seconds (``clock()``) or as a datetime (``clock.utc()``).

    ``start`` is a datetime, or seconds since the epoch. The moment is kept as a datetime, so readings
    are exact to the microsecond whichever way it is set.
    """

    def __init__(self, start: float | _dt.datetime = DEFAULT_START) -> None:
        self._now = _as_datetime(start)
        self._cond = threading.Condition()
        self._deadlines: list[_dt.datetime] = []
        self.sleeps: list[float] = []

    # ---- reading ----------------------------------------------------------------------------------
    def __call__(self) -> float:
        with self._cond:
            return (self._now - _EPOCH).total_seconds()

    def utc(self) -> _dt.datetime:
        with self._cond:
            return self._now

    def as_utc(self) -> UTCView:
        """This clock as a hub clock: calling the view returns :meth:`utc`."""
        return UTCView(self)

    # ---- moving -----------------------------------------------------------------------------------
    def advance(self, by: float | _dt.timedelta) -> None:
        step = by if isinstance(by, _dt.timedelta) else _dt.timedelta(seconds=by)
        if step < _dt.timedelta(0):
            raise ValueError("advance() moves forward; use set() to jump")
        with self._cond:
            self._now += step
            self._cond.notify_all()

    def set(self, moment: float | _dt.datetime) -> None:
        """Jump to ``moment``, forward or back (a wall clock may be corrected)."""
        with self._cond:
            self._now = _as_datetime(moment)
            self._cond.notify_all()

    # ---- waiting (the client's clock protocol) -----------------------------------------------------
    def wait(self, event: threading.Event, timeout: float) -> bool:
        with self._cond:
            deadline = self._now + _dt.timedelta(seconds=max(0.0, timeout))
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

    def wait_for_waiter(self, at_least: float = 0.0, timeout: float = 10.0) -> float:
        """Block (real time, at most ``timeout``) until a thread waits on this clock for at least
        ``at_least`` more seconds; returns the longest such wait. Raises AssertionError otherwise."""

        def ahead() -> list[float]:
            return [(d - self._now).total_seconds() for d in self._deadlines]

        with self._cond:
            if not self._cond.wait_for(lambda: any(s >= at_least for s in ahead()), timeout=timeout):
                raise AssertionError(f"no thread waited {at_least}s on the clock within {timeout}s")
            return max(ahead())

    def __repr__(self) -> str:
        return f"FakeClock({self.utc().isoformat()})"


class UTCView:
    """A :class:`FakeClock` read as aware UTC datetimes: ``view()``, ``view.now`` (settable), and
    ``view.advance(...)`` move the same moment."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self) -> _dt.datetime:
        return self.clock.utc()

    @property
    def now(self) -> _dt.datetime:
        return self.clock.utc()

    @now.setter
    def now(self, moment: _dt.datetime) -> None:
        self.clock.set(moment)

    def advance(self, by: float | _dt.timedelta) -> None:
        self.clock.advance(by)


def utc_clock(start: float | _dt.datetime = DEFAULT_START) -> UTCView:
    """A fresh :class:`FakeClock` as a hub clock (the common case in hub tests)."""
    return FakeClock(start).as_utc()
