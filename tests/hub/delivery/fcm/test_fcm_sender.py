"""FcmSender against the FCM + OAuth stand-in: auth flow, message shape, and one test per error path."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from tests.support.fcm_service import FcmService

from pushlog._levels import parse_level
from pushlog.hub.delivery import Action, PushContent
from pushlog.hub.delivery._base import FcmTarget, Outcome, PushMessage, WebPushTarget
from pushlog.hub.delivery.fcm import (
    QUOTA_BACKOFF,
    SCOPE,
    AccessTokens,
    CredentialsError,
    FcmSender,
    ServiceAccount,
    classify,
)
from pushlog.hub.delivery.fcm._message import render


class Clock:
    """Wall time, moved by hand (token expiry)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fcm(clock: Clock) -> Iterator[FcmService]:
    with FcmService(clock=clock) as service:
        yield service


@pytest.fixture
async def sender(fcm: FcmService, clock: Clock) -> AsyncIterator[FcmSender]:
    s = FcmSender(ServiceAccount.from_info(fcm.service_account()), base_url=fcm.origin, clock=clock)
    yield s
    await s.aclose()


def message(level: str = "warning", **fields: Any) -> PushMessage:
    fields = {"title": "Payment failed", "body": "card declined", **fields}
    content = PushContent(
        level=parse_level(level),
        url="https://hub.example/#/events/evt_1",
        actions=(Action(id="open", title="Open"),),
        collapse_key="fp1",
        refs={"event_id": "evt_1"},
        **fields,
    )
    return PushMessage(delivery_id="dlv_1", content=content, ttl=600)


async def test_sends_one_message_per_token_with_level_priority_ttl_and_collapse_key(
    fcm: FcmService, sender: FcmSender
) -> None:
    phone = fcm.register()
    result = await sender.send(FcmTarget(token=phone), message("error"))
    assert result.outcome is Outcome.SENT and result.status == 200
    [received] = fcm.wait_for(1)
    assert received.token == phone
    assert received.message["notification"] == {"title": "Payment failed", "body": "card declined"}
    assert received.message["android"] == {"priority": "HIGH", "ttl": "600s", "collapse_key": "fp1"}
    assert received.data["event_id"] == "evt_1" and received.data["count"] == "1"
    assert "title" not in received.data and "body" not in received.data  # in notification, not twice
    assert json.loads(received.data["actions"]) == [{"action": "open", "title": "Open"}]
    assert "link" not in received.data  # None values are left out: FCM data is a string map


async def test_warning_is_normal_priority(fcm: FcmService, sender: FcmSender) -> None:
    await sender.send(FcmTarget(token=fcm.register()), message("warning"))
    [received] = fcm.wait_for(1)
    assert received.message["android"]["priority"] == "NORMAL"


async def test_assertion_is_verified_and_token_cached(fcm: FcmService, sender: FcmSender) -> None:
    phone = fcm.register()
    for _ in range(3):
        assert (await sender.send(FcmTarget(token=phone), message())).outcome is Outcome.SENT
    assert len(fcm.exchanges) == 1  # one OAuth exchange serves every send while the token is valid
    [claims] = fcm.exchanges
    assert claims["scope"] == SCOPE and claims["aud"] == fcm.token_uri and claims["iss"] == fcm.client_email
    assert len({m.bearer for m in fcm.wait_for(3)}) == 1


async def test_concurrent_first_sends_share_one_exchange(fcm: FcmService, sender: FcmSender) -> None:
    results = await asyncio.gather(
        *(sender.send(FcmTarget(token=fcm.register()), message()) for _ in range(10))
    )
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(fcm.exchanges) == 1


async def test_token_refreshed_before_expiry(fcm: FcmService, sender: FcmSender, clock: Clock) -> None:
    phone = fcm.register()
    await sender.send(FcmTarget(token=phone), message())
    clock.now += fcm.token_lifetime - 120  # inside the refresh margin, still valid at FCM
    await sender.send(FcmTarget(token=phone), message())
    first, second = fcm.wait_for(2)
    assert len(fcm.exchanges) == 2 and first.bearer != second.bearer
    assert not fcm.refused


