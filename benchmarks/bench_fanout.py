"""Fan-out: one event to 1,000 and 10,000 Web Push subscriptions on a local push-service sink, and to as
many FCM and APNs tokens (benchmarks/_fanout_native.py: one multiplexed HTTP/2 connection against one
request per connection, same run, messages per second and CPU per message).

Contenders, interleaved round by round in one run (the machine is shared; the best round of each is
kept), each reaching the same sink:

* ``crypto floor`` - ``http_ece.encrypt`` alone with a fresh ephemeral P-256 key per message (what
                     every Web Push message costs whatever the HTTP client), on one core; the
                     N-core floor is that rate times the cores. The issue's target is relative to it.
* ``pywebpush webpush_async`` - the fair peer: pywebpush's own async path on one shared aiohttp
                     session, CONCURRENCY requests in flight (VAPID re-signed per message).
* ``sender``       - our ``WebPushSender`` alone (shared session, VAPID cached per origin), all
                     messages gathered at once.
* ``hub``          - the whole path a user gets: ``pushlog serve`` in a subprocess with one device
                     row per subscription; one ``POST /v1/events`` of an ERROR; the hub's outbox
                     dispatcher claims, encrypts and sends. CPU is the hub's, its encryption
                     worker processes included.
* ``naive``        - pywebpush ``webpush()`` in a loop (new connection and VAPID signature per
                     message): measured on a sample and extrapolated, and the output says so.

For each: messages per second, first-push and last-push latency (from the start to the first and last
request arriving at the sink, on the shared monotonic clock), and CPU per message of the process doing
the work (the sink's CPU is not counted). The sink is a minimal HTTP/1.1 server in its own process.

Usage: ``python benchmarks/bench_fanout.py [--quick] [--smoke] [--transports all|webpush|native]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as _dt
import json
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
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
from _fanout_native import CONTENDERS as NATIVE_CONTENDERS
from _fanout_native import IN_FLIGHT, NativeRun, run_native
from _fanout_native import start_sink as start_native_sink
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushlog._levels import Level
from pushlog.hub.delivery import PushContent
from pushlog.hub.delivery._base import PushMessage, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys

SUBJECT = "mailto:bench@example.com"
PAYLOAD = {
    "v": 1,
    "title": "Payment failed",
    "body": "card declined for customer 4242 · Pro plan annual · retry 3 of 3",
    "level": "error",
    "url": "http://127.0.0.1/#/events/x",
}
#: The same push as our sender renders it (ERROR: Urgency high).
CONTENT = PushContent(
    title=str(PAYLOAD["title"]),
    body=str(PAYLOAD["body"]),
    level=Level.ERROR,
    url=str(PAYLOAD["url"]),
    collapse_key="bench",
)
TARGET = ">= 0.40 of the {cores}-core crypto floor"
#: Tries per message for the in-process contenders: a timeout on a busy machine is resent, as the
#: hub's dispatcher would.
RESENDS = 3


# --------------------------------------------------------------------------------------------- sink
async def _serve(sock: socket.socket) -> None:
    """Answers every POST with 201 and records arrival times; ``GET /stats`` returns and resets them."""
    stats: dict[str, Any] = {"count": 0, "first": None, "last": None}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, now = await read_request(reader)
                if head.startswith(b"GET /stats"):
                    body = json.dumps(stats).encode()
                    stats.update(count=0, first=None, last=None)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                else:
                    stats["count"] += 1
                    stats["first"] = stats["first"] or now
                    stats["last"] = now
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nLocation: /m/1\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=sock, backlog=4096)
    async with server:
        await server.serve_forever()


def _sink_main(sock: socket.socket) -> None:
    asyncio.run(_serve(sock))


def start_sink() -> tuple[multiprocessing.process.BaseProcess, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(target=_sink_main, args=(sock,), daemon=True)
    process.start()
    sock.close()
    return process, port


def sink_stats(port: int) -> dict[str, Any]:
    """Arrivals since the last call: ``count``, ``first`` and ``last`` (``time.monotonic()``)."""
    stats: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/stats").json()
    return stats


# ------------------------------------------------------------------------------------ subscriptions
def make_keys(count: int) -> list[tuple[str, str]]:
    """``count`` distinct (p256dh, auth) pairs, as browsers would give them."""
    keys = []
    for _ in range(count):
        raw = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        keys.append(
            (
                base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode(),
            )
        )
    return keys


def targets(port: int, count: int, keys: list[tuple[str, str]]) -> list[WebPushTarget]:
    return [
        WebPushTarget(
            endpoint=f"http://127.0.0.1:{port}/push/{i}",
            p256dh=keys[i % len(keys)][0],
            auth=keys[i % len(keys)][1],
        )
        for i in range(count)
    ]


# ---------------------------------------------------------------------------------------- contenders
class Run:
    """One contender's round: ``count`` messages, wall and CPU seconds, first and last push (s)."""

    def __init__(self, count: int, wall: float, cpu: float, first: float, last: float) -> None:
        self.count, self.wall, self.cpu, self.first, self.last = count, wall, cpu, first, last


