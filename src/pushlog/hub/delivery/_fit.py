"""Fitting a push payload into a transport's size limit: cut the body, keep the title and the link.

Web Push (3993 bytes of plaintext), APNs (4096 bytes) and FCM (4000 bytes of message) all refuse larger
messages, and a refused message never shrinks by itself, so every sender fits its payload first with
:func:`fit_payload`, the one cutting rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..._event import TRUNCATION_MARKER


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (what every transport sends)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit_payload(
    payload: dict[str, Any],
    *,
    limit: int,
    render: Callable[[dict[str, Any]], bytes] = dumps,
) -> bytes:
    """Serialise ``payload`` with ``render`` (compact JSON by default) to at most ``limit`` bytes.

    ``render`` lets a transport wrap the pushlog payload in its own document (APNs' ``aps``) while the
    cutting rule stays this one.

    Too large: the ``body`` is cut (ending in the truncation marker) to the longest prefix that fits,
    and ``truncated`` is set so the app knows to fetch the full event from ``url``. If even an empty
    body does not fit, the ``image``, the ``actions`` and then the user's ``link`` go, in that order;
    ``title`` and ``url`` (the event in the feed) stay.
    """
    data = render(payload)
    if len(data) <= limit:
        return data
    slim = dict(payload)
    slim["truncated"] = True
    body = str(slim.get("body") or "")
    slim["body"] = ""
    if len(render(slim)) <= limit:
        # Binary search the longest body prefix (in characters) whose JSON still fits.
        low, high = 0, len(body)
        while low < high:
            mid = (low + high + 1) // 2
            slim["body"] = body[:mid] + TRUNCATION_MARKER
            if len(render(slim)) <= limit:
                low = mid
            else:
                high = mid - 1
        slim["body"] = body[:low] + TRUNCATION_MARKER if low else ""
        return render(slim)
    for key in ("image", "actions", "link"):
        slim.pop(key, None)
        if len(render(slim)) <= limit:
            return render(slim)
    title = str(slim.get("title") or "")
    while title and len(render(slim)) > limit:
        title = title[: max(0, len(title) - 64)]
        slim["title"] = title + TRUNCATION_MARKER if title else ""
    data = render(slim)
    if len(data) > limit:
        raise ValueError("push payload does not fit even with body, link and title removed")
    return data
