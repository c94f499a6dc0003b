"""bench_fanout's FCM and APNs half: one event's message to N tokens through our senders, over one
multiplexed HTTP/2 connection against one request per connection, in the same run.

The sink is hypercorn (HTTP/2 over TLS with a throwaway certificate, ALPN h2 only) in its own process,
answering what FCM (``messages:send`` and the OAuth ``token_uri``) and APNs (``/3/device/<token>``)
answer on success; it counts requests and the TLS connections they came over. It verifies nothing:
the protocol-faithful stand-ins are in tests/support (fcm_service.py, apns_service.py).

Both contenders run the real ``FcmSender`` / ``ApnsSender`` (building, fitting and serialising each
message, then httpx over HTTP/2) with ``IN_FLIGHT`` sends at a time, as the dispatcher's batches are:

* ``multiplexed``: the sender's own client, one HTTP/2 connection carrying the concurrent streams;
* ``per connection``: the same sender on a client whose transport opens a connection for each request
  and closes it after the answer, so every message pays its own TCP and TLS handshake and HTTP/2
  preface (what a sender without a shared client does).

Figures: messages per second (wall), CPU per message of this process (the sink's is not counted) and
the connections the sink saw.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.tls import self_signed

from pushlog._levels import Level
from pushlog.hub.delivery import Action, PushContent, PushMessage
from pushlog.hub.delivery._base import ApnsTarget, FcmTarget, Outcome, Sender, Target
from pushlog.hub.delivery.apns import ApnsSender, ProviderToken
from pushlog.hub.delivery.fcm import FcmSender, ServiceAccount

#: (label, pooled client) of the two ways to reach the service, in the order they run each round.
CONTENDERS: tuple[tuple[str, bool], ...] = (
    ("multiplexed HTTP/2", True),
    ("one request per connection", False),
)
#: Sends in flight at once (hypercorn's default cap on concurrent streams per connection is 100).
IN_FLIGHT = 64
#: Tries per message: a RETRY (a timeout on a busy machine) is resent, as the hub's dispatcher would.
RESENDS = 3
PROJECT = "bench"
TOPIC = "com.example.bench"

#: One rich ERROR, as the dispatcher would build it for every device.
CONTENT = PushContent(
    title="Payment failed",
    body="card declined for customer 4242 · Pro plan annual · retry 3 of 3",
    level=Level.ERROR,
    image="https://cdn.example.com/graphs/payments.png",
    link="https://admin.example.com/payments/4242",
    actions=(Action(id="ack", title="Acknowledge"), Action(id="open", title="Open")),
    category="pushlog.event",
    collapse_key="bench",
    url="https://hub.example.com/#/events/bench",
    refs={"event_id": "bench"},
)


# --------------------------------------------------------------------------------------------- sink
def _sink_main(sock: socket.socket, cert: str, key: str, counts: Any) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    token_answer = json.dumps({"access_token": "bench", "expires_in": 3600, "token_type": "Bearer"}).encode()
    sent_answer = json.dumps({"name": f"projects/{PROJECT}/messages/1"}).encode()
    seen: dict[tuple[Any, ...], int] = {}  # connection (client address) -> period it was last counted in

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        peer = tuple(scope.get("client") or ())
        if path == "/token":
            body, headers = token_answer, [(b"content-type", b"application/json")]
        elif path.endswith(":send"):
            body, headers = sent_answer, [(b"content-type", b"application/json")]
        else:
            body, headers = b"", [(b"apns-id", b"bench")]
        if path != "/token":
            with counts.get_lock():
                counts[0] += 1
                if seen.get(peer) != counts[2]:
                    seen[peer] = counts[2]
                    counts[1] += 1
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = Config()
    config.certfile, config.keyfile = cert, key
    config.alpn_protocols = ["h2"]
    config.backlog = 4096
    config.keep_alive_timeout = 30
    config.loglevel = "ERROR"
    config.accesslog = None
    config.errorlog = None
    sock.setblocking(False)
    config.bind = [f"fd://{sock.fileno()}"]

    async def main() -> None:
        # A client closing its connection mid-shutdown makes hypercorn log TLS close-notify noise.
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
        await serve(app, config)  # type: ignore[arg-type]

    asyncio.run(main())


@dataclass
class Sink:
    origin: str
    ca_file: Path
    counts: Any
    process: multiprocessing.process.BaseProcess

    def take(self) -> tuple[int, int]:
        """(requests, connections that carried them) since the last call."""
        with self.counts.get_lock():
            taken = (self.counts[0], self.counts[1])
            self.counts[0] = self.counts[1] = 0
            self.counts[2] += 1
        return taken

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def start_sink(workdir: Path) -> Sink:
    cert, key = self_signed(workdir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    counts = ctx.Array("q", [0, 0, 0])  # requests, connections, period
    process = ctx.Process(target=_sink_main, args=(sock, str(cert), str(key), counts), daemon=True)
    process.start()
    sock.close()
    sink = Sink(origin=f"https://127.0.0.1:{port}", ca_file=cert, counts=counts, process=process)
    deadline = time.monotonic() + 20
    while True:  # hypercorn is up once a TLS handshake completes
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                context = ssl.create_default_context(cafile=str(cert))
                context.set_alpn_protocols(["h2"])
                with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the HTTP/2 sink did not start") from None
            time.sleep(0.05)
    return sink


# ----------------------------------------------------------------------------------------- senders
def _service_account(origin: str) -> ServiceAccount:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "bench",
        "private_key": pem,
        "client_email": f"bench@{PROJECT}.iam.gserviceaccount.com",
        "token_uri": f"{origin}/token",
    }
    return ServiceAccount.from_info(info)


class OneShotTransport(httpx.AsyncBaseTransport):
    """Every request on a connection of its own: opened (TCP + TLS + HTTP/2 preface), used once, closed."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(http2=True, verify=self._context)
        try:
            response = await transport.handle_async_request(request)
            content = await response.aread()
        finally:
            await transport.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def _client(ca_file: Path, *, pooled: bool) -> httpx.AsyncClient:
    """The sender's HTTP/2 client: pooled (one connection, many streams) or one connection per request."""
    context = ssl.create_default_context(cafile=str(ca_file))  # loaded once either way
    if pooled:
        return httpx.AsyncClient(http2=True, verify=context, timeout=30.0)
    return httpx.AsyncClient(transport=OneShotTransport(context), timeout=30.0)


