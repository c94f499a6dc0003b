"""What every benchmark shares: smoke mode, the ratio lines with their targets, a real hub in a
subprocess, and the figures file ``benchmarks/plot.py`` draws from.

Smoke mode (``--smoke`` or ``PUSHLOG_BENCH_SMOKE=1``) runs each benchmark once in a few seconds, with
the same code paths and output lines, so ``make test`` (tests/benchmarks/test_smoke.py) catches a
broken benchmark; its numbers mean nothing and it writes no figures file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SMOKE = "--smoke" in sys.argv or os.environ.get("PUSHLOG_BENCH_SMOKE") == "1"
#: Where each benchmark writes its figures (JSON) and ``plot.py`` writes the PNGs.
FIGURES = Path(__file__).resolve().parent.parent / "docs" / "performance"


def machine() -> str:
    """The machine's state, printed in every header: these figures depend on what else runs."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load}"


def ratio_line(label: str, ratio: float, target: str | None = None, unit: str = "x") -> str:
    """``ratio <label> <value>x  (target ...)``: the line format the smoke test looks for."""
    text = f"  ratio  {label:<58} {ratio:7.2f}{unit}"
    return text + (f"   (target {target})" if target else "")


def save_figures(name: str, figures: dict[str, Any]) -> None:
    """Write ``docs/performance/<name>.json`` (not in smoke mode) for ``benchmarks/plot.py``."""
    if SMOKE:
        return
    FIGURES.mkdir(parents=True, exist_ok=True)
    figures = {"machine": machine(), **figures}
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"  figures written to {FIGURES / f'{name}.json'}")


@dataclass
class Hub:
    """A hub started with ``pushlog serve`` in a subprocess."""

    process: subprocess.Popen[str]
    url: str
    credentials: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def dsn(self) -> str:
        """The publish DSN a client is configured with."""
        host = self.url.split("://", 1)[1]
        return f"http://{self.credentials['publish']}@{host}"


#: The hub's limits on abuse, lifted: a benchmark measures throughput, not the limits. Passed only to
#: a hub whose ``serve --help`` lists the flag (a baseline checkout may predate them).
LIFTED_LIMITS = {
    "--rate-limit": "1000000",
    "--rate-burst": "1000000",
    "--max-connections": "100000",
    "--max-streams": "100000",
    "--max-streams-per-key": "100000",
    "--push-budget": "100000000",
}


def _lifted_limits(env: dict[str, str]) -> list[str]:
    usage = subprocess.run(
        [sys.executable, "-m", "pushlog", "serve", "--help"], capture_output=True, text=True, env=env
    ).stdout
    known = set(re.findall(r"--[a-z-]+", usage))
    return [part for flag, value in LIFTED_LIMITS.items() if flag in known for part in (flag, value)]


@contextmanager
def running_hub(data_dir: Path, *extra: str, src: str | None = None) -> Iterator[Hub]:
    """``pushlog serve`` on a free loopback port with ``data_dir``, limits lifted; stopped with
    SIGTERM on exit. ``src``: run the pushlog found in that directory instead (a baseline checkout's
    ``src``), for before/after comparisons in one run. With ``PUSHLOG_BENCH_HUB_PROFILE=FILE`` the hub
    runs under cProfile (its event loop thread) and writes FILE when it stops."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    profile = os.environ.get("PUSHLOG_BENCH_HUB_PROFILE")
    process = subprocess.Popen(
        [
            sys.executable,
            *(["-m", "cProfile", "-o", profile] if profile else []),
            "-m",
            "pushlog",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--quiet",
            *_lifted_limits(env),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        if url is None:
            raise SystemExit("hub did not start")
        threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("hub did not answer /healthz")
            threading.Event().wait(0.05)
        credentials = json.loads((data_dir / "credentials.json").read_text())
        yield Hub(process, url, credentials)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """:func:`process_cpu` of ``pid`` plus that of its live child processes (a hub's encryption
    workers), so work moved to a pool is still counted."""
    total = process_cpu(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """One HTTP/1.1 request from a loopback sink's connection: its head and ``time.monotonic()`` when
    the head arrived (the body, by ``Content-Length``, is read and dropped). Raises what
    ``readuntil`` raises when the client goes away."""
    head = await reader.readuntil(b"\r\n\r\n")
    arrived = time.monotonic()
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return head, arrived
