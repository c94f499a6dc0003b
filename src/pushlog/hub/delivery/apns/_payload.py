"""The APNs rendering of a push: headers and the JSON payload for one device token.

The payload is ``{"aps": {...}, ...custom keys}``:

* ``aps.alert`` ``{title, body}``, ``sound`` and ``interruption-level`` from the level (DESIGN §2:
  WARNING active, ERROR time-sensitive, CRITICAL ``critical`` with a critical sound only when the app
  holds Apple's entitlement, else time-sensitive);
* ``aps.category`` = the content's category (the app registers its actions under that identifier;
  team pushes use ``pushlog.event`` with ``open`` and ``ack``);
* ``aps.mutable-content: 1`` when there is an image, so the app's notification service extension can
  download ``image`` and attach it;
* custom keys: the pushlog JSON (:func:`~.._content.document`) without title and body: ``image``,
  ``link``, ``actions`` (the event's own buttons for a content extension), ``data``, ``url``, the
  receipt and the ids the app reports back with.

Headers: ``apns-topic``, ``apns-push-type: alert``, ``apns-priority`` from the level, ``apns-expiration``
(now + TTL) and ``apns-collapse-id`` (the collapse key, or its SHA-256 hex digest when over 64 bytes).
The payload is fitted to :data:`MAX_PAYLOAD_BYTES` by the shared rule (:func:`~.._fit.fit`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from ...._levels import POLICIES, parse_level
from .._base import PushMessage
from .._content import PushContent
from .._fit import dumps, fit

MAX_PAYLOAD_BYTES: Final = 4096
MAX_COLLAPSE_ID_BYTES: Final = 64
CRITICAL_SOUND: Final = {"critical": 1, "name": "default", "volume": 1.0}


def collapse_id(key: str) -> str:
    """``key`` when it fits APNs' 64 bytes, else its SHA-256 hex digest (64 characters)."""
    if len(key.encode("utf-8")) <= MAX_COLLAPSE_ID_BYTES:
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def interruption_level(level: str, *, critical_entitled: bool) -> str:
    """``aps.interruption-level`` for a level name (DESIGN §2)."""
    parsed = parse_level(level)
    if POLICIES[parsed].urgent and critical_entitled:
        return "critical"
    return POLICIES[parsed].apns_interruption_level or "active"


def payload(message: PushMessage, content: PushContent, *, critical_entitled: bool) -> dict[str, Any]:
    """The APNs JSON for ``content`` (one cut of ``message.content``)."""
    level = interruption_level(message.level, critical_entitled=critical_entitled)
    aps: dict[str, Any] = {
        "alert": {"title": content.title, "body": content.body},
        "sound": dict(CRITICAL_SOUND) if level == "critical" else "default",
        "interruption-level": level,
    }
    if content.category:
        aps["category"] = content.category
    if content.image:
        aps["mutable-content"] = 1
    document = message.document(content)
    custom = {k: v for k, v in document.items() if k not in ("title", "body") and v is not None}
    return {"aps": aps, **custom}


def headers(message: PushMessage, *, topic: str, now: float) -> dict[str, str]:
    """The request headers (without ``authorization``)."""
    out = {
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": str(POLICIES[parse_level(message.level)].apns_priority or 10),
        "apns-expiration": str(int(now) + int(message.ttl)),
    }
    if message.collapse_key:
        out["apns-collapse-id"] = collapse_id(message.collapse_key)
    return out


def render(message: PushMessage, *, critical_entitled: bool) -> bytes:
    """The fitted payload (at most :data:`MAX_PAYLOAD_BYTES` bytes)."""
    return fit(
        message.content,
        limit=MAX_PAYLOAD_BYTES,
        render=lambda content: dumps(payload(message, content, critical_entitled=critical_entitled)),
    )
