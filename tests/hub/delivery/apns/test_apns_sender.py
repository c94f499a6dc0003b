"""ApnsSender against the hypercorn HTTP/2 + TLS stand-in: headers, payload, token reuse, each error path."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.apns_service import ApnsService

from pushlog._levels import parse_level
from pushlog.hub.delivery import Action, PushContent
from pushlog.hub.delivery._base import ApnsTarget, FcmTarget, Outcome, PushMessage
from pushlog.hub.delivery.apns import ApnsSender, ProviderToken, collapse_id, load_key


class Clock:
    """Wall time, moved by hand (provider token age)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.now = time.time() + offset

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def apns_clock() -> Clock:
    return Clock()


@pytest.fixture
def apns(tmp_path: Path, apns_clock: Clock) -> Iterator[ApnsService]:
    with ApnsService(tmp_path, clock=apns_clock) as service:
        yield service


def make_sender(
    apns: ApnsService,
    clock: Clock,
    *,
    token: ProviderToken | None = None,
    topic: str | None = None,
    base_url: str | None = None,
    critical_entitled: bool = False,
) -> ApnsSender:
    token = token or ProviderToken(
        load_key(apns.key_pem()), key_id=apns.key_id, team_id=apns.team_id, clock=clock
    )
    return ApnsSender(
        token,
        topic=topic or apns.topic,
        environment="sandbox",
        critical_entitled=critical_entitled,
        base_url=base_url or apns.origin,
        ssl_context=ssl.create_default_context(cafile=str(apns.ca_file)),
        clock=clock,
    )


@pytest.fixture
async def sender(apns: ApnsService, clock: Clock) -> AsyncIterator[ApnsSender]:
    s = make_sender(apns, clock)
    yield s
    await s.aclose()


def message(level: str = "warning", collapse: str | None = "fp1", **fields: Any) -> PushMessage:
    fields = {"title": "Disk almost full", "body": "92% on /var", **fields}
    content = PushContent(
        level=parse_level(level),
        url="https://hub.example/#/events/evt_1",
        collapse_key=collapse,
        refs={"event_id": "evt_1"},
        **fields,
    )
    return PushMessage(delivery_id="dlv_1", content=content, ttl=900)


async def test_sends_over_http2_with_headers_and_aps(
    apns: ApnsService, sender: ApnsSender, clock: Clock
) -> None:
    device = apns.register()
    result = await sender.send(ApnsTarget(token=device), message("warning"))
    assert result.outcome is Outcome.SENT and result.status == 200
    [got] = apns.wait_for(1)
    assert got.http_version == "2" and got.token == device
    assert got.headers["apns-topic"] == apns.topic and got.headers["apns-push-type"] == "alert"
    assert got.headers["apns-priority"] == "10" and got.headers["apns-collapse-id"] == "fp1"
    assert int(got.headers["apns-expiration"]) == int(clock.now) + 900
    assert got.aps["alert"] == {"title": "Disk almost full", "body": "92% on /var"}
    assert got.aps["interruption-level"] == "active" and got.aps["sound"] == "default"
    assert got.payload["url"].endswith("evt_1") and "link" not in got.payload
    [claims] = apns.provider_tokens
    assert claims["iss"] == apns.team_id


@pytest.mark.parametrize(
    ("level", "entitled", "expected"),
    [
        ("error", False, "time-sensitive"),
        ("critical", False, "time-sensitive"),
        ("critical", True, "critical"),
    ],
)
async def test_interruption_level_by_level_and_entitlement(
    apns: ApnsService, clock: Clock, level: str, entitled: bool, expected: str
) -> None:
    sender = make_sender(apns, clock, critical_entitled=entitled)
    try:
        await sender.send(ApnsTarget(token=apns.register()), message(level))
    finally:
        await sender.aclose()
    [got] = apns.wait_for(1)
    assert got.aps["interruption-level"] == expected
    assert (got.aps["sound"] != "default") is (expected == "critical")


async def test_concurrent_sends_share_one_connection_and_one_token(
    apns: ApnsService, sender: ApnsSender
) -> None:
    devices = [apns.register() for _ in range(20)]
    results = await asyncio.gather(*(sender.send(ApnsTarget(token=d), message()) for d in devices))
    assert {r.outcome for r in results} == {Outcome.SENT}
    received = apns.wait_for(20)
    assert len({n.connection for n in received}) == 1  # 20 streams multiplexed on one connection
    assert len(apns.provider_tokens) == 1


