"""Helpers to run the recipes in ``integrations/`` as written: in a fresh Python process whose
``PUSHLOG_DSN`` points at the stand-in hub, with the recipe's folder as the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

RECIPES = Path(__file__).resolve().parents[2] / "integrations"


def recipe_env(dsn: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHLOG_", "DJANGO_", "CELERY_"))}
    env.update(PUSHLOG_DSN=dsn, PYTHONUNBUFFERED="1", **extra)
    return env


def run_python(recipe: str, script: str, dsn: str, *, timeout: float = 60.0, **env: str) -> str:
    """Run ``script`` with ``integrations/<recipe>`` as cwd and on ``sys.path``; return its stdout.

    A non-zero exit fails the test with the process's stderr."""
    cwd = RECIPES / recipe
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=recipe_env(dsn, PYTHONPATH=str(cwd), **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout
