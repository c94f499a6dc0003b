"""``pushlog run -- CMD ARGS...``: run a command, report how it went, exit with its code.

* stdin and stdout are the command's own (inherited file descriptors: byte for byte, tty kept);
  stderr is read through a pipe and written straight through to ours, keeping its last lines for the
  report.
* On failure an ERROR event (CRITICAL with ``--critical``) with the exit code, duration and the last
  lines of stderr; on success an INFO feed entry (nothing with ``--quiet``).
* ``--every``/``--grace`` make the run a heartbeat: a check-in when it starts and when it ends, so the
  hub raises an ERROR when the next successful run is overdue (see docs/cli.md).
* SIGINT and SIGTERM are forwarded to the command. A Ctrl-C typed in a terminal already reaches the
  whole foreground process group, so SIGINT is not sent a second time when we are in the terminal's
  foreground group.
* The job matters more than its report: with no DSN or an unreachable hub, the command still runs and
  one line on stderr says the report was not delivered; the exit code is always the command's.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from .._dsn import DSN
from .._duration import format_duration
from .._event import MAX_BODY, MAX_METADATA_VALUE, Event, truncate
from .._levels import Level
from .._redact import redact_event
from ._common import (
    EXIT_USAGE,
    add_dsn_option,
    duration_arg,
    resolve_dsn,
    split_tags,
)
from ._errors import CLIError
from ._heartbeat_ping import checkin
from ._publish import publish

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog run -- ./backup.sh --full
      pushlog run --name nightly-backup --critical -- pg_dump -f /backups/db.sql app
      pushlog run --quiet -c deploys -- make deploy
      # a dead man's switch: alert when no successful run for 1 day + 1 hour
      pushlog run --name backup --every 1d --grace 1h -- ./backup.sh

    The command's output passes through unchanged; its exit code becomes pushlog's (128+N when it was
    killed by signal N, 127 when it could not be found, 126 when it could not be executed).
    """
)