async def test_provider_token_reused_then_renewed_between_20_and_60_minutes(
    apns: ApnsService, sender: ApnsSender, clock: Clock, apns_clock: Clock
) -> None:
    device = apns.register()
    for gap_minutes in (0, 10, 20, 19, 2, 19):  # sends at 0, 10, 30, 49, 51 and 70 minutes
        clock.now += gap_minutes * 60
        apns_clock.now += gap_minutes * 60
        result = await sender.send(ApnsTarget(token=device), message())
        assert result.outcome is Outcome.SENT, result
    # Renewed once, after 50 minutes; the stand-in refuses updates closer than 20 minutes apart and
    # tokens older than 60, so neither happened.
    assert len(apns.provider_tokens) == 2 and not apns.refused


async def test_expired_provider_token_renews_once(
    apns: ApnsService, sender: ApnsSender, clock: Clock, apns_clock: Clock
) -> None:
    device = apns.register()
    await sender.send(ApnsTarget(token=device), message())
    # APNs' clock runs 15 minutes ahead: at 46 minutes by ours, the token is 61 minutes old by Apple's.
    apns_clock.now += 61 * 60
    clock.now += 46 * 60
    result = await sender.send(ApnsTarget(token=device), message())
    assert result.outcome is Outcome.SENT
    assert apns.refused == [(403, "ExpiredProviderToken")] and len(apns.provider_tokens) == 2


async def test_a_burst_of_expired_provider_token_answers_renews_only_once(
    apns: ApnsService, sender: ApnsSender, clock: Clock, apns_clock: Clock
) -> None:
    devices = [apns.register() for _ in range(10)]
    await sender.send(ApnsTarget(token=devices[0]), message())
    apns_clock.now += 61 * 60
    clock.now += 46 * 60
    results = await asyncio.gather(*(sender.send(ApnsTarget(token=d), message()) for d in devices))
    assert {r.outcome for r in results} == {Outcome.SENT}
    # every stream refused the old token, one renewal served them all: no TooManyProviderTokenUpdates
    assert len(apns.provider_tokens) == 2 and {reason for _, reason in apns.refused} == {
        "ExpiredProviderToken"
    }


async def test_unregistered_is_gone(apns: ApnsService, sender: ApnsSender, clock: Clock) -> None:
    device = apns.register()
    apns.unregister(device, at=clock.now - 60)
    result = await sender.send(ApnsTarget(token=device, registered_at=clock.now - 3600), message())
    assert result.outcome is Outcome.GONE and result.status == 410


async def test_unregistered_before_a_re_registration_keeps_the_device(
    apns: ApnsService, sender: ApnsSender, clock: Clock
) -> None:
    device = apns.register()
    apns.unregister(device, at=clock.now - 3600)
    result = await sender.send(ApnsTarget(token=device, registered_at=clock.now - 60), message())
    assert result.outcome is Outcome.FAILED and "registered its token again" in result.detail


async def test_bad_device_token_names_the_environment_mix_up(
    sender: ApnsSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "pushlog.hub.delivery.apns")
    for _ in range(2):
        result = await sender.send(ApnsTarget(token="ab" * 32), message())
        assert result.outcome is Outcome.FAILED and result.status == 400
        assert "sandbox/production mix-up" in result.detail
    assert len([r for r in caplog.records if "BadDeviceToken" in r.getMessage()]) == 1


async def test_payload_too_large_is_never_retried(apns: ApnsService, sender: ApnsSender) -> None:
    apns.fail_next(413, "PayloadTooLarge")
    result = await sender.send(ApnsTarget(token=apns.register()), message())
    assert result.outcome is Outcome.FAILED and result.status == 413 and "not retried" in result.detail


async def test_long_body_is_cut_to_4096_bytes_keeping_title_and_url(
    apns: ApnsService, sender: ApnsSender
) -> None:
    await sender.send(ApnsTarget(token=apns.register()), message(body="é" * 5000))
    [got] = apns.wait_for(1)
    assert got.size <= 4096 and got.payload["truncated"] is True
    assert got.aps["alert"]["title"] == "Disk almost full" and got.payload["url"].endswith("evt_1")


