"""LeanTransport: keep-alive per origin, chunked answers, TLS, timeouts and errors as httpx's own."""

from __future__ import annotations

import asyncio
import datetime as _dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from tests.support.push_service import ServerThread

from pushlog.hub.delivery.webpush._transport import LeanTransport


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[int | None, bytes, dict[str, str]]] = []
        self.slow_entered = threading.Event()

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            body = await request.body()
            port = request.client.port if request.client else None
            self.requests.append((port, body, dict(request.headers)))
            return Response(b"got " + body, status_code=201, headers={"X-Len": str(len(body))})

        async def chunked(request: Request) -> Response:
            async def parts() -> AsyncIterator[bytes]:
                for piece in (b"one,", b"two,", b"three"):
                    yield piece

            return StreamingResponse(parts(), status_code=429, headers={"Retry-After": "3"})

        async def slow(request: Request) -> Response:
            self.slow_entered.set()
            await asyncio.sleep(1.0)  # a slow push service is what this route simulates
            return Response(b"late")

        return Starlette(
            routes=[
                Route("/push/{x}", echo, methods=["POST"]),
                Route("/chunked", chunked, methods=["POST"]),
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


async def test_posts_reuse_connections_per_origin(recorder: tuple[Recorder, str]) -> None:
    rec, origin = recorder
    transport = LeanTransport(max_per_origin=2)
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{origin}/push/{i}", content=f"m{i}".encode(), headers={"TTL": "1"})
                for i in range(20)
            )
        )
    assert [r.status_code for r in responses] == [201] * 20
    assert sorted(r.text for r in responses) == sorted(f"got m{i}" for i in range(20))
    assert responses[0].headers["x-len"] == "2"
    assert transport.connections_opened <= 2
    assert len({port for port, _, _ in rec.requests}) <= 2
    assert all(h["ttl"] == "1" and h["content-length"] == str(len(b)) for _, b, h in rec.requests)


async def test_chunked_answer_and_headers(recorder: tuple[Recorder, str]) -> None:
    _, origin = recorder
    async with httpx.AsyncClient(transport=LeanTransport(), timeout=5) as client:
        response = await client.post(f"{origin}/chunked", content=b"x")
        again = await client.post(f"{origin}/push/1", content=b"y")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.text == "one,two,three"
    assert again.status_code == 201


async def test_read_timeout_is_httpx_read_timeout(recorder: tuple[Recorder, str]) -> None:
    _, origin = recorder
    async with httpx.AsyncClient(transport=LeanTransport(), timeout=httpx.Timeout(5, read=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{origin}/slow", content=b"x")
        ok = await client.post(f"{origin}/push/1", content=b"y")  # the broken connection was dropped
    assert ok.status_code == 201


async def test_connection_refused_is_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with httpx.AsyncClient(transport=LeanTransport(), timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/push/1", content=b"x")


async def test_pool_timeout_when_all_connections_are_busy(recorder: tuple[Recorder, str]) -> None:
    rec, origin = recorder
    timeout = httpx.Timeout(5, read=3, pool=0.2)
    async with httpx.AsyncClient(transport=LeanTransport(max_per_origin=1), timeout=timeout) as client:
        slow = asyncio.create_task(client.post(f"{origin}/slow", content=b"x"))
        assert await asyncio.to_thread(rec.slow_entered.wait, 5)  # it holds the only connection slot
        with pytest.raises(httpx.PoolTimeout):
            await client.post(f"{origin}/push/1", content=b"y")
        slow.cancel()


def _server_that_closes_after_each_answer() -> tuple[socket.socket, threading.Thread, list[int]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    served: list[int] = []

    def serve() -> None:
        for _ in range(2):  # two connections, one answer each, then the thread ends
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                served.append(1)
                # Keep-alive is implied (HTTP/1.1, no Connection: close), then the server hangs up anyway.
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, served


async def test_a_connection_the_server_closed_is_replaced_transparently() -> None:
    listener, thread, served = _server_that_closes_after_each_answer()
    port = listener.getsockname()[1]
    try:
        transport = LeanTransport()
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            first = await client.post(f"http://127.0.0.1:{port}/push/1", content=b"")
            second = await client.post(f"http://127.0.0.1:{port}/push/2", content=b"")
        thread.join(5)
    finally:
        listener.close()
    assert (first.status_code, second.status_code) == (201, 201)
    assert len(served) == 2
    assert transport.connections_opened == 2


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = _dt.datetime.now(_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_https_verifies_the_certificate(tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
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
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not server.started:
            assert asyncio.get_running_loop().time() < deadline, "TLS server did not start"
            await asyncio.sleep(0.01)
        trusted = ssl.create_default_context(cafile=str(cert_path))
        async with httpx.AsyncClient(transport=LeanTransport(ssl_context=trusted), timeout=5) as client:
            response = await client.post(f"https://localhost:{port}/push/1", content=b"secret")
        assert (response.status_code, response.text) == (201, "got secret")
        # With the default CA bundle the self-signed certificate is refused.
        async with httpx.AsyncClient(transport=LeanTransport(), timeout=5) as client:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.post(f"https://localhost:{port}/push/1", content=b"secret")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
