"""Live streams: STREAMS open ``GET /v1/stream`` connections while events are published at RATE per
second; publish -> receive latency (p50/p99 over every event on every stream) and the hub's CPU.

A real hub (``pushlog serve`` in a subprocess, SQLite). The streams are held by a separate receiver
process (plain asyncio sockets, so the client side stays cheap); the publisher POSTs one event at a
time with ``httpx`` and puts ``time.monotonic()`` into the event's metadata, and the receiver subtracts
it on arrival (one monotonic clock for all processes on Linux), so latency covers ingest, commit,
fan-out and the socket. Hub CPU is read from /proc over the measured window (100% = one core).
``--filters K`` spreads the streams over K distinct filters that all match (different ``since``), the
case where each change costs one database read per distinct filter.

Target (issue 15): 500 streams at 10 events/s deliver at p50 <= 50 ms.
Usage: ``python benchmarks/bench_streams.py [--streams N ...] [--rate R] [--seconds S] [--filters K]
[--baseline-src DIR] [--quick] [--smoke]``.
``--baseline-src DIR`` also runs a hub from another checkout's ``src`` (e.g. ``git archive`` of an older
commit), alternating with this one at each size: before/after figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import multiprocessing
import re
import statistics
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from _common import SMOKE, machine, process_cpu, ratio_line, running_hub, save_figures

T0 = re.compile(rb'"t0":([0-9.]+)')
TARGET_P50_MS = 50.0


# ------------------------------------------------------------------------------------------- receiver
async def _stream(
    host: str, port: int, path: str, key: str, latencies: list[float], ready: asyncio.Event, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream refused: {head.splitlines()[0].decode()}")
    counts[0] += 1
    if counts[0] == counts[1]:
        ready.set()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        now = time.monotonic()
        latencies.extend(now - float(t0) for t0 in T0.findall(chunk))


def receiver_main(url: str, key: str, paths: list[str], pipe: Connection) -> None:
    """Open every stream, report "ready", then collect latencies until told to stop."""

    async def run() -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        latencies: list[float] = []
        ready = asyncio.Event()
        counts = [0, len(paths)]
        tasks = [
            asyncio.create_task(_stream(host, port, path, key, latencies, ready, counts)) for path in paths
        ]
        await asyncio.wait_for(ready.wait(), 120)
        pipe.send("ready")
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "reset":
                latencies.clear()
                pipe.send("ok")
            elif command == "count":
                pipe.send(len(latencies))
            else:
                pipe.send(list(latencies))
                break
        for task in tasks:
            task.cancel()

    asyncio.run(run())


# ------------------------------------------------------------------------------------------ publisher
def publish(client: httpx.Client, run: str, n: int) -> None:
    event = {
        "id": str(uuid.uuid4()),
        "level": "info",
        "title": f"tick {n}",
        "metadata": {"run": run, "t0": time.monotonic()},
    }
    answer = client.post("/v1/events", json={"events": [event]})
    if answer.status_code != 202:
        raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")


def wait_for_count(pipe: Connection, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        pipe.send("count")
        got: int = pipe.recv()
        if got >= expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)  # polling the receiver's count; latencies come from the receiver's clock


def measure(
    streams: int, rate: float, seconds: float, filters: int, src: str | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub", src=src) as hub:
        base = _dt.datetime.now(_dt.UTC) - _dt.timedelta(days=1)
        paths = []
        for i in range(streams):
            since = (base - _dt.timedelta(seconds=i % filters)).strftime("%Y-%m-%dT%H:%M:%SZ")
            paths.append("/v1/stream?" + urlencode({"since": since}))
        parent, child = multiprocessing.get_context("spawn").Pipe()
        receiver = multiprocessing.get_context("spawn").Process(
            target=receiver_main, args=(hub.url, hub.credentials["read"], paths, child), daemon=True
        )
        receiver.start()
        run = uuid.uuid4().hex
        try:
            if not parent.poll(180) or parent.recv() != "ready":
                raise SystemExit("the receiver did not open its streams")
            headers = {"Authorization": f"Bearer {hub.credentials['publish']}"}
            with httpx.Client(base_url=hub.url, headers=headers, timeout=60) as client:
                publish(client, run, -1)  # warm-up: every stream gets one event
                if wait_for_count(parent, streams, 60) < streams:
                    raise SystemExit("the warm-up event did not reach every stream")
                parent.send("reset")
                parent.recv()
                events = max(1, round(rate * seconds))
                cpu, start = process_cpu(hub.pid), time.monotonic()
                for n in range(events):
                    delay = start + n / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)  # the publishing schedule: RATE events per second
                    publish(client, run, n)
                received = wait_for_count(parent, events * streams, 60)
                elapsed = time.monotonic() - start
                hub_cpu = process_cpu(hub.pid) - cpu
            parent.send("stop")
            latencies: list[float] = parent.recv()
        finally:
            receiver.join(10)
            if receiver.is_alive():
                receiver.kill()
    if received < events * streams:
        raise SystemExit(f"only {received} of {events * streams} events arrived")
    ordered = sorted(latencies)
    return {
        "streams": streams,
        "rate": rate,
        "filters": filters,
        "events": events,
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        "max_ms": ordered[-1] * 1e3,
        "hub_cpu_percent": 100 * hub_cpu / elapsed,
        "hub_cpu_us_per_delivery": 1e6 * hub_cpu / (events * streams),
        "latencies_ms": [x * 1e3 for x in ordered[:: max(1, len(ordered) // 2000)]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="*", default=[100, 200, 500])
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--filters", type=int, default=1, help="distinct filters the streams use")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 s per size")
    parser.add_argument("--baseline-src", help="also run the hub of this src directory (before/after)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 3.0
    if SMOKE:
        args.streams, args.seconds = [20], 1.0
    print(
        f"bench_streams: {machine()}, {args.rate:g} events/s for {args.seconds:g} s, "
        f"{args.filters} distinct filter(s), live hub (pushlog serve, subprocess)"
    )
    hubs: dict[str, str | None] = {"this hub": None}
    if args.baseline_src:
        hubs = {"baseline": args.baseline_src, **hubs}
    print("  hub        streams    p50 ms    p99 ms    max ms  hub CPU %  hub CPU µs per delivery")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in hubs}
    for streams in args.streams:
        for name, src in hubs.items():
            row = measure(streams, args.rate, args.seconds, max(1, min(args.filters, streams)), src)
            runs[name].append(row)
            print(
                f"  {name:<10} {streams:7d} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f} {row['max_ms']:9.1f}"
                f" {row['hub_cpu_percent']:9.0f}% {row['hub_cpu_us_per_delivery']:12.1f}"
            )
    largest = runs["this hub"][-1]
    print(
        ratio_line(
            f"p50 latency at {largest['streams']} streams / {TARGET_P50_MS:g} ms",
            largest["p50_ms"] / TARGET_P50_MS,
            f"<= 1.0: p50 <= {TARGET_P50_MS:g} ms at 500 streams",
        )
    )
    if args.baseline_src:
        before = runs["baseline"][-1]
        print(
            ratio_line(
                f"p50 latency at {largest['streams']} streams, this hub / baseline",
                largest["p50_ms"] / before["p50_ms"],
            )
        )
        print(
            ratio_line(
                f"hub CPU per delivery at {largest['streams']} streams, this hub / baseline",
                largest["hub_cpu_us_per_delivery"] / before["hub_cpu_us_per_delivery"],
            )
        )
    suffix = f"-filters{args.filters}" if args.filters > 1 else ""
    save_figures("streams" + suffix, {"runs": runs, "seconds": args.seconds, "rate": args.rate})


if __name__ == "__main__":
    main()