async def test_one_refresh_on_401(fcm: FcmService, sender: FcmSender) -> None:
    phone = fcm.register()
    await sender.send(FcmTarget(token=phone), message())
    fcm.revoke_access_tokens()
    result = await sender.send(FcmTarget(token=phone), message())
    assert result.outcome is Outcome.SENT
    assert len(fcm.exchanges) == 2 and [s for s, _ in fcm.refused] == [401]


async def test_401_after_refresh_fails_without_looping(fcm: FcmService, sender: FcmSender) -> None:
    fcm.token_lifetime = 0  # every issued token is already expired at FCM
    result = await sender.send(FcmTarget(token=fcm.register()), message())
    assert result.outcome is Outcome.FAILED and result.status == 401
    assert len(fcm.exchanges) == 2  # the first token, then exactly one refresh


async def test_unregistered_is_gone(fcm: FcmService, sender: FcmSender) -> None:
    phone = fcm.register()
    fcm.unregister(phone)
    result = await sender.send(FcmTarget(token=phone), message())
    assert result.outcome is Outcome.GONE and result.status == 404 and "UNREGISTERED" in result.detail


async def test_invalid_argument_for_the_token_is_gone(fcm: FcmService, sender: FcmSender) -> None:
    result = await sender.send(FcmTarget(token="not-a-token-this-project-issued"), message())
    assert (
        result.outcome is Outcome.GONE
        and result.status == 400
        and "invalid registration token" in result.detail
    )


async def test_invalid_argument_about_the_message_is_failed_not_gone(
    fcm: FcmService, sender: FcmSender
) -> None:
    # INVALID_ARGUMENT that does not name the token is our message's fault: the device stays.
    fcm.fail_next("INVALID_ARGUMENT", field_violation=False, message="Invalid value at 'message.android.ttl'")
    result = await sender.send(FcmTarget(token=fcm.register()), message())
    assert result.outcome is Outcome.FAILED and result.status == 400


async def test_quota_exceeded_backs_off_at_least_60_seconds(fcm: FcmService, sender: FcmSender) -> None:
    fcm.fail_next("QUOTA_EXCEEDED", retry_after="5")
    result = await sender.send(FcmTarget(token=fcm.register()), message())
    assert result.outcome is Outcome.RETRY and result.status == 429 and result.retry_after == QUOTA_BACKOFF
    fcm.fail_next("QUOTA_EXCEEDED", retry_after="120")
    longer = await sender.send(FcmTarget(token=fcm.register()), message())
    assert longer.retry_after == 120


@pytest.mark.parametrize(("reason", "status"), [("UNAVAILABLE", 503), ("INTERNAL", 500)])
async def test_server_errors_honour_retry_after(
    fcm: FcmService, sender: FcmSender, reason: str, status: int
) -> None:
    fcm.fail_next(reason, retry_after="17")
    result = await sender.send(FcmTarget(token=fcm.register()), message())
    assert result.outcome is Outcome.RETRY and result.status == status and result.retry_after == 17


@pytest.mark.parametrize(("reason", "status"), [("SENDER_ID_MISMATCH", 403), ("THIRD_PARTY_AUTH_ERROR", 401)])
async def test_configuration_errors_fail_and_are_reported_once(
    fcm: FcmService, sender: FcmSender, reason: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "pushlog.hub.delivery.fcm")
    for _ in range(2):
        fcm.fail_next(reason)
        result = await sender.send(FcmTarget(token=fcm.register()), message())
        assert result.outcome is Outcome.FAILED and result.status == status
        assert "configuration error" in result.detail and reason in result.detail
    assert len([r for r in caplog.records if reason in r.getMessage()]) == 1
    assert len(fcm.exchanges) == 1  # THIRD_PARTY_AUTH_ERROR is not our access token: no refresh


