"""The sender's SSRF guard: no connection to a private address unless private endpoints are allowed.

A real HTTPS (or plain HTTP) server on 127.0.0.1 counts every TCP connection it accepts. A fake DNS
answer (the ``resolver`` seam, wrapped by the guard exactly like aiohttp's own resolver) makes
``push.example`` resolve to 127.0.0.1, as a rebinding attacker's DNS would after registration. With
the flag off, the send is ``FAILED`` with a ``refused endpoint`` detail and the server sees no
connection; with the flag on, the same sends reach it and are ``SENT``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from tests.support.push_service import Subscriber
from tests.support.tls import self_signed

from pushlog.hub.delivery import PushContent
from pushlog.hub.delivery._base import Outcome, PushMessage, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys
from pushlog.hub.delivery.webpush._guard import PublicOnlyResolver, RefusedAddress


class FakeDNS(AbstractResolver):
    """Answers from a table, like a DNS server the endpoint's owner controls; records each question."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host}: Name or service not known")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


class CountingServer:
    """A one-request-per-connection HTTP(S) server on 127.0.0.1 answering 201; counts connections."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self._tls = tls
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._accepted = 0
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        with self._lock:
            return self._accepted

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the listener was closed: stop
                return
            with self._lock:
                self._accepted += 1
            try:
                self._answer(conn)
            except (OSError, ssl.SSLError):
                pass  # a refused handshake or a dropped client is the client's business here
            finally:
                conn.close()

    def _answer(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        conn = self._tls.wrap_socket(raw, server_side=True) if self._tls else raw
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        with self._lock:
            self.requests.append(head.split(b"\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        self._listener.close()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the counting server did not stop"


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path, names=("push.example",), ips=("127.0.0.1",))


@pytest.fixture
def https_server(cert: tuple[Path, Path]) -> Iterator[CountingServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    server = CountingServer(context)
    yield server
    server.close()


@pytest.fixture
def http_server() -> Iterator[CountingServer]:
    server = CountingServer(None)
    yield server
    server.close()


def sender(cert: tuple[Path, Path], dns: FakeDNS, *, allow_private: bool) -> WebPushSender:
    """A sender trusting the stand-in's certificate and resolving through ``dns``."""
    return WebPushSender(
        VapidSigner(generate_vapid_keys(), "mailto:ops@example.com"),
        ssl_context=ssl.create_default_context(cafile=str(cert[0])),
        resolver=dns,
        allow_private_endpoints=allow_private,
    )


async def send(s: WebPushSender, endpoint: str) -> tuple[Outcome, str]:
    phone = Subscriber(endpoint=endpoint)
    message = PushMessage(delivery_id="d1", content=PushContent(title="t"), ttl=60)
    try:
        result = await s.send(WebPushTarget(endpoint=endpoint, p256dh=phone.p256dh, auth=phone.auth), message)
    finally:
        await s.aclose()
    return result.outcome, result.detail


async def test_a_host_rebound_to_loopback_is_never_connected_to(
    https_server: CountingServer, cert: tuple[Path, Path]
) -> None:
    dns = FakeDNS({"push.example": ["127.0.0.1"]})
    endpoint = f"https://push.example:{https_server.port}/push/1"
    outcome, detail = await send(sender(cert, dns, allow_private=False), endpoint)
    assert outcome is Outcome.FAILED  # permanent: not retried forever
    assert detail.startswith("refused endpoint: push.example resolves only to non-public addresses")
    assert "127.0.0.1 (loopback)" in detail
    assert dns.asked == ["push.example"]  # the connector did ask DNS: the guard, not the URL check, refused
    assert https_server.connections == 0
    # The same send with private endpoints allowed (the development flag) goes through.
    outcome, _ = await send(sender(cert, dns, allow_private=True), endpoint)
    assert outcome is Outcome.SENT
    assert https_server.connections == 1
    assert https_server.requests == [b"POST /push/1 HTTP/1.1"]


