"""What every push sender (Web Push, FCM, APNs) takes and returns.

The dispatcher builds one :class:`PushMessage` per (event, device) delivery (a
:class:`~._content.PushContent` plus the delivery's receipt) and hands it to the sender for the device's
kind, which renders the content in its transport's shape. Senders never touch the database: they
report a :class:`SendResult` and the dispatcher records it in the outbox.

A send is two steps: :meth:`Sender.prepare` does everything but the request (the transport's body,
encryption, headers) and :meth:`Prepared.post` sends it. The dispatcher prepares an event's first
pushes while the ingest transaction commits and posts them only once it has (nothing leaves the hub
before the 202's promise holds; a commit that fails discards them).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ._content import PushContent, document


class Outcome(enum.StrEnum):
    SENT = "sent"  # the push service accepted it (201 for Web Push)
    RETRY = "retry"  # transient: try again after retry_after (or the dispatcher's backoff)
    GONE = "gone"  # the subscription/token is dead: remove the device
    FAILED = "failed"  # permanent for this message (413, bad request, config error): never retry


@dataclass(frozen=True, slots=True, kw_only=True)
class PushMessage:
    """One delivery of a :class:`PushContent` to one device.

    ``receipt`` is the token the device sends back with "delivered"/"opened" and acknowledge
    (:mod:`pushlog.hub.receipts`); ``round`` counts CRITICAL re-pushes (0 = first push).
    """

    delivery_id: str
    content: PushContent
    ttl: int  # seconds; always explicit
    receipt: str | None = None
    round: int = 0

    @property
    def urgency(self) -> str:
        """Web Push ``Urgency``: very-low | low | normal | high (from the content's level)."""
        return self.content.urgency

    @property
    def level(self) -> str:
        return self.content.level.wire_name

    @property
    def collapse_key(self) -> str | None:
        """Web Push Topic / APNs collapse-id / FCM collapse_key."""
        return self.content.collapse_key

    def document(self, content: PushContent | None = None) -> dict[str, Any]:
        """The pushlog JSON of this delivery for ``content`` (default: the message's, unfitted)."""
        return document(
            self.content if content is None else content,
            delivery_id=self.delivery_id,
            receipt=self.receipt,
            repush=self.round,
        )

    @property
    def payload(self) -> dict[str, Any]:
        """The pushlog JSON before any transport cut it to size."""
        return self.document()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None  # seconds, from Retry-After when the service sent one
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebPushTarget:
    """A Web Push subscription as the browser gave it (PushSubscription.toJSON())."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FcmTarget:
    """An FCM registration token (Android, or an iOS/web app using Firebase)."""

    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApnsTarget:
    """An APNs device token (hex) and when the device last registered it.

    ``registered_at`` (epoch seconds) lets the sender keep a token APNs calls Unregistered as of a time
    before the app registered it again.
    """

    token: str
    registered_at: float | None = None


#: What a sender is given to reach one device.
Target = WebPushTarget | FcmTarget | ApnsTarget


class Prepared:
    """One message's request, built and ready to go: :meth:`post` sends it (once), :meth:`discard`
    gives up on it. Either releases what preparing it held (``release``: the sender's bound on bodies
    prepared ahead of their requests)."""

    __slots__ = ("_post", "_release")

    def __init__(
        self, post: Callable[[], Awaitable[SendResult]], *, release: Callable[[], None] | None = None
    ) -> None:
        self._post = post
        self._release = release

    async def post(self) -> SendResult:
        """Send the request; never raises for what the push service answered."""
        try:
            return await self._post()
        finally:
            self.discard()

    def discard(self) -> None:
        """Release what the prepared request holds (idempotent); it is not sent."""
        release, self._release = self._release, None
        if release is not None:
            release()


class Sender(Protocol):
    """A push sender for one device kind (the dispatcher holds one per kind: webpush, fcm, apns)."""

    async def prepare(self, target: Target, message: PushMessage) -> Prepared | SendResult:
        """Build the request for ``message`` to ``target`` without sending it, or the FAILED/RETRY
        result that stops this send before any request (bad input, a refused endpoint, closed)."""
        ...

    async def aclose(self) -> None:
        """Release connections (called once the dispatcher stops, for senders it owns)."""
        ...


async def send(sender: Sender, target: Target, message: PushMessage) -> SendResult:
    """Prepare and post at once (each sender's ``send`` is this)."""
    prepared = await sender.prepare(target, message)
    return prepared if isinstance(prepared, SendResult) else await prepared.post()
