"""Several hub processes on one PostgreSQL: ingest and fan-out with 1, 2 and 4 processes, beside one
process on SQLite (the default), in one run.

For each setup a fresh database and N ``pushlog serve`` processes (one data directory, the same
``--db``; each process has its own dispatcher, relay and duty runner):

* ingest   - CLIENTS concurrent keep-alive clients, spread over the processes, POST batches of BATCH
             events; events/s over the whole run, and the p99 latency of one POST (202 = committed).
* fan-out  - DEVICES Web Push devices pointing at a loopback sink (benchmarks/bench_fanout.py's), one
             ERROR event published; messages/s from the publish until the sink has all of them, with
             the N dispatchers sharing the outbox (claims skip each other's rows). The first fan-out
             of a fresh hub is printed on its own ("cold": each process starts its encryption worker
             pool at its first wide fan-out and encrypts on its loop until the workers are up); the
             ratios compare the best of WARM_ROUNDS fan-outs after it, as bench_fanout.py does.

Ratios are against 1 process on PostgreSQL (how it scales) and PostgreSQL against SQLite. On a
machine with few cores the processes share them with PostgreSQL, the clients and the sink, so the
ratios say what more processes buy *here*; more cores or machines buy more. Event inserts are
serialised across processes (``seq`` must commit in order, hub/store/_locks.py), so ingest scales
through parsing and validation, not the insert itself.

Usage: ``python benchmarks/bench_scale.py [--quick] [--smoke]``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as _dt
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import SMOKE, Hub, machine, ratio_line, running_hub, save_figures
from bench_fanout import make_keys, sink_stats, start_sink

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import new_database, postgres_server

QUICK = "--quick" in sys.argv
PROCESSES = (1, 2) if SMOKE else (1, 2, 4)
BATCH = 50
BATCHES = 4 if SMOKE else 100 if QUICK else 300
CLIENTS = 8
DEVICES = 20 if SMOKE else 1000 if QUICK else 3000
WARM_ROUNDS = 1 if SMOKE else 2


def _event(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "level": "info" if n % 4 else "warning",
        "title": f"order {n} paid",
        "body": "Pro plan · annual · card ending 4242",
        "channel": "payments",
        "tags": ["billing"],
        "metadata": {"user_id": n, "plan": "pro"},
        "push": False,  # ingest only: the fan-out is measured on its own
    }


def ingest(hubs: list[Hub]) -> tuple[float, float]:
    """Events/s and the p99 seconds of one POST, CLIENTS clients over ``hubs``."""
    clients = [
        httpx.Client(
            base_url=hubs[i % len(hubs)].url,
            headers={"Authorization": f"Bearer {hubs[0].credentials['publish']}"},
            timeout=60,
        )
        for i in range(CLIENTS)
    ]
    batches = [[_event(b * BATCH + i) for i in range(BATCH)] for b in range(BATCHES)]
    latencies: list[float] = []
    try:
        for client in clients:
            client.get("/healthz")

        def send(index: int) -> None:
            started = time.perf_counter()
            answer = clients[index % CLIENTS].post("/v1/events", json={"events": batches[index]})
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 202:
                raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(send, range(BATCHES)))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    latencies.sort()
    return BATCHES * BATCH / elapsed, latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]


def register(db_url: str, data: Path, port: int, keys: list[tuple[str, str]]) -> None:
    """DEVICES Web Push devices at the sink, written straight into the store (the device API is not
    what this measures)."""
    from pushlog._levels import Level
    from pushlog.hub.store import create_engine
    from pushlog.hub.store import devices as device_store
    from pushlog.hub.store.device_tokens import open_vault

    engine = create_engine(db_url)
    vault = open_vault(data)  # the hubs' key: device secrets are stored sealed
    now = _dt.datetime.now(_dt.UTC)
    try:
        with engine.begin() as conn:
            for i in range(DEVICES):
                p256dh, auth = keys[i % len(keys)]
                registration = device_store.WebPushRegistration(
                    name=f"bench {i}",
                    endpoint=f"http://127.0.0.1:{port}/push/{i}",
                    p256dh=p256dh,
                    auth=auth,
                    min_level=Level.WARNING,
                    channels=None,
                )
                device_store.register_webpush(conn, registration, vault=vault, now=now)
    finally:
        engine.dispose()


def fanout(hubs: list[Hub], port: int) -> float:
    """Messages/s of one ERROR to DEVICES devices, from the publish to the sink's last arrival."""
    sink_stats(port)
    event = {"id": str(uuid.uuid4()), "level": "error", "title": "Payment failed"}
    start = time.monotonic()
    answer = httpx.post(
        f"{hubs[0].url}/v1/events",
        json={"events": [event]},
        headers={"Authorization": f"Bearer {hubs[0].credentials['publish']}"},
    )
    if answer.status_code != 202:
        raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")
    received, last = 0, None
    deadline = start + 300
    while received < DEVICES:
        if time.monotonic() > deadline:
            raise SystemExit(f"fan-out: {received} of {DEVICES} pushes arrived in 300 s")
        time.sleep(0.02)  # polls the sink; arrival times come from the sink's clock
        stats = sink_stats(port)
        received += stats["count"]
        last = stats["last"] or last
    assert last is not None
    return DEVICES / (last - start)


