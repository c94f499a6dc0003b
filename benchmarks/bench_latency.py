"""Latency: a lone WARNING from the log call to the push service, and to a live stream.

What it measures: a ``PushHandler`` in this process logs one WARNING at a time (``logger.warning``;
the clock starts just before the call) to a real hub (``pushlog serve`` in a subprocess, SQLite, one
Web Push device). Two arrivals are stamped in an observer process, on the monotonic clock every
process shares on Linux:

* **log call -> push service**: the hub's Web Push request reaching a loopback RFC 8030 stand-in (a
  minimal HTTP/1.1 sink answering 201, as bench_fanout's), so it covers the client's worker and POST,
  the hub's ingest commit, the outbox, encryption and the push request;
* **log call -> SSE**: the event arriving on a ``GET /v1/stream`` connection held by the observer.

Records are spaced out (``--gap``, default 50 ms after both arrivals), so every one finds the client,
the hub and the dispatcher idle: the latency of a lone WARNING, not of a burst. The client's push
rate limit and dedup window are off (hundreds of WARNINGs a minute would otherwise be held back).
p50 and p99 over ``--records`` records after a warm-up.

Targets (issue 15): log call -> push service p50 <= 5 ms and p99 <= 20 ms on loopback; log call ->
SSE p50 <= 5 ms.

Beside the latencies, the CPU each record costs: the hub process's (its encryption workers included),
and this process's (the logging call and the client's worker), over the measured records. The
latencies are mostly CPU work spread over three processes on a shared machine (docs/performance.md,
Latency), so the CPU figures compare two hubs with much less noise than the wall-clock ones.
Usage: ``python benchmarks/bench_latency.py [--records N] [--rounds R] [--gap S] [--baseline-src DIR]
[--quick] [--smoke]``. ``--baseline-src DIR`` also runs a hub from another checkout's ``src`` (e.g. ``git
archive`` of an older commit), alternating rounds with this one: before/after figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import re
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    SMOKE,
    Hub,
    machine,
    process_tree_cpu,
    ratio_line,
    read_request,
    running_hub,
    save_figures,
)
from bench_fanout import make_keys, register_devices

import pushlog

TARGETS_MS = {"push_p50": 5.0, "push_p99": 20.0, "sse_p50": 5.0}
PROBE = re.compile(rb"latency probe (\d+)")


# ------------------------------------------------------------------------------------------ observer
async def _observe(pipe: Connection) -> None:
    """The push-service sink, and the SSE stream of each hub it is told about (``(url, key)``, one at
    a time; ``None`` ends it); every arrival goes to ``pipe`` as it happens."""

    async def push_service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                _, now = await read_request(reader)
                pipe.send(("push", now))
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nLocation: /m/1\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stream(url: str, key: str, opened: asyncio.Future[None]) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"stream refused: {head.splitlines()[0].decode()}")
        opened.set_result(None)
        try:
            while chunk := await reader.read(65536):
                now = time.monotonic()
                for n in PROBE.findall(chunk):
                    pipe.send(("sse", int(n), now))
        finally:
            writer.close()

    server = await asyncio.start_server(push_service, "127.0.0.1", 0)
    pipe.send(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    current: asyncio.Task[None] | None = None
    async with server:
        while (told := await loop.run_in_executor(None, pipe.recv)) is not None:
            if current is not None:
                current.cancel()
            opened: asyncio.Future[None] = loop.create_future()
            current = asyncio.create_task(stream(*told, opened))
            await asyncio.wait_for(opened, 60)
            pipe.send("ready")


def observer_main(pipe: Connection) -> None:
    asyncio.run(_observe(pipe))


class Observer:
    """The observer process: the push service's port, and a stream opened on each hub in turn."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=observer_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not self.pipe.poll(60):
            raise SystemExit("the observer did not start")
        self.port: int = self.pipe.recv()

    def watch(self, hub: Hub) -> None:
        self.pipe.send((hub.url, hub.credentials["read"]))
        if not self.pipe.poll(60) or self.pipe.recv() != "ready":
            raise SystemExit("the observer did not open its stream")

    def close(self) -> None:
        self.pipe.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# ------------------------------------------------------------------------------------------- measure
def probe(logger: logging.Logger, pipe: Connection, n: int) -> tuple[float, float]:
    """Log WARNING ``n``; (seconds to the push service, seconds to the SSE stream)."""
    t0 = time.monotonic()
    logger.warning("latency probe %d", n)
    push = sse = None
    deadline = t0 + 30
    while push is None or sse is None:
        left = deadline - time.monotonic()
        if left <= 0 or not pipe.poll(left):
            raise SystemExit(f"record {n}: no {'push' if push is None else 'stream event'} within 30 s")
        arrival = pipe.recv()
        if arrival[0] == "push" and push is None:
            push = arrival[1] - t0
        elif arrival[0] == "sse" and arrival[1] == n:
            sse = arrival[2] - t0
    return push, sse