async def test_collapse_id_over_64_bytes_is_hashed(apns: ApnsService, sender: ApnsSender) -> None:
    key = "fingerprint-" + "x" * 100
    await sender.send(ApnsTarget(token=apns.register()), message(collapse=key))
    [got] = apns.wait_for(1)
    assert got.headers["apns-collapse-id"] == collapse_id(key) and len(collapse_id(key)) == 64


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")],
)
async def test_busy_answers_retry_honouring_retry_after(
    apns: ApnsService, sender: ApnsSender, status: int, reason: str
) -> None:
    apns.fail_next(status, reason, retry_after="30")
    result = await sender.send(ApnsTarget(token=apns.register()), message())
    assert result.outcome is Outcome.RETRY and result.status == status and result.retry_after == 30


async def test_invalid_provider_token_is_a_configuration_error(apns: ApnsService, clock: Clock) -> None:
    token = ProviderToken(load_key(apns.key_pem()), key_id="WRONGKEYID", team_id=apns.team_id, clock=clock)
    sender = make_sender(apns, clock, token=token)
    try:
        result = await sender.send(ApnsTarget(token=apns.register()), message())
    finally:
        await sender.aclose()
    assert result.outcome is Outcome.FAILED and result.status == 403
    assert "InvalidProviderToken" in result.detail and "configuration error" in result.detail


async def test_wrong_topic_is_a_configuration_error(apns: ApnsService, clock: Clock) -> None:
    sender = make_sender(apns, clock, topic="com.example.other")
    try:
        result = await sender.send(ApnsTarget(token=apns.register()), message())
    finally:
        await sender.aclose()
    assert result.outcome is Outcome.FAILED and "DeviceTokenNotForTopic" in result.detail


async def test_http1_is_refused(apns: ApnsService) -> None:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(apns.ca_file))) as client:
        response = await client.post(f"{apns.origin}/3/device/{apns.register()}", content=b"{}")
    assert response.status_code == 505 and not apns.received


async def test_unreachable_apns_is_retry(apns: ApnsService, clock: Clock) -> None:
    sender = make_sender(apns, clock, base_url="https://127.0.0.1:9")
    try:
        result = await sender.send(ApnsTarget(token=apns.register()), message())
    finally:
        await sender.aclose()
    assert result.outcome is Outcome.RETRY and "transport error" in result.detail


async def test_not_an_apns_target_fails(sender: ApnsSender) -> None:
    assert (await sender.send(FcmTarget(token="t"), message())).outcome is Outcome.FAILED


async def test_rich_fields_go_to_aps_and_custom_keys(apns: ApnsService, sender: ApnsSender) -> None:
    rich = message(
        image="https://cdn.example.com/i.png",
        link="myapp://orders/A-1001",
        category="order.shipped",
        actions=(Action(id="track", title="Track", url="https://shop.example.com/t/A-1001"),),
        data={"order": "A-1001"},
    )
    assert (await sender.send(ApnsTarget(token=apns.register()), rich)).outcome is Outcome.SENT
    [got] = apns.wait_for(1)  # the stand-in refuses an image without mutable-content, a bad category
    assert got.aps["mutable-content"] == 1 and got.aps["category"] == "order.shipped"
    assert got.payload["image"] == "https://cdn.example.com/i.png"
    assert got.payload["link"] == "myapp://orders/A-1001" and got.payload["data"] == {"order": "A-1001"}
    assert got.payload["actions"] == [
        {"action": "track", "title": "Track", "url": "https://shop.example.com/t/A-1001"}
    ]
    assert "title" not in got.payload and "body" not in got.payload  # only in aps.alert


async def test_the_stand_in_refuses_an_image_the_extension_would_never_see(
    apns: ApnsService, clock: Clock
) -> None:
    token = ProviderToken(load_key(apns.key_pem()), key_id=apns.key_id, team_id=apns.team_id, clock=clock)
    payload = {"aps": {"alert": {"title": "t", "body": "b"}}, "image": "https://cdn.example.com/i.png"}
    headers = {
        "apns-topic": apns.topic,
        "apns-push-type": "alert",
        "authorization": f"bearer {token.current()}",
    }
    async with httpx.AsyncClient(
        http2=True, verify=ssl.create_default_context(cafile=str(apns.ca_file))
    ) as c:
        answer = await c.post(f"{apns.origin}/3/device/{apns.register()}", json=payload, headers=headers)
    assert answer.status_code == 400 and "mutable-content" in answer.json()["reason"]
    assert apns.received == []