async def test_a_private_ip_literal_is_refused_before_any_connection(
    https_server: CountingServer, cert: tuple[Path, Path]
) -> None:
    dns = FakeDNS({})
    endpoint = f"https://127.0.0.1:{https_server.port}/push/1"
    outcome, detail = await send(sender(cert, dns, allow_private=False), endpoint)
    assert (outcome, detail) == (
        Outcome.FAILED,
        "refused endpoint: endpoint host 127.0.0.1 is a loopback address (127.0.0.1)",
    )
    assert https_server.connections == 0
    outcome, _ = await send(sender(cert, dns, allow_private=True), endpoint)
    assert outcome is Outcome.SENT
    assert https_server.connections == 1
    assert dns.asked == []  # aiohttp never asks the resolver about an IP literal


async def test_a_sender_remembers_only_endpoints_it_accepted_and_still_asks_the_guard(
    https_server: CountingServer, cert: tuple[Path, Path]
) -> None:
    dns = FakeDNS({"push.example": ["127.0.0.1"]})
    s = sender(cert, dns, allow_private=False)
    literal = f"https://127.0.0.1:{https_server.port}/push/1"
    rebound = f"https://push.example:{https_server.port}/push/1"
    phone = Subscriber(endpoint=rebound)
    message = PushMessage(delivery_id="d1", content=PushContent(title="t"), ttl=60)
    try:
        for _ in range(2):  # the second time from the remembered URL checks
            for endpoint in (literal, rebound):
                target = WebPushTarget(endpoint=endpoint, p256dh=phone.p256dh, auth=phone.auth)
                result = await s.send(target, message)
                assert result.outcome is Outcome.FAILED
                assert result.detail.startswith("refused endpoint: ")
    finally:
        await s.aclose()
    assert dns.asked == ["push.example", "push.example"]  # a remembered URL still resolves through the guard
    assert https_server.connections == 0


async def test_plain_http_is_refused_unless_allowed(
    http_server: CountingServer, cert: tuple[Path, Path]
) -> None:
    dns = FakeDNS({"push.example": ["127.0.0.1"]})
    endpoint = f"http://push.example:{http_server.port}/push/1"
    outcome, detail = await send(sender(cert, dns, allow_private=False), endpoint)
    assert (outcome, detail) == (Outcome.FAILED, "refused endpoint: endpoint must be an https:// URL")
    assert http_server.connections == 0
    outcome, _ = await send(sender(cert, dns, allow_private=True), endpoint)
    assert outcome is Outcome.SENT
    assert http_server.connections == 1


async def test_a_localhost_name_is_refused(https_server: CountingServer, cert: tuple[Path, Path]) -> None:
    dns = FakeDNS({"localhost": ["127.0.0.1"]})
    outcome, detail = await send(
        sender(cert, dns, allow_private=False), f"https://localhost:{https_server.port}/push/1"
    )
    assert (outcome, detail) == (
        Outcome.FAILED,
        "refused endpoint: endpoint host localhost is a loopback address",
    )
    assert https_server.connections == 0


async def test_the_guard_keeps_only_public_addresses() -> None:
    dns = FakeDNS(
        {
            "mixed.example": ["10.0.0.7", "93.184.216.34", "169.254.169.254", "2606:2800:220:1::1", "::1"],
            "inner.example": ["169.254.169.254", "::ffff:10.1.2.3", "fd00::1", "100.64.0.1"],
        }
    )
    guard = PublicOnlyResolver(dns)
    kept = await guard.resolve("mixed.example", 443)
    assert [answer["host"] for answer in kept] == ["93.184.216.34", "2606:2800:220:1::1"]
    with pytest.raises(RefusedAddress) as refused:
        await guard.resolve("inner.example", 443)
    assert str(refused.value) == (
        "refused endpoint: inner.example resolves only to non-public addresses: 169.254.169.254 "
        "(link-local), ::ffff:10.1.2.3 (private (IPv4-mapped form of 10.1.2.3)), fd00::1 (private), "
        "100.64.0.1 (shared (CGNAT))"
    )
    with pytest.raises(OSError, match="Name or service not known"):  # DNS failures pass through
        await guard.resolve("nowhere.example", 443)
