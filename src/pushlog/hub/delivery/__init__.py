"""Delivery: the durable outbox dispatcher and the push senders.

``start_delivery`` is the seam between the API (which writes outbox rows and calls ``wake()``) and
delivery (which sends them): it reads the hub's VAPID key and receipt secret from the ``settings``
table, builds the Web Push sender with the hub's ``allow_private_endpoints`` flag (its SSRF guard),
the FCM sender when ``fcm_credentials`` is set and the APNs sender when its key, key id, team id and
topic are (unless ``senders`` are injected, as tests do), opens the device-token vault native tokens
are decrypted with, and starts a :class:`DeliveryService` on the running event loop.

What a push shows is one :class:`PushContent` (title, body, link, image, actions, data, category, level,
collapse key) that each sender renders in its transport's shape; a log event's comes from
``_payload.content_for_event``, anything else (an app user's notification) constructs it directly and
sends it as a :class:`PushMessage`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import sqlalchemy as sa

from .._clock import Clock, system_clock
from ..config import HubConfig
from ..store import settings as settings_store
from ..store.device_tokens import open_vault
from ._backoff import RetryPolicy
from ._base import Prepared, PushMessage, Sender
from ._content import ACK, OPEN, TEAM_CATEGORY, Action, PushContent, team_actions
from ._dispatcher import DeliveryObserver, DeliveryService, StepReport
from .webpush import VapidSigner, WebPushSender


def native_senders(config: HubConfig) -> dict[str, Sender]:
    """The FCM and APNs senders ``config`` has credentials for (raises ValueError on unusable ones)."""
    senders: dict[str, Sender] = {}
    if config.fcm_credentials:
        from .fcm import FCM_BASE_URL, FcmSender, ServiceAccount

        account = ServiceAccount.from_file(config.fcm_credentials)
        senders["fcm"] = FcmSender(account, base_url=config.fcm_base_url or FCM_BASE_URL)
    if config.apns_configured:
        import ssl

        from .apns import ApnsSender, ProviderToken, load_key_file

        assert config.apns_key and config.apns_key_id and config.apns_team_id and config.apns_topic
        token = ProviderToken(
            load_key_file(config.apns_key), key_id=config.apns_key_id, team_id=config.apns_team_id
        )
        context = None
        if config.apns_ca_file:
            context = ssl.create_default_context()
            context.load_verify_locations(cafile=str(config.apns_ca_file))
        senders["apns"] = ApnsSender(
            token,
            topic=config.apns_topic,
            environment=config.apns_environment,
            critical_entitled=config.apns_critical_entitled,
            base_url=config.apns_base_url,
            ssl_context=context,
        )
    return senders


def _read_secrets(engine: sa.Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        pem = settings_store.get_setting(conn, settings_store.VAPID_PRIVATE_KEY)
        secret = settings_store.get_setting(conn, settings_store.RECEIPT_SECRET)
        conn.rollback()
    if not pem or not secret:
        raise RuntimeError("the hub's VAPID key or receipt secret is missing from settings")
    return pem, secret


async def start_delivery(
    *,
    engine: sa.Engine,
    config: HubConfig,
    clock: Clock | None = None,
    senders: Mapping[str, Sender] | None = None,
    observer: DeliveryObserver | None = None,
) -> DeliveryService:
    """Start the dispatcher for ``engine`` with the settings of ``config``."""
    the_clock = clock or system_clock
    pem, secret = await asyncio.to_thread(_read_secrets, engine)
    owned = senders is None
    if senders is None:
        # VAPID expiry and Retry-After dates are judged by the push service's clock, so the sender
        # keeps wall time even when the hub runs on an injected clock.
        signer = VapidSigner(pem, config.vapid_subject)
        # The SSRF guard follows the hub's development flag: the same rule as at device registration.
        # Encryption in a pool of one process per core, a chunk of messages per job: the event loop
        # is the fan-out's bottleneck (docs/performance.md, "Fan-out").
        webpush = WebPushSender(
            signer,
            allow_private_endpoints=config.allow_private_endpoints,
            encrypt_workers=os.cpu_count() or 1,
        )
        senders = {"webpush": webpush, **native_senders(config)}
    service = DeliveryService(
        engine=engine,
        senders=senders,
        owned_senders=owned,
        base_url=config.base_url,
        receipt_secret=secret,
        clock=the_clock,
        ttl=config.push_ttl,
        repeat_interval=config.critical_repeat_interval,
        lease=config.delivery_lease,
        vault=await asyncio.to_thread(open_vault, config.data_dir, config.device_token_key),
        observer=observer,
    )
    service.start()
    return service


__all__ = [
    "ACK",
    "OPEN",
    "TEAM_CATEGORY",
    "Action",
    "DeliveryObserver",
    "DeliveryService",
    "Prepared",
    "PushContent",
    "PushMessage",
    "RetryPolicy",
    "Sender",
    "StepReport",
    "native_senders",
    "start_delivery",
    "team_actions",
]
