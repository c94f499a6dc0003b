"""The one path to the hub: Retry-After, jittered backoff, HubTransport's retry loop and send_now
against a stand-in hub, on a hand-moved clock."""

from __future__ import annotations

import email.utils
import json
import os
import pathlib
import socket
import ssl
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from tests.conftest import StandInHub
from tests.support.clock import FakeClock
from tests.support.tls import self_signed

from pushlog import _transport
from pushlog._dsn import parse_dsn
from pushlog._event import Event
from pushlog._levels import Level
from pushlog._retry_after import parse_retry_after
from pushlog._transport import (
    MAX_RETRY_AFTER,
    Attempt,
    HubTransport,
    Outcome,
    SendError,
    backoff_delay,
    retry_delay,
    send_now,
    tls_verify,
)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    now = 1_800_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=lambda: now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=lambda: now) == 0.0
    assert parse_retry_after("99999999", cap=MAX_RETRY_AFTER) == 3600.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_backoff_grows_with_jitter_and_cap() -> None:
    assert [backoff_delay(n, rng=lambda: 1.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff_delay(n, rng=lambda: 0.0) for n in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert backoff_delay(50, rng=lambda: 1.0) == 30.0


def _events() -> list[Event]:
    return [Event(title="deploy done", level=Level.INFO), Event(title="disk", level=Level.WARNING)]


def test_send_now_retries_503_and_500_then_succeeds(hub: StandInHub) -> None:
    hub.script += [hub.status(503, {"Retry-After": "2"}), hub.status(500)]
    clock = FakeClock()
    result = send_now(_events(), dsn=hub.dsn, timeout=30, retries=3, clock=clock)
    assert (result.accepted, result.duplicates, result.status, result.attempts) == (2, 0, 202, 3)
    assert clock.sleeps[0] == 2.0 and 0.5 <= clock.sleeps[1] <= 1.0
    bodies = [r["json"]["events"] for r in hub.requests]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]  # same ids: idempotent retries


def test_send_now_does_not_retry_other_4xx(hub: StandInHub) -> None:
    hub.script.append(hub.status(401))
    with pytest.raises(
        SendError, match=r"hub refused the request \(401 status_401: stand-in says 401\)"
    ) as info:
        send_now(_events(), dsn=hub.dsn, clock=FakeClock())
    assert info.value.status == 401 and not info.value.retryable
    assert len(hub.requests) == 1


def test_send_now_gives_up_after_retries(hub: StandInHub) -> None:
    hub.script += [hub.status(502)] * 3
    with pytest.raises(SendError, match="hub answered 502") as info:
        send_now(_events(), dsn=hub.dsn, retries=2, clock=FakeClock())
    assert info.value.retryable and info.value.status == 502
    assert len(hub.requests) == 3


def test_send_now_stops_when_retry_after_exceeds_budget(hub: StandInHub) -> None:
    hub.script.append(hub.status(429, {"Retry-After": "120"}))
    clock = FakeClock()
    with pytest.raises(SendError, match="429"):
        send_now(_events(), dsn=hub.dsn, timeout=5, clock=clock)
    assert len(hub.requests) == 1 and clock.sleeps == []  # never waited for what the budget cannot hold


def test_send_now_unreachable_and_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SendError, match=r"hub unreachable at http://127\.0\.0\.1") as info:
        send_now(_events(), dsn=f"http://k@127.0.0.1:{port}", retries=1, clock=FakeClock())
    assert info.value.retryable and info.value.status is None
    monkeypatch.delenv("PUSHLOG_DSN", raising=False)
    with pytest.raises(SendError, match="no hub configured"):
        send_now(_events())
    with pytest.raises(SendError, match="must start with http"):
        send_now(_events(), dsn="ftp://k@x")


