"""Slow clients against a hub under a small descriptor limit: are normal requests still answered?

A hub (``pushlog serve`` in a subprocess under ``prlimit --nofile=256:256``) gets SLOW connections
that send their request head one byte every 2 s, while a normal client sends ``GET /healthz`` on a
fresh connection every 50 ms for DURATION seconds. Printed: when the slow connections were closed
(median / max seconds after opening, how many stayed open), the normal requests' p50/p99/max latency
and failures, and how many lines of the hub's log mention accept errors.

Usage: ``python benchmarks/bench_slow_clients.py [--quick] [--header-timeout S] [--slow N]`` (``--slow 0``:
the same normal client alone, the control on a busy machine).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SMOKE, ratio_line
from tests.support.hub_server import start_hub_process
from tests.support.slow_clients import NormalResults, SlowClients, normal_requests

QUICK = "--quick" in sys.argv
SLOW = int(sys.argv[sys.argv.index("--slow") + 1]) if "--slow" in sys.argv else 50 if SMOKE else 400
DURATION = 3.0 if SMOKE else 12.0 if QUICK else 25.0
NOFILE = 256


def main() -> None:
    args = (
        ["--header-timeout", sys.argv[sys.argv.index("--header-timeout") + 1]]
        if "--header-timeout" in sys.argv
        else []
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_hub_process(
            Path(tmp) / "data", args=args, prefix=("prlimit", f"--nofile={NOFILE}:{NOFILE}", "--")
        ) as hub,
    ):
        host, port = hub.base_url.removeprefix("http://").split(":")
        stop = threading.Event()
        results = NormalResults()
        normal = threading.Thread(target=normal_requests, args=(hub.base_url, stop, results))
        slow = SlowClients(host, int(port), SLOW).start()
        normal.start()
        stop.wait(DURATION)  # the measurement window
        stop.set()
        normal.join()
        slow.stop()
        log = hub.log(lines=100_000)
    closed = sorted(slow.closed_after.values())
    accept_errors = sum(1 for line in log.splitlines() if "accept" in line.lower())
    print(
        f"slow connections: {slow.opened} opened ({slow.connect_failures} failed to connect), "
        f"{len(closed)} closed by the hub, {slow.still_open} still open after {DURATION:.0f} s"
    )
    if closed:
        print(f"  closed after: median {statistics.median(closed):.1f} s, max {closed[-1]:.1f} s")
    print(
        f"normal requests: {len(results.latencies)} answered, {len(results.failures)} failed "
        f"{sorted(set(results.failures))[:3]}"
    )
    if results.latencies:
        print(
            f"  latency p50 {results.quantile(0.5) * 1000:.0f} ms, "
            f"p99 {results.quantile(0.99) * 1000:.0f} ms, max {max(results.latencies) * 1000:.0f} ms"
        )
    print(f"hub log lines mentioning accept: {accept_errors}")
    sent = len(results.latencies) + len(results.failures)
    print(ratio_line("normal requests answered / sent", len(results.latencies) / max(1, sent), "= 1.00"))


if __name__ == "__main__":
    main()
