"""WebPushSender against a real HTTP push-service stand-in: headers, real bytes, every status code."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from tests.support.push_service import PushService, Subscriber

from pushlog.hub.delivery._base import Outcome, PushMessage, WebPushTarget
from pushlog.hub.delivery.webpush import VapidSigner, WebPushSender, generate_vapid_keys, public_key_b64


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as svc:
        yield svc


@pytest.fixture
def pem() -> str:
    return generate_vapid_keys()


@pytest.fixture
async def sender(pem: str) -> AsyncIterator[WebPushSender]:
    s = WebPushSender(VapidSigner(pem, "mailto:ops@example.com"), max_concurrency=4)
    yield s
    await s.aclose()


def target(sub: Subscriber) -> WebPushTarget:
    return WebPushTarget(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)


def message(**overrides: object) -> PushMessage:
    fields: dict[str, object] = {
        "delivery_id": "d1",
        "event_id": "e1",
        "payload": {"v": 1, "title": "Payment failed", "body": "card declined"},
        "ttl": 3600,
        "urgency": "high",
        "collapse_key": "9f2c" * 32,
    }
    fields.update(overrides)
    return PushMessage(**fields)  # type: ignore[arg-type]


async def test_sent_push_carries_headers_and_decrypts_to_the_payload(
    service: PushService, sender: WebPushSender, pem: str
) -> None:
    phone = service.subscribe()
    result = await sender.send(target(phone), message())
    assert result.outcome is Outcome.SENT
    assert result.status == 201
    [push] = service.received
    assert push.payload == {"v": 1, "title": "Payment failed", "body": "card declined"}
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
    result = await sender.send(target(phone), message(ttl=0, urgency="normal", collapse_key=None))
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
    payload = {"v": 1, "title": "Big", "body": "x" * 8000, "url": "http://hub/#/events/e1"}
    result = await sender.send(target(phone), message(payload=payload))
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
        timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
        sender = WebPushSender(VapidSigner(pem, "mailto:a@b.c"), timeout=timeout)
        try:
            phone = Subscriber(endpoint=f"http://127.0.0.1:{port}/push/x")
            result = await sender.send(target(phone), message())
        finally:
            await sender.aclose()
    assert result.outcome is Outcome.RETRY
    assert "timed out" in result.detail


async def test_bad_subscription_keys_fail_without_a_request(
    service: PushService, sender: WebPushSender
) -> None:
    phone = service.subscribe()
    bad = WebPushTarget(endpoint=phone.endpoint, p256dh="BAAA", auth=phone.auth)
    result = await sender.send(bad, message())
    assert result.outcome is Outcome.FAILED
    assert "subscription keys" in result.detail
    assert service.received == []


async def test_invalid_urgency_fails_without_a_request(service: PushService, sender: WebPushSender) -> None:
    phone = service.subscribe()
    result = await sender.send(target(phone), message(urgency="urgent"))
    assert result.outcome is Outcome.FAILED
    assert "Urgency" in result.detail
    assert service.received == []


async def test_connections_are_reused_and_concurrency_is_bounded(service: PushService, pem: str) -> None:
    sender = WebPushSender(VapidSigner(pem, "mailto:a@b.c"), max_concurrency=3)
    try:
        phones = [service.subscribe() for _ in range(30)]
        results = await asyncio.gather(*(sender.send(target(p), message()) for p in phones))
    finally:
        await sender.aclose()
    assert all(r.outcome is Outcome.SENT for r in results)
    received = service.wait_for(30)
    assert len({p.client_port for p in received}) <= 3  # at most 3 connections, each reused
    assert sender.signer.tokens_signed == 1  # one VAPID token for the one origin


@pytest.mark.parametrize("use_client", [True, False])
async def test_httpx_client_path_sends_the_same_request(
    service: PushService, pem: str, use_client: bool
) -> None:
    """``http2=True`` / an injected client go through httpx.AsyncClient; the request is the same."""
    phone = service.subscribe()
    signer = VapidSigner(pem, "mailto:ops@example.com")
    async with httpx.AsyncClient(timeout=5) as client:
        sender = WebPushSender(signer, client=client) if use_client else WebPushSender(signer, http2=True)
        result = await sender.send(target(phone), message())
        await sender.aclose()
        assert not client.is_closed  # an injected client belongs to the caller
    assert result.outcome is Outcome.SENT
    [push] = service.received
    assert push.payload["title"] == "Payment failed"
    assert (push.headers["ttl"], push.headers["urgency"]) == ("3600", "high")
