"""The FCM HTTP v1 rendering of a push: the ``messages:send`` body for one registration token.

* ``notification``: ``title``, ``body`` and ``image`` (what the system shows when the app is in the
  background; FCM uses ``image`` on Android and, through the app's notification service extension,
  on iOS);
* ``data``: the pushlog JSON (:func:`~.._content.document`) without title, body and image (already in
  ``notification``), every value a string (FCM's data map takes strings only: numbers, booleans, the
  ``actions`` list and the custom ``data`` object are JSON text);
* ``android``: ``priority`` from the level (DESIGN §2), an explicit ``ttl``, the ``collapse_key``, and
  ``notification.click_action`` = the content's category (the intent action the Android app declares
  for it);
* ``apns`` (iOS apps on Firebase): ``aps.category`` and, with an image, ``mutable-content: 1`` so the
  notification service extension can attach it.

No ``webpush`` override: browsers get pushes from the hub directly, and repeating the link there would
halve the room left for it. Every value is written once, so the shared rule (:func:`~.._fit.fit`)
fits the whole body to :data:`MAX_MESSAGE_BYTES` by cutting the same fields as on the other transports.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...._levels import POLICIES, parse_level
from .._base import PushMessage
from .._content import PushContent
from .._fit import dumps, fit

#: FCM refuses messages over 4096 bytes.
MAX_MESSAGE_BYTES: Final = 4096


def android_priority(level: str) -> str:
    """FCM ``android.priority`` for a level name (DESIGN §2)."""
    return POLICIES[parse_level(level)].fcm_priority or "NORMAL"


def data_map(document: dict[str, Any]) -> dict[str, str]:
    """FCM's ``data``: every non-null value as a string (JSON text unless it already is one)."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        for key, value in document.items()
        if value is not None
    }


def message_body(token: str, message: PushMessage, content: PushContent) -> dict[str, Any]:
    """The ``messages:send`` JSON for ``content`` (one cut of ``message.content``) to ``token``."""
    notification: dict[str, Any] = {"title": content.title, "body": content.body}
    android_notification: dict[str, Any] = {}
    aps: dict[str, Any] = {}
    if content.image:
        notification["image"] = content.image
        aps["mutable-content"] = 1
    if content.category:
        android_notification["click_action"] = aps["category"] = content.category
    android: dict[str, Any] = {"priority": android_priority(message.level), "ttl": f"{int(message.ttl)}s"}
    if message.collapse_key:
        android["collapse_key"] = message.collapse_key
    if android_notification:
        android["notification"] = android_notification
    document = message.document(content)
    for key in ("title", "body", "image"):
        document.pop(key, None)
    body: dict[str, Any] = {
        "token": token,
        "notification": notification,
        "data": data_map(document),
        "android": android,
    }
    if aps:
        body["apns"] = {"payload": {"aps": aps}}
    return {"message": body}


def render(token: str, message: PushMessage) -> bytes:
    """The fitted JSON body of ``messages:send`` (at most :data:`MAX_MESSAGE_BYTES` bytes)."""
    return fit(
        message.content,
        limit=MAX_MESSAGE_BYTES,
        render=lambda content: dumps(message_body(token, message, content)),
    )