async def test_refused_service_account_is_a_configuration_error(fcm: FcmService, clock: Clock) -> None:
    info = fcm.service_account()
    info["client_email"] = "someone-else@example.iam.gserviceaccount.com"
    sender = FcmSender(ServiceAccount.from_info(info), base_url=fcm.origin, clock=clock)
    try:
        result = await sender.send(FcmTarget(token=fcm.register()), message())
    finally:
        await sender.aclose()
    assert result.outcome is Outcome.FAILED and "refused the service account" in result.detail
    assert fcm.refused and "is not the service account" in fcm.refused[0][1]


async def test_unreachable_fcm_is_retry(fcm: FcmService, clock: Clock) -> None:
    sender = FcmSender(
        ServiceAccount.from_info(fcm.service_account()), base_url="http://127.0.0.1:9", clock=clock
    )
    try:
        result = await sender.send(FcmTarget(token="t"), message())
    finally:
        await sender.aclose()
    # The token exchange worked (the stand-in's token_uri); the send itself could not connect.
    assert result.outcome is Outcome.RETRY and "transport error" in result.detail


@pytest.mark.parametrize("char", ["x", "😀"])
async def test_oversized_body_is_cut_keeping_title_and_url(
    fcm: FcmService, sender: FcmSender, char: str
) -> None:
    await sender.send(FcmTarget(token=fcm.register()), message(body=char * 10_000))
    [received] = fcm.wait_for(1)
    assert len(json.dumps(received.message, separators=(",", ":"), ensure_ascii=False).encode()) <= 4096
    assert received.message["notification"]["body"].startswith(char * 100)
    assert received.message["notification"]["title"] == "Payment failed"
    assert received.data["url"].endswith("evt_1")
    assert received.data["truncated"] == "true"


async def test_not_an_fcm_target_fails(sender: FcmSender) -> None:
    result = await sender.send(WebPushTarget(endpoint="https://x", p256dh="a", auth="b"), message())
    assert result.outcome is Outcome.FAILED


def test_service_account_file_must_be_one() -> None:
    with pytest.raises(CredentialsError, match="service_account"):
        ServiceAccount.from_info({"type": "authorized_user"})
    with pytest.raises(CredentialsError, match="private_key"):
        ServiceAccount.from_info(
            {"type": "service_account", "project_id": "p", "client_email": "e", "token_uri": "u"}
        )


def test_a_bare_404_without_fcm_reason_keeps_the_device() -> None:
    result = classify(404, {}, None)
    assert result.outcome is Outcome.FAILED and result.status == 404


async def test_rich_fields_go_to_notification_android_apns_and_string_data(
    fcm: FcmService, sender: FcmSender
) -> None:
    rich = message(
        "critical",
        image="https://cdn.example.com/i.png",
        link="myapp://orders/A-1001",
        category="order.shipped",
        data={"order": "A-1001", "items": 3},
    )
    assert (await sender.send(FcmTarget(token=fcm.register()), rich)).outcome is Outcome.SENT
    [received] = fcm.wait_for(1)  # the stand-in refuses unknown field names and a misshapen apns part
    assert received.message["notification"]["image"] == "https://cdn.example.com/i.png"
    assert received.message["android"]["notification"] == {"click_action": "order.shipped"}
    aps = received.message["apns"]["payload"]["aps"]
    assert aps == {"mutable-content": 1, "category": "order.shipped"}
    assert received.data["link"] == "myapp://orders/A-1001" and received.data["category"] == "order.shipped"
    assert json.loads(received.data["data"]) == {"order": "A-1001", "items": 3}
    assert "webpush" not in received.message


async def test_the_stand_in_refuses_a_field_fcm_does_not_have(fcm: FcmService, clock: Clock) -> None:
    async with httpx.AsyncClient() as client:
        tokens = AccessTokens(ServiceAccount.from_info(fcm.service_account()), client, clock=clock)
        body = json.loads(render(fcm.register(), message()))
        body["message"]["android"]["notification"] = {"image_url": "https://cdn.example.com/i.png"}
        answer = await client.post(
            f"{fcm.origin}/v1/projects/{fcm.project_id}/messages:send",
            json=body,
            headers={"Authorization": f"Bearer {await tokens.token()}"},
        )
    assert answer.status_code == 400
    assert 'Unknown name "image_url"' in answer.json()["error"]["message"] and fcm.received == []
