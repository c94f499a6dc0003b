"""From a claimed notification delivery to a :class:`PushMessage`: the user's own rendered text.

The payload has the shape of an event's push payload (docs/architecture.md) so the service worker
and the native apps read one format: ``notification_id`` instead of ``event_id``, the notification's
``data`` and ``category``, its ``link`` (or the template's rendered one) as ``url``, its own
``actions``. Level decides urgency and TTL defaults as for events (DESIGN §2).
"""

from __future__ import annotations

from typing import Any

from ..._levels import POLICIES, level_from_number
from .. import receipts
from ..delivery._base import PushMessage
from ..store.outbox import Claimed
from ._render import render


def notification_message(claim: Claimed, *, receipt_secret: str, ttl: int) -> PushMessage:
    """The message for one claimed delivery of a notification; :class:`RenderError` when the
    template does not render for this user."""
    notification = claim.notification
    assert notification is not None
    user = claim.user or {}
    options: dict[str, Any] = dict(notification.get("options") or {})
    locale = user.get("locale") or claim.device.get("locale")
    text = render(notification["content"], user=user, data=options.get("data") or {}, locale=locale)
    level = level_from_number(int(notification["level"]))
    policy = POLICIES[level]
    key = notification.get("collapse_key") or notification["id"]
    link = text.link or options.get("link")
    payload: dict[str, Any] = {
        "v": 1,
        "notification_id": notification["id"],
        "delivery_id": claim.id,
        "receipt": receipts.make_token(receipt_secret, claim.id),
        "title": text.title,
        "body": text.body or "",
        "level": level.wire_name,
        "url": link,
        "link": link,
        "tag": key,
        "require_interaction": policy.urgent,
        "actions": [dict(a) for a in options.get("actions") or []],
        "data": options.get("data") or {},
        "round": 0,
    }
    if options.get("category"):
        payload["category"] = options["category"]
    image = text.image or options.get("image")
    if image:
        payload["image"] = image
    return PushMessage(
        delivery_id=claim.id,
        event_id=str(notification["id"]),
        payload=payload,
        ttl=int(notification["ttl"] if notification.get("ttl") is not None else ttl),
        urgency=policy.webpush_urgency or "normal",
        collapse_key=key,
        level=level.wire_name,
    )