#: How many trailing stderr lines go into a failure report.
DEFAULT_TAIL_LINES = 20
_FORWARDED = (signal.SIGINT, signal.SIGTERM)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a command and report failure, success and duration",
        description="Run CMD with its output unchanged; push an ERROR if it fails, log INFO if it succeeds.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options] -- CMD [ARGS...]",
    )
    parser.add_argument("--name", help="the job's name in reports (default: the command's name)")
    parser.add_argument(
        "--critical", action="store_true", help="report failure as CRITICAL (re-pushed until acknowledged)"
    )
    parser.add_argument("--quiet", action="store_true", help="report nothing when the command succeeds")
    parser.add_argument("-c", "--channel", help="channel for the reports")
    parser.add_argument("-g", "--tags", action="append", metavar="TAG,TAG", help="tags for the reports")
    parser.add_argument(
        "--every",
        type=duration_arg,
        metavar="DURATION",
        help="expected period (e.g. 1d, 6h, 15m): the hub alerts when a successful run is overdue",
    )
    parser.add_argument(
        "--grace",
        type=duration_arg,
        metavar="DURATION",
        help="extra time allowed after --every before alerting (default: 10%% of --every, at least 1m)",
    )
    parser.add_argument(
        "--tail-lines",
        type=int,
        default=DEFAULT_TAIL_LINES,
        metavar="N",
        help=f"stderr lines kept for a failure report (default: {DEFAULT_TAIL_LINES})",
    )
    parser.add_argument(
        "--report-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time allowed for each report to reach the hub (default: 10)",
    )
    add_dsn_option(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the command ended."""

    exit_code: int
    duration: float
    stderr_tail: list[str]
    signal_name: str | None = None
    start_error: str | None = None
    #: The first SIGINT/SIGTERM pushlog itself received while the command ran (then forwarded).
    interrupted_by: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _StderrTee(threading.Thread):
    """Copies the child's stderr to ours unchanged and keeps its last lines."""

    def __init__(self, source: IO[bytes], keep: int) -> None:
        super().__init__(name="pushlog-run-stderr", daemon=True)
        self._source = source
        self._lines: collections.deque[bytes] = collections.deque(maxlen=max(keep, 0) or None)
        self._keep = keep
        self._partial = b""

    def run(self) -> None:
        fd = self._source.fileno()
        out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            if out is not None:
                try:
                    out.write(chunk)
                    out.flush()
                except (OSError, ValueError):
                    out = None  # our stderr went away; keep reading so the child never blocks
            self._collect(chunk)
        if self._partial:
            self._lines.append(self._partial)
            self._partial = b""

    def _collect(self, chunk: bytes) -> None:
        if self._keep <= 0:
            return
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self._lines.extend(complete)
        if len(self._partial) > 65536:  # one endless line: keep its end
            self._partial = self._partial[-65536:]

    def tail(self) -> list[str]:
        return [line.decode("utf-8", "replace").rstrip("\r") for line in self._lines][-self._keep :]


def _in_terminal_foreground() -> bool:
    """True when our process group owns the controlling terminal (so it got the terminal's Ctrl-C)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def execute(
    command: list[str],
    *,
    tail_lines: int = DEFAULT_TAIL_LINES,
    on_started: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run ``command`` with signal forwarding and stderr teeing; return how it ended."""
    previous: dict[signal.Signals, Any] = {}
    child: subprocess.Popen[bytes] | None = None
    pending: list[int] = []
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if signum == signal.SIGINT and _in_terminal_foreground():
            return  # the terminal delivered it to the child already
        if child is None:
            pending.append(signum)
        elif child.poll() is None:
            child.send_signal(signum)

    for sig in _FORWARDED:
        previous[sig] = signal.signal(sig, forward)
    started = clock()
    try:
        try:
            child = subprocess.Popen(command, stderr=subprocess.PIPE)
        except FileNotFoundError:
            return Outcome(127, clock() - started, [], start_error=f"command not found: {command[0]}")
        except PermissionError:
            return Outcome(126, clock() - started, [], start_error=f"permission denied: {command[0]}")
        except OSError as exc:
            return Outcome(126, clock() - started, [], start_error=f"cannot run {command[0]}: {exc}")
        assert child.stderr is not None
        tee = _StderrTee(child.stderr, tail_lines)
        tee.start()
        for early in pending:
            child.send_signal(early)
        if on_started is not None:
            on_started()
        code = child.wait()
        duration = clock() - started
        tee.join(timeout=5.0)  # a grandchild may keep the pipe open: do not wait for it forever
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    signal_name: str | None = None
    if code < 0:
        signal_name = signal.Signals(-code).name
        code = 128 - code
    interrupted = signal.Signals(received[0]).name if received else None
    return Outcome(code, duration, tee.tail(), signal_name=signal_name, interrupted_by=interrupted)


def _job_name(args: argparse.Namespace, command: list[str]) -> str:
    return args.name or os.path.basename(command[0]) or command[0]


def build_report(
    *,
    name: str,
    command: list[str],
    outcome: Outcome,
    critical: bool = False,
    channel: str | None = None,
    tags: list[str] | None = None,
) -> Event:
    """The event that reports ``outcome``: ERROR/CRITICAL on failure, INFO on success, WARNING when it
    ended badly after pushlog was sent SIGINT/SIGTERM (stopped by someone, not failing by itself)."""
    metadata: dict[str, Any] = {
        "job": name,
        "command": truncate(shlex.join(command), MAX_METADATA_VALUE),
        "exit_code": outcome.exit_code,
        "duration_s": round(outcome.duration, 3),
    }
    if outcome.signal_name:
        metadata["signal"] = outcome.signal_name
    if outcome.interrupted_by:
        metadata["interrupted_by"] = outcome.interrupted_by
    took = format_duration(outcome.duration)
    source = {"logger": "pushlog.run", "host": socket.gethostname(), "pid": os.getpid()}
    if outcome.ok:
        return Event(
            title=f"{name} succeeded in {took}",
            level=Level.INFO,
            channel=channel,
            tags=list(tags or []),
            metadata=metadata,
            source=source,
        )
    level = Level.CRITICAL if critical else Level.ERROR
    if outcome.start_error:
        title = f"{name} could not start"
        body = outcome.start_error
    elif outcome.interrupted_by:
        level = Level.WARNING
        title = f"{name} interrupted by {outcome.interrupted_by} after {took} (exit {outcome.exit_code})"
        body = "\n".join(outcome.stderr_tail) or "(no output on stderr)"
    else:
        how = f"killed by {outcome.signal_name}" if outcome.signal_name else f"exit {outcome.exit_code}"
        title = f"{name} failed ({how}) after {took}"
        body = "\n".join(outcome.stderr_tail) or "(no output on stderr)"
    return Event(
        title=title,
        body=truncate(body, MAX_BODY),
        level=level,
        channel=channel,
        tags=list(tags or []),
        metadata=metadata,
        fingerprint=f"pushlog-run:{name}",
        source=source,
    )


def _note(message: str) -> None:
    print(f"pushlog: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    command: list[str] = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CLIError("no command: use pushlog run [options] -- CMD [ARGS...]", exit_code=EXIT_USAGE)
    if args.grace is not None and args.every is None:
        raise CLIError("--grace needs --every", exit_code=EXIT_USAGE)
    if args.tail_lines < 0:
        raise CLIError("--tail-lines must be 0 or more", exit_code=EXIT_USAGE)
    name = _job_name(args, command)
    tags = split_tags(args.tags)

    dsn: DSN | None
    try:
        dsn = resolve_dsn(args.dsn)
    except CLIError as exc:
        _note(f"{exc}; running without reporting")
        dsn = None

    def report_problem(what: str, exc: CLIError) -> None:
        _note(f"could not {what}: {exc}")

    def on_started() -> None:
        if dsn is not None and args.every is not None:
            try:
                checkin(dsn, name, "start", every=args.every, grace=args.grace, timeout=args.report_timeout)
            except CLIError as exc:
                report_problem("check in", exc)

    outcome = execute(command, tail_lines=args.tail_lines, on_started=on_started)
    if outcome.start_error:
        _note(outcome.start_error)
    if dsn is None:
        return outcome.exit_code
    if args.every is not None:
        try:
            checkin(
                dsn,
                name,
                "success" if outcome.ok else "failure",
                every=args.every,
                grace=args.grace,
                timeout=args.report_timeout,
                exit_code=outcome.exit_code,
                duration=outcome.duration,
            )
        except CLIError as exc:
            report_problem("check in", exc)
    if outcome.ok and args.quiet:
        return outcome.exit_code
    event = build_report(
        name=name,
        command=command,
        outcome=outcome,
        critical=args.critical,
        channel=args.channel,
        tags=tags,
    )
    try:
        publish(dsn, [redact_event(event)], timeout=args.report_timeout)
    except CLIError as exc:
        report_problem("report to the hub", exc)
    return outcome.exit_code
