"""WebPushSender against real HTTP servers on 127.0.0.1.

The RFC 8030 stand-in checks headers, VAPID and the real encrypted bytes for every status code; small
Starlette apps and raw sockets show what the HTTP layer (one shared aiohttp session) must do: reuse
keep-alive connections, bound concurrency, turn timeouts, refused and dropped connections into RETRY,
never follow redirects, and verify TLS certificates.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from tests.support.push_service import PushService, ServerThread, Subscriber
from tests.support.tls import self_signed

from pushlog._levels import Level
from pushlog.hub.delivery import PushContent
from pushlog.hub.delivery._base import Outcome, Prepared, PushMessage, SendResult, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys, public_key_b64
from pushlog.hub.delivery.webpush._pool import CHUNK
from pushlog.hub.delivery.webpush._sender import AHEAD_PER_SLOT


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as svc:
        yield svc


@pytest.fixture
def pem() -> str:
    return generate_vapid_keys()


@pytest.fixture
async def sender(pem: str) -> AsyncIterator[WebPushSender]:
    s = WebPushSender(
        VapidSigner(pem, "mailto:ops@example.com"), max_concurrency=4, allow_private_endpoints=True
    )
    yield s
    await s.aclose()


def target(sub: Subscriber) -> WebPushTarget:
    return WebPushTarget(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)


def message(
    *, ttl: int = 3600, level: Level = Level.ERROR, collapse_key: str | None = "9f2c" * 32, **fields: Any
) -> PushMessage:
    fields = {"title": "Payment failed", "body": "card declined", **fields}
    content = PushContent(level=level, collapse_key=collapse_key, **fields)
    return PushMessage(delivery_id="d1", content=content, ttl=ttl)


async def test_sent_push_carries_headers_and_decrypts_to_the_payload(
    service: PushService, sender: WebPushSender, pem: str
) -> None:
    phone = service.subscribe()
    result = await sender.send(target(phone), message())
    assert result.outcome is Outcome.SENT
    assert result.status == 201
    [push] = service.received
    assert push.payload == message().payload  # decrypts to exactly the pushlog JSON
    assert push.payload["title"] == "Payment failed" and push.payload["body"] == "card declined"
    assert push.headers["ttl"] == "3600"
    assert push.headers["urgency"] == "high"
    assert push.headers["content-encoding"] == "aes128gcm"
    topic = push.headers["topic"]
    assert len(topic) <= 32
    assert topic.replace("-", "").replace("_", "").isalnum()
    assert push.vapid is not None
    assert push.vapid["public_key"] == public_key_b64(pem)
    assert push.vapid["claims"]["aud"] == service.origin


async def test_ttl_zero_is_sent_explicitly_and_no_topic_without_a_collapse_key(
    service: PushService, sender: WebPushSender
) -> None:
    phone = service.subscribe()
    result = await sender.send(target(phone), message(ttl=0, level=Level.WARNING, collapse_key=None))
    assert result.outcome is Outcome.SENT
    [push] = service.received
    assert push.headers["ttl"] == "0"
    assert push.headers["urgency"] == "normal"
    assert "topic" not in push.headers


async def test_same_collapse_key_gives_same_topic(service: PushService, sender: WebPushSender) -> None:
    phone = service.subscribe()
    await sender.send(target(phone), message(collapse_key="payments:declined"))
    await sender.send(target(phone), message(collapse_key="payments:declined"))
    await sender.send(target(phone), message(collapse_key="short_ok-Key"))
    topics = [p.headers["topic"] for p in service.wait_for(3)]
    assert topics[0] == topics[1] != topics[2]
    assert topics[2] == "short_ok-Key"


async def test_oversized_payload_is_truncated_and_still_accepted(
    service: PushService, sender: WebPushSender
) -> None:
    phone = service.subscribe()
    big = message(title="Big", body="x" * 8000, url="http://hub/#/events/e1")
    result = await sender.send(target(phone), big)
    assert result.outcome is Outcome.SENT
    [push] = service.received
    assert len(push.body) <= 4096
    assert push.payload["title"] == "Big"
    assert push.payload["url"] == "http://hub/#/events/e1"
    assert push.payload["truncated"] is True


@pytest.mark.parametrize(
    ("status", "outcome", "retry_after", "expected_after"),
    [
        (404, Outcome.GONE, None, None),
        (410, Outcome.GONE, None, None),
        (413, Outcome.FAILED, None, None),
        (429, Outcome.RETRY, "17", 17.0),
        (500, Outcome.RETRY, None, None),
        (503, Outcome.RETRY, "5", 5.0),
        (400, Outcome.FAILED, None, None),
        (401, Outcome.FAILED, None, None),
        (403, Outcome.FAILED, None, None),
    ],
)
async def test_status_codes_from_the_service(
    service: PushService,
    sender: WebPushSender,
    status: int,
    outcome: Outcome,
    retry_after: str | None,
    expected_after: float | None,
) -> None:
    phone = service.subscribe()
    service.respond_with(status, retry_after=retry_after, body="reason from service")
    result = await sender.send(target(phone), message())
    assert result.outcome is outcome
    assert result.status == status
    assert result.retry_after == expected_after
    if outcome is not Outcome.RETRY:
        assert "reason from service" in result.detail


async def test_expired_subscription_is_gone(service: PushService, sender: WebPushSender) -> None:
    phone = service.subscribe()
    service.expire(phone)
    result = await sender.send(target(phone), message())
    assert (result.outcome, result.status) == (Outcome.GONE, 410)


async def test_a_real_vapid_rejection_is_a_clear_failure(service: PushService) -> None:
    phone = service.subscribe()
    # A token for another audience: the stand-in's independent verifier refuses it.
    signer = VapidSigner(generate_vapid_keys(), "mailto:ops@example.com")
    wrong = signer.authorization("https://elsewhere.example/")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            phone.endpoint, content=b"x", headers={"TTL": "60", "Authorization": wrong}
        )
    assert response.status_code == 403
    assert "aud" in response.text


async def test_bad_subscription_keys_fail_without_a_request(
    service: PushService, sender: WebPushSender
) -> None:
    phone = service.subscribe()
    bad = WebPushTarget(endpoint=phone.endpoint, p256dh="BAAA", auth=phone.auth)
    result = await sender.send(bad, message())
    assert result.outcome is Outcome.FAILED
    assert "subscription keys" in result.detail
    assert service.received == []


async def test_a_prepared_push_leaves_only_when_posted_and_a_discarded_one_never(
    service: PushService, pem: str
) -> None:
    """``prepare`` builds and encrypts without a request; ``post`` sends it. A prepared body holds one
    of the places ahead of the request slots (as many as slots without an encryption pool) until it is
    posted or discarded: the next prepare waits for it, and a discarded one is never sent."""
    sender = WebPushSender(VapidSigner(pem, "mailto:a@b.c"), max_concurrency=1, allow_private_endpoints=True)
    try:
        first, second = service.subscribe(), service.subscribe()
        kept = await sender.prepare(target(first), message(title="kept"))
        assert isinstance(kept, Prepared)
        waiting = asyncio.ensure_future(sender.prepare(target(second), message(title="dropped")))
        await asyncio.sleep(0)  # let it run up to its wait for a place
        assert not waiting.done()  # the one place ahead is held by the first
        assert (await kept.post()).outcome is Outcome.SENT
        dropped = await waiting
        assert isinstance(dropped, Prepared)
        dropped.discard()
        dropped.discard()  # idempotent: releases its place once
        marker = await sender.send(target(first), message(title="marker"))
        assert marker.outcome is Outcome.SENT
    finally:
        await sender.aclose()
    assert [p.payload["title"] for p in service.wait_for(2)] == ["kept", "marker"]


# ------------------------------------------------------------------------------- the HTTP connection
async def test_sequential_sends_reuse_one_keep_alive_connection(
    service: PushService, sender: WebPushSender
) -> None:
    phone = service.subscribe()
    for _ in range(5):
        assert (await sender.send(target(phone), message())).outcome is Outcome.SENT
    assert len({p.client_port for p in service.wait_for(5)}) == 1  # one TCP connection at the service


async def test_connections_are_reused_and_concurrency_is_bounded(service: PushService, pem: str) -> None:
    sender = WebPushSender(VapidSigner(pem, "mailto:a@b.c"), max_concurrency=3, allow_private_endpoints=True)
    try:
        phones = [service.subscribe() for _ in range(30)]
        results = await asyncio.gather(*(sender.send(target(p), message()) for p in phones))
    finally:
        await sender.aclose()
    assert all(r.outcome is Outcome.SENT for r in results)
    received = service.wait_for(30)
    assert len({p.client_port for p in received}) <= 3  # at most 3 connections, each reused
    assert sender.signer.tokens_signed == 1  # one VAPID token for the one origin


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """Notes, at every encryption job handed to it, how many messages it holds and how many pushes the
    service had received by then."""

    def __init__(self, service: PushService) -> None:
        super().__init__(max_workers=2)
        self.service = service
        self.jobs: list[tuple[int, int]] = []  # (messages in the job, pushes received at submit)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.jobs.append((len(args[0]), len(self.service.received)))
        return super().submit(fn, *args, **kwargs)


async def test_a_burst_is_encrypted_in_the_executor_in_one_job_bounded_ahead_of_the_requests(
    service: PushService, pem: str
) -> None:
    """With an executor, the sends that start in one loop turn are encrypted in one job (the hand-off
    is paid per job), ahead of the ``max_concurrency`` request slots but at most ``AHEAD_PER_SLOT``
    times that many (16 with 2 slots, one ``CHUNK``): the first 16 of 30 before any push. The rest,
    let in one by one as requests finish, are turns of one message, encrypted on the loop (cheaper
    than a hand-off)."""
    executor = CountingExecutor(service)
    sender = WebPushSender(
        VapidSigner(pem, "mailto:a@b.c"), max_concurrency=2, allow_private_endpoints=True, executor=executor
    )
    try:
        phones = [service.subscribe() for _ in range(30)]
        results = await asyncio.gather(*(sender.send(target(p), message()) for p in phones))
    finally:
        await sender.aclose()
    assert all(r.outcome is Outcome.SENT for r in results)
    assert AHEAD_PER_SLOT * 2 == CHUNK < len(phones)
    assert executor.jobs == [(16, 0)]
    assert all(push.payload == message().payload for push in service.wait_for(30))
    executor.shutdown()  # injected: the sender left it running


async def test_an_owned_process_pool_encrypts_and_one_bad_key_fails_alone(
    service: PushService, pem: str
) -> None:
    """``encrypt_workers`` gives the sender its own worker processes: the service decrypts every push,
    a subscription key that is no point on the curve fails only its own message, and after
    :meth:`aclose` (which shuts the pool down) a send answers RETRY."""
    sender = WebPushSender(
        VapidSigner(pem, "mailto:a@b.c"), max_concurrency=4, allow_private_endpoints=True, encrypt_workers=2
    )
    phones = [service.subscribe() for _ in range(20)]
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    bad = WebPushTarget(endpoint=phones[0].endpoint, p256dh=off_curve, auth=phones[0].auth)
    try:
        results = await asyncio.gather(
            *(sender.send(target(p), message()) for p in phones), sender.send(bad, message())
        )
    finally:
        await sender.aclose()
    assert [r.outcome for r in results] == [Outcome.SENT] * 20 + [Outcome.FAILED]
    assert "subscription keys" in results[-1].detail
    received = service.wait_for(20)
    assert all(push.payload == message().payload for push in received)
    closed = await sender.send(target(phones[1]), message())
    assert (closed.outcome, closed.detail) == (Outcome.RETRY, "transport error: the sender is closed")


async def test_connection_refused_is_retried(sender: WebPushSender) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    phone = Subscriber(endpoint=f"http://127.0.0.1:{port}/push/x")
    result = await sender.send(target(phone), message())
    assert result.outcome is Outcome.RETRY
    assert "transport error" in result.detail


async def test_timeout_is_retried(pem: str) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        timeout = aiohttp.ClientTimeout(total=5, sock_connect=1, sock_read=0.2)
        sender = WebPushSender(
            VapidSigner(pem, "mailto:a@b.c"), timeout=timeout, allow_private_endpoints=True
        )
        try:
            phone = Subscriber(endpoint=f"http://127.0.0.1:{port}/push/x")
            result = await sender.send(target(phone), message())
        finally:
            await sender.aclose()
    assert result.outcome is Outcome.RETRY
    assert "timed out" in result.detail


class Recorder:
    """A small push-service-like app: ``/push/*`` answers 201, plus slow, chunked and redirecting routes."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int | None, bytes, dict[str, str]]] = []
        self.slow_entered = threading.Event()

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            body = await request.body()
            port = request.client.port if request.client else None
            self.requests.append((request.url.path, port, body, dict(request.headers)))
            return Response(b"", status_code=201)

        async def chunked(request: Request) -> Response:
            await request.body()
            self.requests.append((request.url.path, None, b"", dict(request.headers)))

            async def parts() -> AsyncIterator[bytes]:
                for piece in (b"one,", b"two,", b"three"):
                    yield piece

            return StreamingResponse(parts(), status_code=429, headers={"Retry-After": "3"})

        async def moved(request: Request) -> Response:
            await request.body()
            self.requests.append((request.url.path, None, b"", dict(request.headers)))
            return Response(b"", status_code=307, headers={"Location": "/push/elsewhere"})

        async def slow(request: Request) -> Response:
            self.slow_entered.set()
            await asyncio.sleep(2.0)  # a push service that answers too late is what this route simulates
            return Response(b"late", status_code=201)

        return Starlette(
            routes=[
                Route("/push/{x}", push, methods=["POST"]),
                Route("/chunked", chunked, methods=["POST"]),
                Route("/moved", moved, methods=["POST"]),
                Route("/slow", slow, methods=["POST"]),
            ]
        )


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()
    server = ServerThread(rec.app())
    server.start()
    yield rec, f"http://127.0.0.1:{server.port}"
    server.stop()


async def test_read_timeout_is_retried_and_the_next_send_goes_through(
    recorder: tuple[Recorder, str], pem: str
) -> None:
    rec, origin = recorder
    timeout = aiohttp.ClientTimeout(total=5, sock_connect=1, sock_read=0.2)
    sender = WebPushSender(
        VapidSigner(pem, "mailto:a@b.c"), timeout=timeout, max_concurrency=1, allow_private_endpoints=True
    )
    try:
        late = await sender.send(target(Subscriber(endpoint=f"{origin}/slow")), message())
        ok = await sender.send(target(Subscriber(endpoint=f"{origin}/push/1")), message())
    finally:
        await sender.aclose()
    assert rec.slow_entered.is_set()
    assert late.outcome is Outcome.RETRY
    assert "timed out" in late.detail
    assert (ok.outcome, ok.status) == (Outcome.SENT, 201)  # the timed-out connection was not reused


async def test_chunked_answer_with_retry_after(recorder: tuple[Recorder, str], sender: WebPushSender) -> None:
    _, origin = recorder
    result = await sender.send(target(Subscriber(endpoint=f"{origin}/chunked")), message())
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, 429, 3.0)
    assert "one,two,three" in result.detail


async def test_redirects_are_not_followed(recorder: tuple[Recorder, str], sender: WebPushSender) -> None:
    rec, origin = recorder
    result = await sender.send(target(Subscriber(endpoint=f"{origin}/moved")), message())
    assert (result.outcome, result.status) == (Outcome.FAILED, 307)
    assert [path for path, *_ in rec.requests] == ["/moved"]  # /push/elsewhere was never asked


def _server_that_closes_after_each_answer() -> tuple[
    socket.socket, threading.Thread, list[bytes], threading.Event
]:
    """A raw HTTP/1.1 server: two connections, one full request and one answer on each, then it hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    bodies: list[bytes] = []
    first_closed = threading.Event()

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                bodies.append(body)
                # Keep-alive is implied (HTTP/1.1, no Connection: close), then the server hangs up anyway.
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            first_closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, bodies, first_closed


async def test_a_connection_the_server_closed_is_replaced(sender: WebPushSender) -> None:
    listener, thread, bodies, first_closed = _server_that_closes_after_each_answer()
    port = listener.getsockname()[1]
    phone = Subscriber(endpoint=f"http://127.0.0.1:{port}/push/1")
    try:
        first = await sender.send(target(phone), message())
        assert await asyncio.to_thread(first_closed.wait, 5)  # the kept-alive connection is now closed
        second = await sender.send(target(phone), message())
        await asyncio.to_thread(thread.join, 5)
    finally:
        listener.close()
    assert (first.outcome, second.outcome) == (Outcome.SENT, Outcome.SENT)
    assert len(bodies) == 2  # two connections, each carried one full push
    assert [json.loads(phone.decrypt(b))["title"] for b in bodies] == ["Payment failed"] * 2


async def test_https_certificates_are_verified(tmp_path: Path, pem: str) -> None:
    cert_path, key_path = self_signed(tmp_path)
    rec = Recorder()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        rec.app(), log_level="warning", lifespan="off", ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    signer = VapidSigner(pem, "mailto:a@b.c")
    phone = Subscriber(endpoint=f"https://localhost:{port}/push/1")
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not server.started:
            assert asyncio.get_running_loop().time() < deadline, "TLS server did not start"
            await asyncio.sleep(0.01)
        # With the default CA bundle the self-signed certificate is refused: nothing is sent.
        default = WebPushSender(signer, allow_private_endpoints=True)
        try:
            refused = await default.send(target(phone), message())
        finally:
            await default.aclose()
        assert refused.outcome is Outcome.RETRY
        assert "certificate" in refused.detail.lower()
        assert rec.requests == []
        # Trusting that certificate as a CA, the same push goes through, encrypted end to end.
        trusted = ssl.create_default_context(cafile=str(cert_path))
        trusting = WebPushSender(signer, ssl_context=trusted, allow_private_endpoints=True)
        try:
            accepted = await trusting.send(target(phone), message())
        finally:
            await trusting.aclose()
        assert (accepted.outcome, accepted.status) == (Outcome.SENT, 201)
        [(_, _, body, headers)] = rec.requests
        assert json.loads(phone.decrypt(body))["title"] == "Payment failed"
        assert headers["ttl"] == "3600"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# ---------------------------------------------------------------------------------- session lifecycle
async def test_an_injected_session_is_used_and_left_open(service: PushService, pem: str) -> None:
    phone = service.subscribe()
    started: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        started.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        sender = WebPushSender(
            VapidSigner(pem, "mailto:ops@example.com"), session=session, allow_private_endpoints=True
        )
        result = await sender.send(target(phone), message())
        await sender.aclose()
        assert not session.closed  # an injected session belongs to the caller
    assert result.outcome is Outcome.SENT
    assert started == [phone.endpoint]
    [push] = service.received
    assert push.payload["title"] == "Payment failed"
    assert (push.headers["ttl"], push.headers["urgency"]) == ("3600", "high")


def test_the_session_is_made_lazily_in_the_running_loop(service: PushService, pem: str) -> None:
    sender = WebPushSender(
        VapidSigner(pem, "mailto:ops@example.com"), allow_private_endpoints=True
    )  # no event loop here
    phone = service.subscribe()

    async def use() -> tuple[SendResult, SendResult]:
        sent = await sender.send(target(phone), message())
        await sender.aclose()
        after = await sender.send(target(phone), message())
        return sent, after

    sent, after = asyncio.run(use())
    assert sent.outcome is Outcome.SENT
    assert after.outcome is Outcome.RETRY  # closed: reported, never raised
    assert "closed" in after.detail
    assert len(service.received) == 1