class Client:
    """A ``PushHandler`` on its own logger, sending to ``hub``."""

    def __init__(self, hub: Hub) -> None:
        self.handler = pushlog.PushHandler(hub.dsn(), dedup_window=0, rate_limit=False)
        self.logger = logging.getLogger(f"bench.latency.{hub.pid}")
        self.logger.propagate = False
        self.logger.addHandler(self.handler)

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        "max_ms": ordered[-1] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=400, help="measured records per hub")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds of quiet after each record")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per hub, alternating hubs")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--quick", action="store_true", help="100 records")
    parser.add_argument("--baseline-src", help="also run the hub of this src directory (before/after)")
    args = parser.parse_args()
    if args.quick:
        args.records = 100
    warmup = 20
    if SMOKE:
        args.records, args.rounds, warmup = 6, 1, 2
    print(
        f"bench_latency: {machine()}; a lone WARNING ({args.gap * 1e3:g} ms of quiet after each), "
        f"PushHandler -> live hub (pushlog serve, SQLite, one Web Push device) -> loopback push service, "
        f"and -> GET /v1/stream; {args.records} records per hub in {args.rounds} round(s)"
    )
    print("  measures: log call -> push request at the push service; log call -> event on the SSE stream")
    hubs: dict[str, str | None] = {"this hub": None}
    if args.baseline_src:
        hubs = {"baseline": args.baseline_src, **hubs}
    push: dict[str, list[float]] = {name: [] for name in hubs}
    sse: dict[str, list[float]] = {name: [] for name in hubs}
    # CPU seconds over the measured records: the hub's, and this process's (logging call + client worker)
    hub_cpu: dict[str, float] = dict.fromkeys(hubs, 0.0)
    client_cpu: dict[str, float] = dict.fromkeys(hubs, 0.0)
    counter = 0
    observer = Observer()
    keys = make_keys(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for name, src in hubs.items():
                    hub_dir = Path(tmp) / f"hub-{name.replace(' ', '-')}-{round_}"
                    with running_hub(hub_dir, "--allow-private-endpoints", src=src) as hub:
                        register_devices(hub_dir, observer.port, 1, keys)
                        observer.watch(hub)
                        client = Client(hub)
                        try:
                            for i in range(warmup + max(1, args.records // args.rounds)):
                                if i == warmup:
                                    cpu_start = (process_tree_cpu(hub.pid), time.process_time())
                                counter += 1
                                to_push, to_sse = probe(client.logger, observer.pipe, counter)
                                if i >= warmup:
                                    push[name].append(to_push)
                                    sse[name].append(to_sse)
                                time.sleep(args.gap)  # the pacing: each record finds everything idle
                            hub_cpu[name] += process_tree_cpu(hub.pid) - cpu_start[0]
                            client_cpu[name] += time.process_time() - cpu_start[1]
                        finally:
                            client.close()
    finally:
        observer.close()
    print("  hub          path                 p50 ms    p99 ms    max ms")
    figures: dict[str, Any] = {"gap_s": args.gap, "runs": {}}
    for name in hubs:
        rows = {"push": summary(push[name]), "sse": summary(sse[name])}
        records = max(1, len(push[name]))
        cpu_ms = {"hub": hub_cpu[name] / records * 1e3, "client": client_cpu[name] / records * 1e3}
        figures["runs"][name] = {
            **rows,
            "cpu_ms_per_record": cpu_ms,
            "push_ms": sorted(x * 1e3 for x in push[name]),
            "sse_ms": sorted(x * 1e3 for x in sse[name]),
        }
        for path, label in (("push", "log -> push service"), ("sse", "log -> SSE stream")):
            row = rows[path]
            print(f"  {name:<12} {label:<20} {row['p50_ms']:7.2f} {row['p99_ms']:9.2f} {row['max_ms']:9.2f}")
    print("  hub          CPU ms per record: hub process (its encryption workers included); this process")
    print("               (the probe, the logging call and the client's worker)")
    for name in hubs:
        cpu_ms = figures["runs"][name]["cpu_ms_per_record"]
        print(f"  {name:<12} {cpu_ms['hub']:9.2f} {cpu_ms['client']:9.2f}")
    ours = figures["runs"]["this hub"]
    for key, path, stat, label in (
        ("push_p50", "push", "p50_ms", "log -> push service p50"),
        ("push_p99", "push", "p99_ms", "log -> push service p99"),
        ("sse_p50", "sse", "p50_ms", "log -> SSE p50"),
    ):
        target = TARGETS_MS[key]
        print(ratio_line(f"{label} / {target:g} ms", ours[path][stat] / target, f"<= 1.0: <= {target:g} ms"))
    if args.baseline_src:
        before = figures["runs"]["baseline"]
        for path, label in (("push", "log -> push service"), ("sse", "log -> SSE")):
            print(
                ratio_line(f"{label} p50, this hub / baseline", ours[path]["p50_ms"] / before[path]["p50_ms"])
            )
        base_cpu = before["cpu_ms_per_record"]["hub"]
        if base_cpu > 0:
            print(
                ratio_line(
                    "hub CPU per record, this hub / baseline", ours["cpu_ms_per_record"]["hub"] / base_cpu
                )
            )
    save_figures("latency", figures)


if __name__ == "__main__":
    main()