def make_sender(transport: str, sink: Sink, client: httpx.AsyncClient) -> Sender:
    if transport == "fcm":
        return FcmSender(_service_account(sink.origin), base_url=sink.origin, client=client)
    key = ec.generate_private_key(ec.SECP256R1())
    return ApnsSender(ProviderToken(key, key_id="BENCHKEY01", team_id="BENCHTEAM1"), topic=TOPIC,
                      base_url=sink.origin, client=client)  # fmt: skip


def tokens(transport: str, count: int) -> list[Target]:
    if transport == "fcm":
        return [FcmTarget(token=f"fcm-token-{i:06d}") for i in range(count)]
    return [ApnsTarget(token=f"{i:064x}") for i in range(count)]


@dataclass
class NativeRun:
    count: int
    wall: float
    cpu: float
    connections: int

    @property
    def rate(self) -> float:
        return self.count / self.wall

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.count


async def _fan_out(sender: Sender, targets: list[Target]) -> int:
    """Send one message per target, IN_FLIGHT at a time, resending what comes back RETRY (as the
    dispatcher would) up to RESENDS tries; how many were accepted."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int, target: Target) -> bool:
        async with slots:
            message = PushMessage(delivery_id=f"d{i}", content=CONTENT, ttl=3600, receipt="r" * 43)
            result = await sender.send(target, message)
            return result.outcome is Outcome.SENT

    pending = list(enumerate(targets))
    for _ in range(RESENDS):
        sent = await asyncio.gather(*(one(i, t) for i, t in pending))
        pending = [item for item, ok in zip(pending, sent, strict=True) if not ok]
        if not pending:
            break
    return len(targets) - len(pending)


def run_native(transport: str, sink: Sink, count: int, *, pooled: bool) -> NativeRun:
    """One fan-out of ``count`` messages through a fresh sender (its token or JWT made before timing)."""

    async def go() -> NativeRun:
        client = _client(sink.ca_file, pooled=pooled)
        sender = make_sender(transport, sink, client)
        try:
            await _fan_out(sender, tokens(transport, 1))  # auth token, imports, first connection
            sink.take()
            start, cpu = time.monotonic(), time.process_time()
            accepted = await _fan_out(sender, tokens(transport, count))
            wall, cpu = time.monotonic() - start, time.process_time() - cpu
        finally:
            await sender.aclose()
            await client.aclose()
        requests, connections = sink.take()
        if accepted != count or requests < count:
            raise SystemExit(f"{transport}: {accepted} of {count} accepted, the sink saw {requests}")
        return NativeRun(count, wall, cpu, connections)

    return asyncio.run(go())
