"""Run the real ``pushlog`` CLI as a subprocess and a real hub for it (shared by send, run and tail tests)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.hub_server import ThreadHub, start_hub_thread

from pushlog._event import Event
from pushlog._levels import parse_level


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any PUSHLOG_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m pushlog ARGS`` with captured text output (in ``cwd``, default this directory)."""
    return subprocess.run(
        [sys.executable, "-m", "pushlog", *args],
        env=cli_env(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A failed command: non-zero exit, exactly one stderr line starting ``pushlog:``, no traceback."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pushlog"), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])


class LineReader:
    """Collects a running process's stdout lines on a thread; :meth:`next` waits with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stream = process.stdout
        threading.Thread(target=self._pump, daemon=True, name="cli-stdout").start()

    def _pump(self) -> None:
        for line in self._stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self, timeout: float = 20.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout}s") from None
        if line is None:
            raise AssertionError("the process closed its output")
        return line


def spawn_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m pushlog ARGS`` with piped text stdout/stderr (stop it with :func:`stop`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pushlog", *args],
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, wait, and return (exit code, stderr); SIGKILL if it does not stop in 20 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    err = process.stderr.read() if process.stderr else ""
    return process.returncode, err


def publish_events(base_url: str, key: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """POST events to a real hub (filling id/ts/level); returns the wire events sent."""
    wire = []
    for fields in events:
        event = Event(
            title=str(fields.pop("title")), level=parse_level(fields.pop("level", "info")), **fields
        )
        wire.append(event.to_wire())
    response = httpx.post(
        f"{base_url}/v1/events",
        json={"events": wire},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return wire


@pytest.fixture
def real_hub(tmp_path: Path) -> Iterator[ThreadHub]:
    """The real hub (Starlette under uvicorn in a thread) on 127.0.0.1 with a temp SQLite database."""
    running = start_hub_thread(tmp_path / "hub", allow_private_endpoints=True)
    yield running
    running.stop()
