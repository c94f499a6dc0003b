"""start_delivery as the app runs it: a background loop woken by ingest, real senders, real HTTP."""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from tests.hub.delivery.outbox_support import VAULT_KEY, FakeSender, Outbox
from tests.support.push_service import PushService

from pushlog._levels import Level
from pushlog.hub import receipts
from pushlog.hub._bootstrap import load_secrets
from pushlog.hub.config import HubConfig
from pushlog.hub.delivery import start_delivery
from pushlog.hub.delivery.webpush import public_key_b64
from pushlog.hub.store._tables import devices


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def config(tmp_path: Path) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path,
        public_url="https://hub.example",
        push_ttl=900,
        vapid_subject="mailto:ops@example.com",
        allow_private_endpoints=True,
        device_token_key=VAULT_KEY,
    )


async def test_wake_sends_new_rows_and_aclose_stops(outbox: Outbox, tmp_path: Path) -> None:
    load_secrets(outbox.engine)
    sender = FakeSender()
    outbox.clock.now = _dt.datetime.now(_dt.UTC)
    service = await start_delivery(engine=outbox.engine, config=config(tmp_path), senders={"webpush": sender})
    try:
        outbox.add_device()
        event_id = outbox.ingest()
        service.wake()
        await asyncio.wait_for(sender.called.wait(), timeout=10)
        await eventually(lambda: [r.status for r in outbox.rows(event_id)] == ["sent"], what="sent row")
    finally:
        await service.aclose()
    assert not sender.closed  # injected senders belong to the caller
    assert sender.sent[0][1].payload["url"] == f"https://hub.example/#/events/{event_id}"


async def test_wake_from_another_thread(outbox: Outbox, tmp_path: Path) -> None:
    load_secrets(outbox.engine)
    sender = FakeSender()
    service = await start_delivery(engine=outbox.engine, config=config(tmp_path), senders={"webpush": sender})
    try:
        outbox.clock.now = _dt.datetime.now(_dt.UTC)
        outbox.add_device()
        outbox.ingest()
        await asyncio.to_thread(service.wake)
        await asyncio.wait_for(sender.called.wait(), timeout=10)
    finally:
        await service.aclose()
    assert len(sender.sent) == 1


async def test_real_web_push_end_to_end_through_the_outbox(
    outbox: Outbox, tmp_path: Path, push_service: PushService
) -> None:
    secrets = load_secrets(outbox.engine)
    outbox.clock.now = _dt.datetime.now(_dt.UTC)
    phone = push_service.subscribe()
    device_id = outbox.add_device(endpoint=phone.endpoint, p256dh=phone.p256dh, auth=phone.auth)
    service = await start_delivery(engine=outbox.engine, config=config(tmp_path))
    try:
        event_id = outbox.ingest(Level.ERROR, fingerprint="db:down")
        service.wake()
        [push] = await asyncio.to_thread(push_service.wait_for, 1, timeout=15)
        assert push.status == 201
        payload = push.payload
        [row] = outbox.rows(event_id)
        assert payload["delivery_id"] == row.id
        assert receipts.verify_token(secrets.receipt_secret, row.id, payload["receipt"])
        assert payload["title"] == "Payment failed"
        assert payload["level"] == "error"
        assert push.headers["urgency"] == "high"
        assert push.headers["ttl"] == "900"
        topic = push.headers["topic"]
        assert len(topic) <= 32
        assert topic != "db:down"  # not in the Topic alphabet: hashed
        assert push.vapid is not None
        assert push.vapid["claims"]["sub"] == "mailto:ops@example.com"
        assert push.vapid["public_key"] == public_key_b64(secrets.vapid_private_pem)
        await eventually(lambda: outbox.rows(event_id)[0].status == "sent", what="sent status")

        # The subscription expires: the next push gets 410 and the device is removed.
        push_service.expire(phone)
        gone_event = outbox.ingest(Level.WARNING)
        service.wake()
        await asyncio.to_thread(push_service.wait_for, 1, status=410, timeout=15)

        def device_removed() -> bool:
            with outbox.engine.connect() as conn:
                return conn.execute(sa.select(devices.c.id).where(devices.c.id == device_id)).first() is None

        await eventually(device_removed, what="device removal")
        [row] = outbox.rows(gone_event)
        assert (row.status, row.last_status_code) == ("failed", 410)
    finally:
        await service.aclose()


class BlockingSender(FakeSender):
    """Holds every send until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def send(self, target, message):  # type: ignore[no-untyped-def]
        result = await super().send(target, message)
        await self.release.wait()
        return result


async def test_aclose_lets_the_step_in_flight_finish(outbox: Outbox, tmp_path: Path) -> None:
    load_secrets(outbox.engine)
    outbox.clock.now = _dt.datetime.now(_dt.UTC)
    sender = BlockingSender()
    service = await start_delivery(engine=outbox.engine, config=config(tmp_path), senders={"webpush": sender})
    outbox.add_device()
    event_id = outbox.ingest()
    service.wake()
    await asyncio.wait_for(sender.called.wait(), timeout=10)
    closing = asyncio.create_task(service.aclose())
    sender.release.set()
    await asyncio.wait_for(closing, timeout=10)
    [row] = outbox.rows(event_id)
    assert (row.status, row.locked_until) == ("sent", None)
