"""Fan-out: one event to 1,000 and 10,000 Web Push subscriptions on a local sink.

Prints messages per second for
  * ``naive``     - pywebpush's ``webpush()`` called in a loop (what most code does: new connection,
                    VAPID re-signed for every message). Measured on a sample and extrapolated, and
                    the output says so;
  * ``sender``    - our ``WebPushSender`` (one shared aiohttp session with keep-alive connections per
                    origin, VAPID cached per origin, bounded concurrency), all messages gathered at once;
  * ``pywebpush webpush_async`` - on 1,000 only: pywebpush's own async path on one aiohttp session
                    with the same concurrency (VAPID re-signed per message), the best pywebpush alone
                    does here, to show what the sender adds beyond sharing the session;
  * ``dispatcher``- the whole path: one CRITICAL-free event ingested into a real SQLite outbox with one
                    delivery row per device, drained by ``DeliveryService.run_once()`` (claim, encrypt,
                    send, record) until empty;
and the ratio of each against the naive loop, run side by side in the same process, interleaved
round by round (the machine is shared; the best round of each contender is kept). Beside wall-clock
throughput it prints this process's CPU time per message (the sink's CPU is not counted), which
other load on the machine disturbs much less.

The sink is a minimal HTTP/1.1 server (keep-alive, answers 201) in a separate process, so it does not
share the event loop it is measuring. Usage: ``python benchmarks/bench_fanout.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as _dt
import multiprocessing
import socket
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushlog._levels import Level
from pushlog.hub.delivery import DeliveryService
from pushlog.hub.delivery._base import PushMessage, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys
from pushlog.hub.store import create_engine, migrate
from pushlog.hub.store import events as event_store
from pushlog.hub.store._tables import devices

SUBJECT = "mailto:bench@example.com"
PAYLOAD = {
    "v": 1,
    "title": "Payment failed",
    "body": "card declined for customer 4242 · Pro plan annual · retry 3 of 3",
    "level": "error",
    "url": "http://127.0.0.1/#/events/x",
}


# --------------------------------------------------------------------------------------------- sink
async def _serve(sock: socket.socket) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nLocation: /m/1\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=sock, backlog=1024)
    async with server:
        await server.serve_forever()


def _sink_main(sock: socket.socket) -> None:
    asyncio.run(_serve(sock))


def start_sink() -> tuple[multiprocessing.process.BaseProcess, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(target=_sink_main, args=(sock,), daemon=True)
    process.start()
    sock.close()
    return process, port


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
def naive(port: int, count: int, keys: list[tuple[str, str]], pem_path: str) -> tuple[float, float]:
    """pywebpush ``webpush()`` in a loop; returns (wall, CPU) seconds for ``count`` messages."""
    import json

    from pywebpush import webpush

    data = json.dumps(PAYLOAD)
    start, cpu = time.perf_counter(), time.process_time()
    for target in targets(port, count, keys):
        webpush(
            {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
            data=data,
            vapid_private_key=pem_path,
            vapid_claims={"sub": SUBJECT},
            ttl=3600,
            timeout=10,
        )
    return time.perf_counter() - start, time.process_time() - cpu


async def pywebpush_async(
    port: int, count: int, keys: list[tuple[str, str]], pem_path: str, concurrency: int
) -> tuple[float, float]:
    """pywebpush ``webpush_async`` on one shared aiohttp session, ``concurrency`` requests in flight."""
    import json

    import aiohttp
    from pywebpush import webpush_async

    data = json.dumps(PAYLOAD)
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def one(session: aiohttp.ClientSession, target: WebPushTarget) -> int:
        async with slots:
            response = await webpush_async(
                {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
                data=data,
                vapid_private_key=pem_path,
                vapid_claims={"sub": SUBJECT},
                ttl=3600,
                timeout=10,
                aiohttp_session=session,
            )
            return response.status if isinstance(response, aiohttp.ClientResponse) else 0

    subs = targets(port, count, keys)
    async with aiohttp.ClientSession(connector=connector) as session:
        await one(session, subs[0])  # warm the connection pool
        start, cpu = time.perf_counter(), time.process_time()
        statuses = await asyncio.gather(*(one(session, t) for t in subs))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    bad = [s for s in statuses if s != 201]
    if bad:
        raise SystemExit(f"webpush_async: {len(bad)} of {count} not accepted, e.g. {bad[0]}")
    return elapsed, cpu


async def ours(
    port: int, count: int, keys: list[tuple[str, str]], pem: str, concurrency: int
) -> tuple[float, float]:
    """Our sender, all messages gathered at once."""
    sender = WebPushSender(VapidSigner(pem, SUBJECT), max_concurrency=concurrency)
    message = PushMessage(
        delivery_id="d", event_id="e", payload=PAYLOAD, ttl=3600, urgency="high", collapse_key="bench"
    )
    subs = targets(port, count, keys)
    try:
        await sender.send(subs[0], message)  # warm the connection pool and the VAPID cache
        start, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(sender.send(t, message) for t in subs))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await sender.aclose()
    bad = [r for r in results if r.status != 201]
    if bad:
        raise SystemExit(f"sender: {len(bad)} of {count} not accepted, e.g. {bad[0]}")
    return elapsed, cpu


async def dispatcher(
    port: int, count: int, keys: list[tuple[str, str]], pem: str, concurrency: int
) -> tuple[float, float]:
    """Ingest one event for ``count`` devices into SQLite, then drain the outbox with run_once()."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        now = _dt.datetime.now(_dt.UTC)
        rows = [
            {
                "id": f"dev_{i}",
                "kind": "webpush",
                "endpoint": t.endpoint,
                "p256dh": t.p256dh,
                "auth": t.auth,
                "min_level": 30,
                "channels": None,
                "created_at": now,
                "updated_at": now,
                "failure_count": 0,
            }
            for i, t in enumerate(targets(port, count, keys))
        ]
        with engine.begin() as conn:
            conn.execute(devices.insert(), rows)
        sender = WebPushSender(VapidSigner(pem, SUBJECT), max_concurrency=concurrency)
        service = DeliveryService(
            engine=engine,
            senders={"webpush": sender},
            base_url="http://127.0.0.1:8765",
            receipt_secret="bench",
            clock=lambda: _dt.datetime.now(_dt.UTC),
            batch_size=500,
        )
        event = event_store.NewEvent(
            id=str(uuid.uuid4()), ts=now, level=Level.ERROR, title="Payment failed", body="x", push=True
        )
        repeat = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))
        try:
            start, cpu = time.perf_counter(), time.process_time()
            with engine.begin() as conn:
                event_store.insert_events(conn, [event], key_id=None, now=now, repeat=repeat)
            sent = 0
            while True:
                report = await service.run_once()
                sent += report.sent
                if report.claimed == 0:
                    break
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            await sender.aclose()
            engine.dispose()
        if sent != count:
            raise SystemExit(f"dispatcher: sent {sent} of {count}")
        return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 subscriptions only")
    parser.add_argument("--naive-sample", type=int, default=300, help="messages the naive loop really sends")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="sender connections (loopback needs few; the hub uses 32)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is kept")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    sink, port = start_sink()
    pem = generate_vapid_keys()
    keys = make_keys(200)
    sizes = [1_000] if args.quick else [1_000, 10_000]
    print(
        f"bench_fanout: local sink on 127.0.0.1:{port} (separate process), python {sys.version.split()[0]}, "
        f"sender concurrency {args.concurrency}, best of {args.rounds} interleaved rounds"
    )
    sample = args.naive_sample
    print(f"  naive = pywebpush webpush() loop, measured on {sample} messages per round, extrapolated")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem_file:
            pem_file.write(pem)
            pem_file.flush()
            naive(port, 20, keys, pem_file.name)  # warm-up (imports, first connection)
            for size in sizes:
                rates: dict[str, float] = {}  # best wall-clock messages per second
                costs: dict[str, float] = {}  # best CPU seconds of this process per message
                for _ in range(args.rounds):
                    runs = [
                        ("naive", sample, naive(port, sample, keys, pem_file.name)),
                        ("sender", size, asyncio.run(ours(port, size, keys, pem, args.concurrency))),
                        (
                            "dispatcher",
                            size,
                            asyncio.run(dispatcher(port, size, keys, pem, args.concurrency)),
                        ),
                    ]
                    if size <= 1_000:
                        pwa = asyncio.run(pywebpush_async(port, size, keys, pem_file.name, args.concurrency))
                        runs.append(("pywebpush webpush_async", size, pwa))
                    for name, count, (wall, cpu) in runs:
                        rates[name] = max(rates.get(name, 0.0), count / wall)
                        costs[name] = min(costs.get(name, float("inf")), cpu / count)
                base_rate, base_cost = rates["naive"], costs["naive"]
                print(f"  {size:>6} subscriptions:")
                for name, rate in rates.items():
                    note = "(extrapolated)" if name == "naive" else ""
                    print(
                        f"    {name:<36} {rate:6.0f} msg/s {size / rate:6.2f} s {note:<14} "
                        f"{rate / base_rate:4.1f}x naive | CPU {costs[name] * 1e6:5.0f} us/msg "
                        f"{base_cost / costs[name]:4.1f}x less than naive"
                    )
    finally:
        sink.terminate()
        sink.join(5)


if __name__ == "__main__":
    main()
