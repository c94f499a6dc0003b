"""Helpers for the delivery tests: a real SQLite outbox and a fake sender (clock: tests/support/clock.py)."""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import functools
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from tests.support.clock import UTCView

from pushlog._levels import Level
from pushlog.hub.delivery import DeliveryService, RetryPolicy
from pushlog.hub.delivery._base import Outcome, Prepared, PushMessage, SendResult
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store._tables import deliveries
from pushlog.hub.store.device_tokens import DeviceTokenVault

T0 = _dt.datetime(2026, 11, 21, 8, 0, tzinfo=_dt.UTC)
SECRET = "receipt-secret-for-tests"
BASE_URL = "http://hub.test:8765"
# Valid subscription keys (RFC 8291's example user agent) for rows a fake sender never encrypts to.
RFC_UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
#: Seals the devices add_device stores; the service opens them with it (a hub: HubConfig's
#: ``device_token_key=VAULT_KEY``).
VAULT_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode("ascii")
VAULT = DeviceTokenVault(bytes(range(32)))


@dataclass
class FakeSender:
    """Records what it is asked to send (when the request is posted: ``send``) and what it prepared;
    answers from ``script`` (default SENT)."""

    sent: list[tuple[Any, PushMessage]] = field(default_factory=list)
    script: list[SendResult] = field(default_factory=list)
    raise_next: BaseException | None = None
    called: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    prepared: list[tuple[Any, PushMessage]] = field(default_factory=list)

    async def prepare(self, target: Any, message: PushMessage) -> Prepared:
        self.prepared.append((target, message))
        return Prepared(functools.partial(self.send, target, message))

    async def send(self, target: Any, message: PushMessage) -> SendResult:
        self.sent.append((target, message))
        self.called.set()
        if self.raise_next is not None:
            exc, self.raise_next = self.raise_next, None
            raise exc
        if self.script:
            return self.script.pop(0)
        return SendResult(outcome=Outcome.SENT, status=201)

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Outbox:
    """A migrated SQLite database plus helpers to put events and devices in it."""

    engine: sa.Engine
    clock: UTCView

    def add_device(
        self,
        *,
        endpoint: str | None = None,
        p256dh: str = RFC_UA_PUBLIC,
        auth: str = RFC_AUTH,
        min_level: Level = Level.WARNING,
        channels: list[str] | None = None,
    ) -> str:
        reg = device_store.WebPushRegistration(
            name=None,
            endpoint=endpoint or f"https://push.example.net/{uuid.uuid4().hex}",
            p256dh=p256dh,
            auth=auth,
            min_level=min_level,
            channels=channels,
        )
        with self.engine.begin() as conn:
            device, _ = device_store.register_webpush(conn, reg, vault=VAULT, now=self.clock())
        return str(device["id"])

    def ingest(
        self,
        level: Level = Level.WARNING,
        *,
        title: str = "Payment failed",
        channel: str | None = None,
        fingerprint: str | None = None,
        repeat_interval: float = 300,
        expiry: float = 3600,
    ) -> str:
        event = event_store.NewEvent(
            id=str(uuid.uuid4()),
            ts=self.clock(),
            level=level,
            title=title,
            body="card declined",
            channel=channel,
            fingerprint=fingerprint,
            push=level >= Level.WARNING,
        )
        repeat = event_store.Repeat(
            interval=_dt.timedelta(seconds=repeat_interval), expiry=_dt.timedelta(seconds=expiry)
        )
        with self.engine.begin() as conn:
            event_store.insert_events(conn, [event], key_id=None, now=self.clock(), repeat=repeat)
        return event.id

    def acknowledge(self, event_id: str) -> None:
        with self.engine.begin() as conn:
            event_store.acknowledge(conn, event_id, by="test", now=self.clock())

    def rows(self, event_id: str | None = None) -> list[Any]:
        query = sa.select(deliveries).order_by(deliveries.c.round, deliveries.c.device_id)
        if event_id is not None:
            query = query.where(deliveries.c.event_id == event_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def service(self, sender: Any, **kwargs: Any) -> DeliveryService:
        kwargs.setdefault("retry", RetryPolicy(rng=random.Random(7)))
        kwargs.setdefault("vault", VAULT)
        return DeliveryService(
            engine=self.engine,
            senders={"webpush": sender},
            base_url=BASE_URL,
            receipt_secret=SECRET,
            clock=self.clock,
            **kwargs,
        )