@contextlib.contextmanager
def hubs_on(data: Path, count: int, db_url: str | None) -> Iterator[list[Hub]]:
    extra = ("--allow-private-endpoints", *(("--db", db_url) if db_url else ()))
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_hub(data, *extra)) for _ in range(count)]


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    sink, port = start_sink()
    keys = make_keys(64)
    try:
        with tempfile.TemporaryDirectory() as tmp, postgres_server() as pg:
            root = Path(tmp)
            setups: list[tuple[str, int, str | None]] = [("sqlite", 1, None)]
            setups += [(f"pg{n}", n, new_database(pg)) for n in PROCESSES]
            for name, count, db_url in setups:
                data = root / name
                url = db_url or f"sqlite:///{data / 'pushlog.db'}"
                with hubs_on(data, count, db_url) as hubs:
                    rate, p99 = ingest(hubs)
                    register(url, data, port, keys)
                    results[name] = {"processes": count, "events_per_s": rate, "p99_ms": p99 * 1000}
                    results[name]["cold_msgs_per_s"] = fanout(hubs, port)
                    results[name]["msgs_per_s"] = max(fanout(hubs, port) for _ in range(WARM_ROUNDS))
    finally:
        sink.terminate()
    print(
        f"bench_scale: {machine()}; ingest {BATCHES} x {BATCH} events from {CLIENTS} clients, "
        f"fan-out to {DEVICES} devices (first after start, then best of {WARM_ROUNDS})"
    )
    for name, row in results.items():
        label = "SQLite, 1 process" if name == "sqlite" else f"PostgreSQL, {row['processes']:.0f} process(es)"
        print(
            f"  {label:<28} ingest {row['events_per_s']:>8,.0f} events/s  p99 {row['p99_ms']:>7.1f} ms"
            f"   fan-out first {row['cold_msgs_per_s']:>6,.0f}, then {row['msgs_per_s']:>6,.0f} msgs/s"
        )
    one = results["pg1"]
    for n in PROCESSES[1:]:
        row = results[f"pg{n}"]
        print(
            ratio_line(f"ingest, {n} processes / 1 (PostgreSQL)", row["events_per_s"] / one["events_per_s"])
        )
        print(ratio_line(f"p99 publish latency, {n} processes / 1", row["p99_ms"] / one["p99_ms"]))
        print(ratio_line(f"fan-out, {n} dispatchers / 1 (PostgreSQL)", row["msgs_per_s"] / one["msgs_per_s"]))
    sqlite = results["sqlite"]
    print(ratio_line("ingest, PostgreSQL 1 process / SQLite", one["events_per_s"] / sqlite["events_per_s"]))
    print(ratio_line("fan-out, PostgreSQL 1 process / SQLite", one["msgs_per_s"] / sqlite["msgs_per_s"]))
    save_figures(
        "scale",
        {"setups": results, "batch": BATCH, "batches": BATCHES, "clients": CLIENTS, "devices": DEVICES},
    )


if __name__ == "__main__":
    main()