def test_transport_seam_reaches_the_request_and_408_425_are_retried() -> None:
    seen: list[httpx.Request] = []
    answers = iter([408, 425, 202])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers), json={"accepted": 1, "duplicates": 0})

    clock = FakeClock()
    hub = HubTransport(
        parse_dsn("https://pl_k@hub.example/prefix"), transport=httpx.MockTransport(handler), clock=clock
    )
    answer = hub.post_json("/v1/heartbeats/x", {"status": "start"}, timeout=30, retries=3)
    hub.close()
    assert answer == {"accepted": 1, "duplicates": 0} and len(clock.sleeps) == 2
    assert [str(r.url) for r in seen] == ["https://hub.example/prefix/v1/heartbeats/x"] * 3
    assert seen[0].headers["authorization"] == "Bearer pl_k" and json.loads(seen[0].content) == {
        "status": "start"
    }


def test_retry_delay_prefers_retry_after() -> None:
    told = Attempt(Outcome.RETRY, status=503, retry_after=7.0)
    assert retry_delay(5, told) == 7.0
    assert retry_delay(2, Attempt(Outcome.RETRY), rng=lambda: 1.0) == 2.0


def test_httpx_and_ssl_load_with_a_sending_client_not_on_import(hub: StandInHub) -> None:
    script = (
        "import sys, logging, pushlog\n"
        "heavy = ('httpx', 'ssl', 'hashlib', 'email')\n"
        "pushlog.notify('inert: nothing to send')\n"
        "logging.getLogger('x').warning('still inert')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        f"client = pushlog.Client({hub.dsn!r}, linger=0.0)\n"
        "print('httpx' in sys.modules and 'ssl' in sys.modules)\n"
        "client.capture(pushlog.Event(title='first send', level=pushlog.Level.WARNING))\n"
        "assert client.close(10)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PUSHLOG_DSN"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert out.stdout.splitlines() == ["[]", "True"]  # inert: nothing; a client with a hub: loaded
    assert [e["title"] for e in hub.accepted_events()] == ["first send"]


@pytest.mark.parametrize("stdlib", [False, True], ids=["msgspec", "stdlib"])
def test_request_bodies_encode_alike_with_or_without_msgspec(
    stdlib: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if stdlib:
        monkeypatch.setattr(_transport, "_encoder", _transport._stdlib_json)
    value = {"a": [1, 2.5, None, True, "é · ✓"], "big": 2**70, "odd": pathlib.PurePosixPath("/x")}
    assert json.loads(_transport.encode_json(value)) == {**value, "odd": "/x"}
    with pytest.raises(UnicodeEncodeError):  # what the worker's screen() repairs
        _transport.encode_json({"title": "bad \ud800"})


def test_an_http_hub_loads_no_ca_bundle_and_its_context_verifies_any_tls(tmp_path: pathlib.Path) -> None:
    cert, key = self_signed(tmp_path)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    trusted = ssl.create_default_context(cafile=str(cert))
    with HTTPServer(ssl_context=served) as tls_server:
        tls_server.expect_request("/ok").respond_with_data("ok")
        url = tls_server.url_for("/ok")
        with httpx.Client(verify=trusted) as proper:  # the server is sound for a client that trusts it
            assert proper.get(url).text == "ok"
        context = tls_verify("http://127.0.0.1:9")
        assert isinstance(context, ssl.SSLContext) and context.cert_store_stats()["x509_ca"] == 0
        with httpx.Client(verify=context) as client, pytest.raises(httpx.ConnectError, match="verify failed"):
            client.get(url)  # a handshake it was never meant to make fails: never unverified
    assert tls_verify("https://hub.example") is True  # httpx's own full verification


def test_hub_transport_passes_its_tls_verification_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    real_client = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        made.append(kwargs["verify"])
        return real_client(**kwargs)

    monkeypatch.setattr(httpx, "Client", client)
    for dsn in ("http://pl_k@127.0.0.1:9", "https://pl_k@hub.example"):
        hub = HubTransport(parse_dsn(dsn), transport=httpx.MockTransport(lambda r: httpx.Response(202)))
        assert hub.attempt("/v1/events", b"{}").outcome is Outcome.SENT
        hub.close()
    assert isinstance(made[0], ssl.SSLContext) and made[1] is True
