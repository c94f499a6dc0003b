"""Run the real ``pushlog`` CLI as a subprocess (the tests of send, run and tail share this)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence


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
) -> subprocess.CompletedProcess[str]:
    """``python -m pushlog ARGS`` with captured text output."""
    return subprocess.run(
        [sys.executable, "-m", "pushlog", *args],
        env=cli_env(env),
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
