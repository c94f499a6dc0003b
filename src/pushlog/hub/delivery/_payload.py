"""From an outbox row to a :class:`PushMessage`: the push payload (docs/architecture.md), TTL,
``Urgency`` by level (DESIGN §2) and the collapse key.

The payload carries a receipt token (``pushlog.hub.receipts.make_token``) so the service worker can
report "delivered"/"opened" and acknowledge without a key, and ``url``, the event in the hub's feed,
which the Web Push sender keeps even when it has to shorten the body.
"""

from __future__ import annotations

from typing import Any

from ..._levels import POLICIES, level_from_number
from .. import receipts
from .._clock import format_time
from ..attention import summary_fields
from ..store.outbox import Claimed
from ._base import PushMessage

ACTIONS = ({"action": "open", "title": "Open"}, {"action": "ack", "title": "Acknowledge"})


def collapse_key(event: dict[str, Any]) -> str:
    """Repeats of one event (same fingerprint) replace each other; else the event id itself."""
    return str(event.get("fingerprint") or event["id"])


def build_message(claim: Claimed, *, base_url: str, receipt_secret: str, ttl: int) -> PushMessage:
    """The message for one claimed delivery."""
    event = claim.event
    level = level_from_number(int(event["level"]))
    policy = POLICIES[level]
    key = collapse_key(event)
    payload: dict[str, Any] = {
        "v": 1,
        "event_id": event["id"],
        "delivery_id": claim.id,
        "receipt": receipts.make_token(receipt_secret, claim.id),
        "title": event["title"],
        "body": event.get("body") or "",
        "level": level.wire_name,
        "ts": format_time(event.get("ts")),
        "count": int(event.get("count") or 1),
        "url": f"{base_url.rstrip('/')}/#/events/{event['id']}",
        "link": event.get("link"),
        "tag": key,
        "require_interaction": policy.urgent,
        "actions": [dict(a) for a in ACTIONS],
        "round": claim.round,
    }
    if event.get("image"):
        payload["image"] = event["image"]
    if claim.summary:  # this push stands for several that waited (quiet hours, caps, digests)
        payload.update(summary_fields(claim.summary, base_url=base_url))
    return PushMessage(
        delivery_id=claim.id,
        event_id=str(event["id"]),
        payload=payload,
        ttl=int(ttl),
        urgency=policy.webpush_urgency or "normal",
        collapse_key=key,
        level=level.wire_name,
    )
