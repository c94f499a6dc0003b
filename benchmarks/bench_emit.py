"""Per-record cost of one logger call with NullHandler, QueueHandler, PushHandler and Sentry's logging
integration, side by side in one process; then pushlog's peak memory with the hub down.

Run: ``.venv/bin/python benchmarks/bench_emit.py`` (``--quick`` for fewer rounds). Every number is a
median of per-batch means, batches of the configurations interleaved round-robin so they share the
machine's state. Output: microseconds per record and the ratios the issue sets targets for:

* pushed WARNING: PushHandler / QueueHandler <= 1.5
* storm of identical ERRORs (repeats): PushHandler / QueueHandler <= 1.0
* DEBUG below the handler's level: PushHandler / no handler ~ 1.0

Nothing is sent: pushlog's DSN points at a closed port (the hub is "down") and queues are emptied
between batches outside the timed region; Sentry's transport drops every envelope.
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import os
import queue
import socket
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pushlog
from pushlog import PushHandler

QUICK = "--quick" in sys.argv
#: CPU time of the logging thread: what the call costs the app, robust to other processes sharing the
#: machine (wall time with ``--wall``).
CLOCK = time.perf_counter_ns if "--wall" in sys.argv else time.thread_time_ns
BATCH = 200
ROUNDS = 20 if QUICK else 80
SENTRY_ROUNDS = 5 if QUICK else 15
SENTRY_BATCH = 40


def closed_port_dsn() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://pl_publish_bench@127.0.0.1:{port}"


DSN = closed_port_dsn()


class Setup:
    """One logger with one handler (or none) and a way to empty what the handler queued."""

    def __init__(self, name: str, handler: logging.Handler | None, drain: Callable[[], None] = lambda: None):
        self.name = name
        self.logger = logging.getLogger(f"bench.{name}")
        self.logger.handlers.clear()
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        if handler is not None:
            handler.setLevel(logging.INFO)
            self.logger.addHandler(handler)
        self.handler = handler
        self.drain = drain


def make_setups() -> dict[str, Setup]:
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def drain_queue() -> None:
        while not q.empty():
            q.get_nowait()

    # distinct events for the WARNING/INFO scenarios (the same call would be deduplicated)
    push = PushHandler(DSN, dedup_window=0, rate_limit=False, queue_size=1_000_000)
    storm = PushHandler(DSN, queue_size=1_000_000)  # defaults: dedup on, rate limit on

    def drain_push(h: PushHandler = push) -> None:
        h.client.queue.take(10**9)

    none_logger = Setup("none", None)  # same logger level (DEBUG), no handler at all
    return {
        "none": none_logger,
        "null": Setup("null", logging.NullHandler()),
        "queue": Setup("queue", logging.handlers.QueueHandler(q), drain_queue),
        "push": Setup("push", push, drain_push),
        "push_storm": Setup("push_storm", storm, lambda: storm.client.queue.take(10**9)),
    }


SCENARIOS: dict[str, Callable[[logging.Logger, int], None]] = {
    "pushed WARNING": lambda log, i: log.warning("payment %s failed", i, extra={"user_id": i, "plan": "pro"}),
    "feed INFO": lambda log, i: log.info("signup from %s", "ada@example.com", extra={"user_id": i}),
    "DEBUG below level": lambda log, i: log.debug("cache miss %s", i, extra={"key": i}),
    "storm of identical ERRORs": lambda log, i: log.error("db down: %s", "timeout", extra={"db": "main"}),
}


def time_batch(setup: Setup, call: Callable[[logging.Logger, int], None], batch: int, offset: int) -> float:
    log = setup.logger
    start = CLOCK()
    for i in range(offset, offset + batch):
        call(log, i)
    elapsed = CLOCK() - start
    setup.drain()
    return elapsed / batch / 1000.0  # µs per record


def measure(
    setups: dict[str, Setup], names: list[str], rounds: int, batch: int
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for _ in range(5):  # warm every path and the allocator first, so the first scenario is not penalised
        for scenario, call in SCENARIOS.items():
            for name in names:
                if name != "none" or scenario == "DEBUG below level":
                    time_batch(setups[name], call, batch, 0)
    for scenario, call in SCENARIOS.items():
        # a logger without handlers would print WARNINGs through logging's last resort: DEBUG only
        names_here = [n for n in names if n != "none" or scenario == "DEBUG below level"]
        samples: dict[str, list[float]] = {n: [] for n in names_here}
        for name in names_here:  # warm up (and, for the storm, open the dedup window)
            time_batch(setups[name], call, batch, 0)
        gc.disable()
        try:
            for r in range(rounds):
                for name in names_here:
                    samples[name].append(time_batch(setups[name], call, batch, (r + 1) * batch))
        finally:
            gc.enable()
        results[scenario] = {n: statistics.median(v) for n, v in samples.items()}
        results[scenario].update({f"{n}:min": min(v) for n, v in samples.items()})
    return results


def ratio_line(label: str, a: float, b: float, target: str | None = None) -> str:
    text = f"  {label:<40} {a / b:6.2f}x"
    return text + (f"   (target {target})" if target else "")


def table(results: dict[str, dict[str, float]], names: list[str]) -> None:
    header = "  " + "scenario".ljust(28) + "".join(n.rjust(13) for n in names)
    print(header + "   (µs per record, median)")
    for scenario, row in results.items():
        print(
            "  "
            + scenario.ljust(28)
            + "".join(f"{row[n]:13.2f}" if n in row else " " * 12 + "-" for n in names)
        )


def main() -> None:
    clock = "wall time" if CLOCK is time.perf_counter_ns else "CPU time of the logging thread"
    print(
        f"bench_emit: python {sys.version.split()[0]}, pushlog {pushlog.__version__}, "
        f"batches of {BATCH}, {clock}"
    )
    setups = make_setups()
    phase_a = ["none", "null", "queue", "push", "push_storm"]
    results = measure(setups, phase_a, ROUNDS, BATCH)
    for row in results.values():  # the storm uses the dedup-on handler; the rest the dedup-off one
        row["pushlog"] = row["push"]
    results["storm of identical ERRORs"]["pushlog"] = results["storm of identical ERRORs"]["push_storm"]
    print("\nPhase A: no Sentry in the process")
    table(results, ["none", "null", "queue", "pushlog"])
    w, st, dbg = results["pushed WARNING"], results["storm of identical ERRORs"], results["DEBUG below level"]
    print("ratios (side by side, same run):")
    print(ratio_line("pushed WARNING  PushHandler/QueueHandler", w["pushlog"], w["queue"], "<= 1.5"))
    inf = results["feed INFO"]
    print(ratio_line("feed INFO       PushHandler/QueueHandler", inf["pushlog"], inf["queue"]))
    print(ratio_line("storm repeats   PushHandler/QueueHandler", st["pushlog"], st["queue"], "<= 1.0"))
    print(ratio_line("DEBUG below lvl PushHandler/no handler", dbg["pushlog"], dbg["none"], "~ 1.0"))
    w_min = w["push:min"] / w["queue:min"]
    st_min = st["push_storm:min"] / st["queue:min"]
    print(f"  (ratios of the fastest batches instead of medians: WARNING {w_min:.2f}x, storm {st_min:.2f}x)")

    sentry_phase(setups)
    memory_phase()


class DroppingTransport:
    """A Sentry transport that drops every envelope (nothing leaves the process)."""

    def __init__(self, options: Any = None) -> None:
        self.options = options
        self.parsed_dsn = None

    def capture_envelope(self, envelope: Any) -> None:
        return None

    def capture_event(self, event: Any) -> None:
        return None

    def flush(self, timeout: float, callback: Any = None) -> None:
        return None

    def kill(self) -> None:
        return None

    def is_healthy(self) -> bool:
        return True

    def record_lost_event(self, *args: Any, **kwargs: Any) -> None:
        return None


def sentry_phase(setups: dict[str, Setup]) -> None:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
        from sentry_sdk.transport import Transport
    except ImportError:
        print("\nPhase B skipped: sentry-sdk is not installed")
        return

    class Dropping(DroppingTransport, Transport):  # type: ignore[misc]
        pass

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=Dropping,
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.WARNING)],
        default_integrations=False,
    )
    for name in ("none", "null", "queue", "push", "push_storm"):
        ignore_logger(f"bench.{name}")
    # Sentry hooks Logger.callHandlers; a NullHandler keeps logging's last resort quiet
    setups["sentry"] = Setup("sentry", logging.NullHandler())
    results = measure(setups, ["queue", "push", "push_storm", "sentry"], SENTRY_ROUNDS, SENTRY_BATCH)
    for row in results.values():
        row["pushlog"] = row["push"]
    results["storm of identical ERRORs"]["pushlog"] = results["storm of identical ERRORs"]["push_storm"]
    print("\nPhase B: Sentry's LoggingIntegration(event_level=WARNING), transport dropping events")
    table(results, ["queue", "pushlog", "sentry"])
    print("ratios (side by side, same run):")
    for scenario, row in results.items():
        print(ratio_line(f"{scenario[:15]:<15} PushHandler/sentry", row["pushlog"], row["sentry"]))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_row(records: int, queue_size: int) -> dict[str, float]:
    """In a fresh process: peak RSS growth while ``records`` distinct WARNINGs are logged, hub down
    (RSS sampled every 1,000 records)."""
    handler = PushHandler(DSN, dedup_window=0, rate_limit=False, queue_size=queue_size)
    log = logging.getLogger("bench.mem")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    for i in range(200):  # warm up: worker started, first batch in its retry wait
        log.warning("payment %s failed", i, extra={"user_id": i, "plan": "pro"})
    gc.collect()
    before = peak = _rss_bytes()
    for i in range(records):
        log.warning("payment %s failed", i, extra={"user_id": i, "plan": "pro"})
        if i % 1000 == 0:
            peak = max(peak, _rss_bytes())
    peak = max(peak, _rss_bytes())
    return {
        "growth_mb": (peak - before) / 1e6,
        "queued": len(handler.client.queue),
        "dropped": handler.client.queue.dropped,
    }


def memory_phase() -> None:
    import json
    import subprocess

    print("\nPeak memory (RSS growth, fresh process each) logging distinct WARNINGs with the hub down:")
    rows = [(100_000, 10_000), (100_000, 1_000), (20_000, 10_000)]
    first = None
    for records, queue_size in rows:
        code = (
            "import json, sys; sys.path.insert(0, 'benchmarks'); import bench_emit as b; "
            f"print(json.dumps(b.memory_row({records}, {queue_size})))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
        ).stdout
        row = json.loads(out.strip().splitlines()[-1])
        first = first or max(row["growth_mb"], 0.1)
        print(
            f"  {records:>7} records, queue_size {queue_size:>6}: peak growth {row['growth_mb']:6.1f} MB, "
            f"queued {row['queued']:>6}, dropped {row['dropped']:>6}, "
            f"{row['growth_mb'] / first:4.2f}x the first row"
        )


if __name__ == "__main__":
    main()
