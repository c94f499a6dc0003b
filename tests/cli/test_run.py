"""``pushlog run`` as a real subprocess: passthrough, exit codes, reports, signals, heartbeats."""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import subprocess
import sys
import termios
import time

import httpx
import pytest
from pytest_httpserver import HTTPServer
from tests.cli.pushlog_cli import assert_one_line_error, cli_env, real_hub, run_cli
from tests.support.hub_server import ThreadHub

__all__ = ["real_hub"]
from werkzeug import Request, Response

PY = sys.executable


def _dsn(server: HTTPServer) -> str:
    return f"http://pl_publish_k@{server.host}:{server.port}"


def _accept(request: Request) -> Response:
    n = len(request.get_json()["events"])
    return Response(json.dumps({"accepted": n, "duplicates": 0}), 202, content_type="application/json")


def _hub(server: HTTPServer) -> None:
    server.expect_request("/v1/events", method="POST").respond_with_handler(_accept)
    server.expect_request("/v1/heartbeats/nightly", method="POST").respond_with_json({"name": "nightly"})


def _events(server: HTTPServer) -> list[dict[str, object]]:
    return [e for req, _ in server.log if req.path == "/v1/events" for e in req.get_json()["events"]]


def test_output_passes_through_unchanged_and_success_is_an_info_entry(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    script = (
        "import sys; sys.stdout.buffer.write(b'out \\x00\\xff line\\r\\nno newline');"
        "sys.stderr.buffer.write(b'warn \\xfe\\n')"
    )
    result = subprocess.run(
        [PY, "-m", "pushlog", "run", "--name", "job1", "--", PY, "-c", script],
        env=cli_env({"PUSHLOG_DSN": _dsn(httpserver)}),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"out \x00\xff line\r\nno newline"
    assert result.stderr == b"warn \xfe\n"
    (event,) = _events(httpserver)
    assert event["level"] == "info"
    assert str(event["title"]).startswith("job1 succeeded in ")
    assert event["metadata"]["exit_code"] == 0  # type: ignore[index]
    assert event["metadata"]["job"] == "job1"  # type: ignore[index]


def test_failure_pushes_error_with_exit_code_and_last_stderr_lines(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    script = "import sys\nfor i in range(1, 31): print('line', i, file=sys.stderr)\nsys.exit(3)"
    result = run_cli(
        ["run", "-c", "cron", "-g", "db", "--", PY, "-c", script], env={"PUSHLOG_DSN": _dsn(httpserver)}
    )
    assert result.returncode == 3
    assert result.stderr.splitlines() == [f"line {i}" for i in range(1, 31)]
    (event,) = _events(httpserver)
    assert event["level"] == "error"
    assert "failed (exit 3)" in str(event["title"])
    assert str(event["body"]).splitlines() == [f"line {i}" for i in range(11, 31)]
    assert event["metadata"]["exit_code"] == 3  # type: ignore[index]
    assert (event["channel"], event["tags"], event["push"]) == ("cron", ["db"], True)


def test_critical_flag_and_quiet_success(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    env = {"PUSHLOG_DSN": _dsn(httpserver)}
    assert run_cli(["run", "--critical", "--", PY, "-c", "raise SystemExit(1)"], env=env).returncode == 1
    assert run_cli(["run", "--quiet", "--", PY, "-c", "pass"], env=env).returncode == 0
    (event,) = _events(httpserver)
    assert event["level"] == "critical"


def test_command_not_found_is_127_and_reported(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    result = run_cli(["run", "--", "no-such-command-pushlog"], env={"PUSHLOG_DSN": _dsn(httpserver)})
    assert result.returncode == 127
    assert "command not found: no-such-command-pushlog" in result.stderr
    (event,) = _events(httpserver)
    assert event["title"] == "no-such-command-pushlog could not start"


def test_without_dsn_the_command_still_runs() -> None:
    result = run_cli(["run", "--", PY, "-c", "print('hi'); raise SystemExit(5)"])
    assert result.returncode == 5
    assert result.stdout == "hi\n"
    assert "running without reporting" in result.stderr


def test_unreachable_hub_keeps_the_commands_exit_code() -> None:
    result = run_cli(
        ["run", "--report-timeout", "0.5", "--", PY, "-c", "raise SystemExit(4)"],
        env={"PUSHLOG_DSN": "http://k@127.0.0.1:9"},
    )
    assert result.returncode == 4
    assert "could not report to the hub" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors() -> None:
    assert_one_line_error(run_cli(["run"]), "no command")
    assert_one_line_error(run_cli(["run", "--grace", "1h", "--", "true"]), "--grace needs --every")
    bad = run_cli(["run", "--every", "soon", "--", "true"])
    assert bad.returncode == 2 and "bad duration" in bad.stderr


_TRAP = (
    "import signal, sys, threading\n"
    "done = threading.Event()\n"
    "def on_signal(signum, frame):\n"
    "    print('child got', signal.Signals(signum).name, flush=True); sys.exit(7)\n"
    "signal.signal(signal.SIGTERM, on_signal)\n"
    "signal.signal(signal.SIGINT, on_signal)\n"
    "print('ready', flush=True)\n"
    "done.wait()\n"
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_are_forwarded_and_the_childs_code_returned(
    httpserver: HTTPServer, sig: signal.Signals
) -> None:
    _hub(httpserver)
    proc = subprocess.Popen(
        [PY, "-m", "pushlog", "run", "--name", "sleeper", "--", PY, "-c", _TRAP],
        env=cli_env({"PUSHLOG_DSN": _dsn(httpserver)}),
        stdin=subprocess.DEVNULL,  # not a terminal: a SIGINT can only reach the child through pushlog
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        assert sel.select(timeout=max(0.0, deadline - time.monotonic())), "child never became ready"
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert out == f"child got {sig.name}\n"
    (event,) = _events(httpserver)
    assert event["metadata"]["exit_code"] == 7  # type: ignore[index]
    # stopped by someone, not failing by itself: a WARNING, not an ERROR
    assert event["level"] == "warning"
    assert str(event["title"]).startswith(f"sleeper interrupted by {sig.name} after ")
    assert event["metadata"]["interrupted_by"] == sig.name  # type: ignore[index]


def test_killed_child_exits_128_plus_signal(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = run_cli(["run", "--name", "k", "--", PY, "-c", script], env={"PUSHLOG_DSN": _dsn(httpserver)})
    assert result.returncode == 128 + signal.SIGKILL
    (event,) = _events(httpserver)
    assert "killed by SIGKILL" in str(event["title"])
    assert event["metadata"]["signal"] == "SIGKILL"  # type: ignore[index]


def test_every_checks_in_at_start_and_end(httpserver: HTTPServer) -> None:
    _hub(httpserver)
    result = run_cli(
        ["run", "--name", "nightly", "--every", "1d", "--grace", "1h", "--quiet", "--", PY, "-c", "pass"],
        env={"PUSHLOG_DSN": _dsn(httpserver)},
    )
    assert result.returncode == 0, result.stderr
    pings = [req.get_json() for req, _ in httpserver.log if req.path == "/v1/heartbeats/nightly"]
    assert [p["status"] for p in pings] == ["start", "success"]
    assert pings[0]["every_s"] == 86400 and pings[0]["grace_s"] == 3600
    assert pings[1]["exit_code"] == 0
    assert _events(httpserver) == []


def test_help_has_examples() -> None:
    result = run_cli(["run", "--help"])
    assert result.returncode == 0
    assert "pushlog run --name backup --every 1d --grace 1h -- ./backup.sh" in result.stdout


# -- against the real hub -------------------------------------------------------------------------


def test_real_hub_gets_the_failure_report(real_hub: ThreadHub) -> None:
    script = "import sys; print('working'); print('boom: no space left', file=sys.stderr); sys.exit(2)"
    result = run_cli(["run", "--name", "backup", "--", PY, "-c", script], env={"PUSHLOG_DSN": real_hub.dsn})
    assert result.returncode == 2
    assert result.stdout == "working\n" and result.stderr == "boom: no space left\n"
    response = httpx.get(
        f"{real_hub.base_url}/v1/events", headers={"Authorization": f"Bearer {real_hub.read_key}"}
    )
    (stored,) = response.json()["events"]
    assert stored["level"] == "error" and stored["title"].startswith("backup failed (exit 2)")
    assert stored["body"] == "boom: no space left"
    assert stored["metadata"]["exit_code"] == 2 and stored["push"] is True


_FOREGROUND = "from pushlog.cli._run import _in_terminal_foreground as f; print(f())"


def test_terminal_foreground_detection_decides_sigint_forwarding() -> None:
    """In a terminal's foreground group the terminal already sent Ctrl-C to the child: not forwarded."""
    leader, follower = os.openpty()
    try:

        def take_terminal() -> None:  # runs in the child after setsid(): make the pty its terminal
            fcntl.ioctl(follower, termios.TIOCSCTTY, 0)

        in_terminal = subprocess.run(
            [PY, "-c", _FOREGROUND],
            env=cli_env(),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            start_new_session=True,
            preexec_fn=take_terminal,
            timeout=30,
            check=True,
            text=True,
        )
        assert in_terminal.stdout == "True\n"
    finally:
        os.close(leader)
        os.close(follower)
    piped = subprocess.run(
        [PY, "-c", _FOREGROUND],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout == "False\n"


def test_stdin_is_the_commands_own() -> None:
    script = "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data[::-1])"
    result = subprocess.run(
        [PY, "-m", "pushlog", "run", "--", PY, "-c", script],
        env=cli_env(),
        input=b"abc\x00\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == b"\n\x00cba"