def finish(port: int, count: int, start: float, wall: float, cpu: float, what: str) -> Run:
    stats = sink_stats(port)
    if stats["count"] < count:  # more when a request timed out after it arrived and was resent
        raise SystemExit(f"{what}: the sink received {stats['count']} of {count} messages")
    return Run(count, wall, cpu, stats["first"] - start, stats["last"] - start)


def crypto_floor(count: int, keys: list[tuple[str, str]]) -> float:
    """CPU seconds per message of ``http_ece.encrypt`` with a fresh ephemeral key, one core."""
    import http_ece

    data = json.dumps(PAYLOAD).encode()
    decoded = [(base64.urlsafe_b64decode(p + "=="), base64.urlsafe_b64decode(a + "==")) for p, a in keys]
    start = time.process_time()
    for i in range(count):
        receiver, secret = decoded[i % len(decoded)]
        http_ece.encrypt(
            data,
            salt=os.urandom(16),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=receiver,
            auth_secret=secret,
            version="aes128gcm",
        )
    return (time.process_time() - start) / count


class FloorPool:
    """The crypto floor in wall-clock time, measured in the same rounds as the contenders: ``processes``
    worker processes (forked once) each encrypt ``count / processes`` messages, from the moment the work
    is handed out until the last is done. On a machine whose cores are busy with other work this rate
    falls like the contenders' do, so ``contender msg/s / floor msg/s`` compares like with like (the
    CPU-time floor would be what idle cores give)."""

    def __init__(self, processes: int, keys: list[tuple[str, str]]) -> None:
        self.processes = processes
        self._keys = keys
        self._pool = multiprocessing.get_context("fork").Pool(processes)
        self._pool.map(_floor_chunk, [(2, keys)] * processes)  # warm: imports, first keys

    def run(self, count: int) -> float:
        """Messages per second of wall-clock time for ``count`` messages."""
        share = max(1, count // self.processes)
        start = time.monotonic()
        self._pool.map(_floor_chunk, [(share, self._keys)] * self.processes)
        return share * self.processes / (time.monotonic() - start)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


def _floor_chunk(job: tuple[int, list[tuple[str, str]]]) -> float:
    count, keys = job
    return crypto_floor(count, keys)


def naive(port: int, count: int, keys: list[tuple[str, str]], pem_path: str) -> Run:
    """pywebpush ``webpush()`` in a loop."""
    from pywebpush import webpush

    data = json.dumps(PAYLOAD)
    start, cpu = time.monotonic(), time.process_time()
    for target in targets(port, count, keys):
        webpush(
            {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
            data=data,
            vapid_private_key=pem_path,
            vapid_claims={"sub": SUBJECT},
            ttl=3600,
            timeout=10,
        )
    return finish(port, count, start, time.monotonic() - start, time.process_time() - cpu, "naive")


async def pywebpush_async(
    port: int, count: int, keys: list[tuple[str, str]], pem_path: str, concurrency: int
) -> Run:
    """pywebpush ``webpush_async`` on one shared aiohttp session, ``concurrency`` requests in flight."""
    import aiohttp
    from pywebpush import webpush_async

    data = json.dumps(PAYLOAD)
    slots = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, target: WebPushTarget) -> int:
        async with slots:
            try:
                response = await webpush_async(
                    {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
                    data=data,
                    vapid_private_key=pem_path,
                    vapid_claims={"sub": SUBJECT},
                    ttl=3600,
                    timeout=10,
                    aiohttp_session=session,
                )
            except (aiohttp.ClientError, TimeoutError):
                return 0
            return response.status if isinstance(response, aiohttp.ClientResponse) else 0

    subs = targets(port, count, keys)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await one(session, subs[0])  # warm the connection pool
        sink_stats(port)
        start, cpu = time.monotonic(), time.process_time()
        pending = subs
        for _ in range(RESENDS):  # the same resends as the sender gets
            statuses = await asyncio.gather(*(one(session, t) for t in pending))
            pending = [t for t, status in zip(pending, statuses, strict=True) if status != 201]
            if not pending:
                break
        wall, cpu = time.monotonic() - start, time.process_time() - cpu
    if pending:
        raise SystemExit(f"webpush_async: {len(pending)} of {count} not accepted after {RESENDS} tries")
    return finish(port, count, start, wall, cpu, "webpush_async")


async def sender(port: int, count: int, keys: list[tuple[str, str]], pem: str, concurrency: int) -> Run:
    """Our sender alone, all messages gathered at once."""
    ours = WebPushSender(VapidSigner(pem, SUBJECT), max_concurrency=concurrency, allow_private_endpoints=True)
    message = PushMessage(delivery_id="d", content=CONTENT, ttl=3600)
    subs = targets(port, count, keys)
    try:
        await ours.send(subs[0], message)  # warm the connection pool and the VAPID cache
        sink_stats(port)
        start, cpu = time.monotonic(), time.process_time()
        pending = subs
        for _ in range(RESENDS):  # what the dispatcher does with a RETRY (a timeout on a busy machine)
            results = await asyncio.gather(*(ours.send(t, message) for t in pending))
            pending = [t for t, r in zip(pending, results, strict=True) if r.status != 201]
            if not pending:
                break
        wall, cpu = time.monotonic() - start, time.process_time() - cpu
    finally:
        await ours.aclose()
    if pending:
        raise SystemExit(f"sender: {len(pending)} of {count} not accepted after {RESENDS} tries")
    return finish(port, count, start, wall, cpu, "sender")


def register_devices(hub_dir: Path, port: int, count: int, keys: list[tuple[str, str]]) -> None:
    """One Web Push device per subscription, written into the hub's store (the device API would take
    minutes for 10,000 registrations and is not what this measures)."""
    from pushlog._levels import Level
    from pushlog.hub.store import create_engine
    from pushlog.hub.store import devices as device_store
    from pushlog.hub.store.device_tokens import open_vault

    engine = create_engine(f"sqlite:///{hub_dir / 'pushlog.db'}")
    vault = open_vault(hub_dir)  # the data dir's key, as the hub reads it (Web Push keys are sealed)
    now = _dt.datetime.now(_dt.UTC)
    try:
        with engine.begin() as conn:
            for i, t in enumerate(targets(port, count, keys)):
                registration = device_store.WebPushRegistration(
                    name=f"bench {i}",
                    endpoint=t.endpoint,
                    p256dh=t.p256dh,
                    auth=t.auth,
                    min_level=Level.WARNING,
                    channels=None,
                )
                device_store.register_webpush(conn, registration, vault=vault, now=now)
    finally:
        engine.dispose()


def publisher(hub: Hub) -> httpx.Client:
    """A client for ``POST /v1/events`` to ``hub``, made before any timing starts: the first push is
    measured from the request, not from building a client (an SSL context) and connecting."""
    return httpx.Client(
        base_url=hub.url,
        headers={"Authorization": f"Bearer {hub.credentials['publish']}"},
        timeout=120,  # generous: before streamed fan-outs the 202 waited for a row per device
    )


def hub_fanout(hub: Hub, client: httpx.Client, port: int, count: int) -> Run:
    """One ERROR posted to ``hub`` through ``client`` (:func:`publisher`); done when the sink has all
    ``count`` pushes. CPU is the hub process's and its encryption workers'."""
    event = {"id": str(uuid.uuid4()), "level": "error", "title": "Payment failed", "body": "card declined"}
    sink_stats(port)
    cpu = process_tree_cpu(hub.pid)
    start = time.monotonic()
    answer = client.post("/v1/events", json={"events": [event]})
    if answer.status_code != 202:
        raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")
    deadline = start + 300
    received, first, last = 0, None, None
    while received < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"hub: {received} of {count} pushes arrived in 300 s")
        time.sleep(0.02)  # poll the sink; arrival times come from the sink's clock, not from here
        stats = sink_stats(port)
        received += stats["count"]
        first = first or stats["first"]
        last = stats["last"] or last
    if received != count or first is None or last is None:
        raise SystemExit(f"hub: the sink received {received} of {count} messages")
    return Run(count, last - start, process_tree_cpu(hub.pid) - cpu, first - start, last - start)


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 subscriptions only")
    parser.add_argument("--smoke", action="store_true", help="a few seconds: tiny sizes, one round")
    parser.add_argument("--naive-sample", type=int, default=300, help="messages the naive loop really sends")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="connections of the in-process contenders"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--sizes", type=int, nargs="*", help="subscription counts (default 1,000 and 10,000)")
    parser.add_argument(
        "--transports", choices=("all", "webpush", "native"), default="all", help="native: FCM and APNs"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if SMOKE:
        sizes, args.rounds, args.naive_sample, floor_n = [40], 1, 10, 20
    else:
        sizes, floor_n = (args.sizes or ([1_000] if args.quick else [1_000, 10_000])), 2_000
    figures: dict[str, Any] = {"sizes": {}, "cores": os.cpu_count() or 1}
    if args.transports != "native":
        webpush_fanout(args, sizes, floor_n, figures)
    if args.transports != "webpush":
        native_fanout(sizes, args.rounds, figures)
    if args.transports == "all":  # a partial run must not replace the figures of a whole one
        save_figures("fanout", figures)


def webpush_fanout(args: argparse.Namespace, sizes: list[int], floor_n: int, figures: dict[str, Any]) -> None:
    """The Web Push contenders (see the module docstring), every size, printed and added to ``figures``."""
    cores = figures["cores"]
    sink, port = start_sink()
    pem = generate_vapid_keys()
    keys = make_keys(10 if SMOKE else 200)
    print(
        f"bench_fanout: sink on 127.0.0.1:{port} (own process), {machine()}, "
        f"concurrency {args.concurrency}, best of {args.rounds} interleaved rounds"
    )
    pools = [FloorPool(n, keys) for n in sorted({1, cores})]
    try:
        per_message = crypto_floor(floor_n, keys)
        floor_rate = cores / per_message
        print(
            f"  crypto floor: http_ece.encrypt + fresh ephemeral key {per_message * 1e6:.0f} us/msg on one "
            f"core = {floor_rate:,.0f} msg/s on {cores} cores"
        )
        print(f"  naive = pywebpush webpush() loop, measured on {args.naive_sample} messages, extrapolated")
        with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "vapid.pem", "w") as pem_file:
            pem_file.write(pem)
            pem_file.flush()
            naive(port, 5, keys, pem_file.name)  # warm-up (imports, first connection)
            # The first push to an audience of one, in the same rounds: what "whatever the audience"
            # is measured against on a machine whose load sets the absolute figure.
            one_dir = Path(tmp) / "hub-1"
            with running_hub(one_dir, "--allow-private-endpoints") as one, publisher(one) as to_one:
                register_devices(one_dir, port, 1, keys)
                hub_fanout(one, to_one, port, 1)  # warm-up
                for size in sizes:
                    reference = webpush_size(
                        args, size, Path(tmp), port, keys, pem, pem_file.name, pools, floor_n, one, to_one
                    )
                    report(size, *reference, floor_rate, per_message, figures)
    finally:
        for pool in pools:
            pool.close()
        sink.terminate()
        sink.join(5)


def webpush_size(
    args: argparse.Namespace,
    size: int,
    tmp: Path,
    port: int,
    keys: list[tuple[str, str]],
    pem: str,
    pem_path: str,
    pools: list[FloorPool],
    floor_n: int,
    one: Hub,
    to_one: httpx.Client,
) -> tuple[dict[str, Run], dict[int, float], float]:
    """One size's interleaved rounds: the best run of each contender, the wall-clock crypto floors by
    number of processes, and the smallest first push (ms) of the hub ``one`` with a single device."""
    hub_dir = tmp / f"hub-{size}"
    with running_hub(hub_dir, "--allow-private-endpoints") as hub, publisher(hub) as to_hub:
        register_devices(hub_dir, port, size, keys)
        hub_fanout(hub, to_hub, port, size)  # warm-up: VAPID, connections, caches
        best: dict[str, Run] = {}
        contenders: dict[str, Callable[[], Run]] = {
            "hub (whole path)": lambda: hub_fanout(hub, to_hub, port, size),
            "sender": lambda: asyncio.run(sender(port, size, keys, pem, args.concurrency)),
            "pywebpush webpush_async": lambda: asyncio.run(
                pywebpush_async(port, size, keys, pem_path, args.concurrency)
            ),
            "naive": lambda: naive(port, args.naive_sample, keys, pem_path),
        }
        floors: dict[int, float] = {}
        alone = float("inf")
        for _ in range(args.rounds):
            for pool in pools:  # the wall-clock floor, in the same round as the contenders
                rate = pool.run(min(size, floor_n))
                floors[pool.processes] = max(rate, floors.get(pool.processes, 0.0))
            for name, run in contenders.items():
                result = run()
                if name not in best or result.wall / result.count < best[name].wall / best[name].count:
                    best[name] = result
            alone = min(alone, hub_fanout(one, to_one, port, 1).first * 1e3)
    return best, floors, alone


def native_fanout(sizes: list[int], rounds: int, figures: dict[str, Any]) -> None:
    """FCM and APNs (benchmarks/_fanout_native.py): one rich message to each size's tokens over one
    multiplexed HTTP/2 connection and with one request per connection, interleaved round by round."""
    print(
        f"\nbench_fanout native: FCM and APNs senders, {IN_FLIGHT} in flight, HTTP/2 sink (hypercorn, TLS) "
        f"in its own process, {machine()}, best of {rounds} interleaved rounds"
    )
    native: dict[str, Any] = figures.setdefault("native", {})
    with tempfile.TemporaryDirectory() as tmp:
        sink = start_native_sink(Path(tmp))
        try:
            for transport in ("fcm", "apns"):
                for size in sizes:
                    best: dict[str, NativeRun] = {}
                    for _ in range(rounds):
                        for label, pooled in NATIVE_CONTENDERS:
                            result = run_native(transport, sink, size, pooled=pooled)
                            if label not in best or result.rate > best[label].rate:
                                best[label] = result
                    native[f"{transport} {size}"] = native_report(transport, size, best)
        finally:
            sink.stop()


def native_report(transport: str, size: int, best: dict[str, NativeRun]) -> dict[str, Any]:
    name = {"fcm": "FCM", "apns": "APNs"}[transport]
    print(f"\n  {name} {size:,} tokens                 msg/s    total s   CPU us/msg  connections")
    for label, run in best.items():
        print(f"    {label:<30} {run.rate:8,.0f} {run.wall:9.2f} {run.cpu_us:12.0f} {run.connections:12,}")
    multiplexed, single = best["multiplexed HTTP/2"], best["one request per connection"]
    print(
        ratio_line(
            f"{size:>6} {name} msg/s multiplexed / one request per connection", multiplexed.rate / single.rate
        )
    )
    print(
        ratio_line(
            f"{size:>6} {name} CPU per message one request per connection / multiplexed",
            single.cpu_us / multiplexed.cpu_us,
        )
    )
    return {
        label: {"rate": r.rate, "cpu_us": r.cpu_us, "connections": r.connections} for label, r in best.items()
    }


def report(
    size: int,
    best: dict[str, Run],
    floors: dict[int, float],
    alone: float,
    floor_rate: float,
    per_message: float,
    figures: dict[str, Any],
) -> None:
    """Print one size's table and ratios; ``floor_rate`` is the CPU-time floor on every core,
    ``floors`` the wall-clock floor measured in the same rounds, by number of processes, ``alone``
    the first push (ms) to an audience of one in the same rounds."""
    cores = figures["cores"]
    print(f"\n  {size:,} subscriptions        msg/s    total s  first push ms  last push ms   CPU us/msg")
    rows: dict[str, dict[str, float]] = {}
    for name, run in best.items():
        rate = run.count / run.wall
        extrapolated = name == "naive" and run.count != size
        last = size / rate if extrapolated else run.last
        rows[name] = {
            "rate": rate,
            "first_ms": run.first * 1e3,
            "last_ms": last * 1e3,
            "cpu_us": 1e6 * run.cpu / run.count,
        }
        note = " (extrapolated)" if extrapolated else ""
        print(
            f"    {name:<26} {rate:8,.0f} {size / rate:9.2f} {run.first * 1e3:14.1f} {last * 1e3:13.0f}"
            f" {1e6 * run.cpu / run.count:12.0f}{note}"
        )
    for processes, rate in sorted(floors.items()):
        label = f"crypto floor x{processes} (wall)"
        print(f"    {label:<26} {rate:8,.0f} {size / rate:9.2f}")
    rows["crypto floor"] = {"rate": floor_rate, "cpu_us": per_message * 1e6}
    rows["crypto floor (wall, same rounds)"] = {"rate": floors[max(floors)]}
    figures["sizes"][str(size)] = rows
    target = TARGET.format(cores=cores)
    hub, ours, peer = (
        rows["hub (whole path)"]["rate"],
        rows["sender"]["rate"],
        rows["pywebpush webpush_async"]["rate"],
    )
    wall_floor = floors[max(floors)]
    print(
        ratio_line(f"{size:>6} hub msg/s / {cores}-core crypto floor, same rounds", hub / wall_floor, target)
    )
    print(
        ratio_line(
            f"{size:>6} sender msg/s / {cores}-core crypto floor, same rounds", ours / wall_floor, target
        )
    )
    print(
        ratio_line(f"{size:>6} hub msg/s / {cores}-core crypto floor of idle cores (CPU)", hub / floor_rate)
    )
    if len(floors) > 1:
        print(
            ratio_line(
                f"{size:>6} crypto floor {max(floors)} processes / 1 process (wall)", wall_floor / floors[1]
            )
        )
    # CPU per message is far less disturbed by other load on the machine than wall-clock throughput
    cpu_floor = per_message * 1e6
    for name in ("hub (whole path)", "sender", "pywebpush webpush_async"):
        label = f"{size:>6} crypto floor CPU / {name} CPU per message"
        print(ratio_line(label, cpu_floor / rows[name]["cpu_us"]))
    print(ratio_line(f"{size:>6} hub msg/s / pywebpush webpush_async (shared session)", hub / peer))
    print(ratio_line(f"{size:>6} sender msg/s / pywebpush webpush_async (shared session)", ours / peer))
    print(ratio_line(f"{size:>6} hub msg/s / naive webpush() loop", hub / rows["naive"]["rate"]))
    first = rows["hub (whole path)"]["first_ms"]
    figures.setdefault("first_push_one_device_ms", {})[str(size)] = alone
    print(ratio_line(f"{size:>6} hub first push / first push to 1 device, same rounds", first / alone))
    print(
        f"  target {size:>6} hub first push {first:8.1f} ms, to 1 device {alone:.1f} ms"
        "   (target <= 20 ms whatever the audience)"
    )


if __name__ == "__main__":
    main()
