"""``pushlog.job(...)``: report a unit of work (a cron job, a backup, a batch) and watch its schedule.

::

    with pushlog.job("backup", every="1d", grace="1h"):
        run_backup()

* On entry it checks in with the hub (``POST /v1/heartbeats/backup``, status ``start``).
* On success: a ``success`` check-in and an INFO feed entry ``backup succeeded in 4.2s``
  (``quiet=True`` leaves the entry out).
* On an exception: a ``failure`` check-in and an ERROR event (CRITICAL with ``critical=True``) whose
  body is the traceback; the exception then propagates unchanged.
* With ``every`` the hub treats the job as a dead man's switch: no successful check-in within
  ``every + grace`` and it pushes an ERROR; the next success pushes an INFO "recovered".

It also works as a decorator (``@pushlog.job("sync", every="15m")``).

The events go through a :class:`~pushlog.Client` like any other (redaction, dedup, the push budget,
:func:`pushlog.testing.capture_events`): the default client, or ``client=``, or one made for ``dsn=``.
Check-ins use that client's transport, so ``Client(transport=..., clock=...)`` reaches them too; inside
``capture_events()`` nothing is sent, check-ins included. Reporting never raises and each step is
bounded by ``timeout`` seconds (the events are flushed before the block returns): without a DSN, or with
the hub down, the job runs as usual and one line on stderr says why nothing was reported.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._client import CAPTURE, Client, existing_default_client, get_default_client
from ._dsn import DSNError, dsn_from_env
from ._duration import format_duration, parse_seconds
from ._event import MAX_BODY, Event, truncate
from ._levels import Level
from ._snapshot import host_name
from ._transport import SendError


def _seconds(value: str | float | _dt.timedelta | None, what: str) -> float | None:
    """``"1d"``, ``"90s"``, ``"1h30m"``, a number of seconds or a timedelta, to seconds."""
    return None if value is None else parse_seconds(value, what)


class job(contextlib.ContextDecorator):
    """Report a job's start, success (INFO) and failure (ERROR, with the exception) to the hub."""

    def __init__(
        self,
        name: str,
        *,
        every: str | float | _dt.timedelta | None = None,
        grace: str | float | _dt.timedelta | None = None,
        dsn: str | None = None,
        client: Client | None = None,
        channel: str | None = None,
        tags: list[str] | None = None,
        critical: bool = False,
        quiet: bool = False,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not name or not name.strip():
            raise ValueError("a job needs a name")
        if client is not None and dsn is not None:
            raise ValueError("pass dsn or client, not both")
        self.name = name.strip()
        self.every = _seconds(every, "every")
        self.grace = _seconds(grace, "grace")
        if self.grace is not None and self.every is None:
            raise ValueError("grace needs every")
        self.channel = channel
        self.tags = list(tags or [])
        self.critical = critical
        self.quiet = quiet
        self.timeout = timeout
        self._clock = clock
        self._dsn_value = dsn
        self._client = client
        self._started: float | None = None
        self._active: Client | None = None  # the client this run reports through; None: not reported
        self._own: Client | None = None  # made for dsn= on first use, kept for later runs
        #: How the last run ended: ``None`` while running, then ``"success"`` or ``"failure"``.
        self.outcome: str | None = None
        self.duration: float | None = None

    # -- the context manager -------------------------------------------------------------------------

    def __enter__(self) -> job:
        self.outcome = None
        self.duration = None
        self._started = self._clock()
        self._active = self._reporting_client()
        self._checkin("start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        started = self._started if self._started is not None else self._clock()
        self.duration = max(0.0, self._clock() - started)
        failed = exc is not None and not (isinstance(exc, SystemExit) and exc.code in (0, None))
        self.outcome = "failure" if failed else "success"
        self._checkin(self.outcome, error=None if exc is None else _one_line(exc))
        if failed:
            assert exc is not None
            self._report(self._failure_event(exc))
        elif not self.quiet:
            self._report(self._success_event())
        return None  # never swallow the exception

    # -- events --------------------------------------------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        return {"job": self.name, "duration_s": round(self.duration or 0.0, 3)}

    def _source(self) -> dict[str, Any]:
        return {"logger": "pushlog.job", "host": host_name(), "pid": os.getpid()}

    def _success_event(self) -> Event:
        return Event(
            title=f"{self.name} succeeded in {format_duration(self.duration or 0.0)}",
            level=Level.INFO,
            channel=self.channel,
            tags=list(self.tags),
            metadata=self._metadata(),
            source=self._source(),
        )

    def _failure_event(self, exc: BaseException) -> Event:
        text = "".join(traceback.format_exception(exc))
        if len(text) > MAX_BODY:  # keep the end: the exception and the innermost frames
            text = "…" + text[-(MAX_BODY - 1) :]
        metadata = self._metadata()
        metadata["exception"] = type(exc).__qualname__
        return Event(
            title=truncate(f"{self.name} failed: {_one_line(exc)}", 256),
            body=text,
            level=Level.CRITICAL if self.critical else Level.ERROR,
            channel=self.channel,
            tags=list(self.tags),
            metadata=metadata,
            fingerprint=f"pushlog-job:{self.name}",
            source=self._source(),
        )

    # -- I/O (bounded, never raises) -----------------------------------------------------------------

    def _reporting_client(self) -> Client | None:
        """The client to report through, or ``None`` (after one line on stderr) when there is none."""
        client: Client | None
        try:
            if self._client is not None:
                client = self._client
            elif self._dsn_value is not None:
                if self._own is None:
                    self._own = Client(self._dsn_value, timeout=self.timeout)
                client = self._own
            else:
                client = existing_default_client() or self._default_client()
        except DSNError as exc:
            _note(f"job {self.name!r} not reported: {exc}")
            return None
        if client is None:
            return None
        if client.inert and not client.capturing:
            _note(f"job {self.name!r} not reported: set PUSHLOG_DSN or pass dsn=")
            return None
        return client

    def _default_client(self) -> Client | None:
        """The default client, made from ``PUSHLOG_DSN``; without one (and outside capture_events())
        the job says so itself instead of making an inert client that would say it too."""
        if CAPTURE.get() is None and dsn_from_env() is None:
            _note(f"job {self.name!r} not reported: set PUSHLOG_DSN or pass dsn=")
            return None
        return get_default_client()

    def _report(self, event: Event) -> None:
        client = self._active
        if client is None:
            return
        client.capture(event)
        if not client.capturing and not client.flush(self.timeout):
            _note(f"job {self.name!r}: could not report to the hub within {self.timeout:g}s")

    def _checkin(self, status: str, *, error: str | None = None) -> None:
        client = self._active
        hub = client.transport if client is not None and not client.capturing else None
        if client is None or hub is None:
            return
        payload: dict[str, Any] = {"status": status}
        if self.every is not None:
            payload["every_s"] = self.every
        if self.grace is not None:
            payload["grace_s"] = self.grace
        if self.duration is not None and status != "start":
            payload["duration_s"] = round(self.duration, 3)
        if error:
            payload["message"] = truncate(client.redactor.text(error), 1024)  # not an event: redact here
        import urllib.parse

        path = "/v1/heartbeats/" + urllib.parse.quote(self.name, safe="")
        try:
            hub.post_json(path, payload, timeout=self.timeout, retries=2)
        except SendError as exc:
            _note(f"job {self.name!r}: heartbeat {status} not delivered: {exc}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _note(message: str) -> None:
    with contextlib.suppress(Exception):
        print(f"pushlog: {message}", file=sys.stderr, flush=True)
