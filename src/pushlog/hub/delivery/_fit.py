"""Fitting a push into a transport's size limit: cut the body first, keep the title, link and actions.

Web Push (3993 bytes of plaintext), APNs (4096 bytes of payload) and FCM (4096 bytes of message) all
refuse larger messages, and a refused message never shrinks by itself, so every sender fits its
rendering of the :class:`~._content.PushContent` with :func:`fit`, the one cutting rule.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from ..._event import TRUNCATION_MARKER
from ._content import PushContent

#: A transport's rendering of a content: the bytes it would send.
Render = Callable[[PushContent], bytes]


def dumps(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (what every transport sends)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _cut(content: PushContent, name: str, *, limit: int, render: Render) -> PushContent:
    """``content`` with the longest prefix of its ``name`` text (``body`` or ``title``, ending in the
    truncation marker) whose rendering fits; empty if none does."""
    text: str = getattr(content, name)
    low, high = 0, len(text)
    while low < high:  # binary search over characters, measured in rendered bytes
        mid = (low + high + 1) // 2
        change: dict[str, Any] = {name: text[:mid] + TRUNCATION_MARKER}
        if len(render(dataclasses.replace(content, **change))) <= limit:
            low = mid
        else:
            high = mid - 1
    final: dict[str, Any] = {name: text[:low] + TRUNCATION_MARKER if low else ""}
    return dataclasses.replace(content, **final)


#: What goes, in this order, when even an empty body does not fit.
_DROPS: tuple[Callable[[PushContent], PushContent], ...] = (
    lambda c: dataclasses.replace(c, image=None),
    lambda c: dataclasses.replace(c, data={}),
    lambda c: dataclasses.replace(c, actions=()),
    lambda c: dataclasses.replace(c, link=None),
)


def fit(content: PushContent, *, limit: int, render: Render) -> bytes:
    """``render(content)``, cut to at most ``limit`` bytes by one rule for every transport.

    Too large: the ``body`` is cut (ending in the truncation marker) to the longest prefix that fits,
    and ``truncated`` is set so the app knows to fetch the whole from ``url``. If even an empty body does
    not fit, the ``image`` goes, then the custom ``data``, then the ``actions``, and only then the
    ``link``; the title is cut last. ``url`` (the hub's page for the push) always stays.
    """
    data = render(content)
    if len(data) <= limit:
        return data
    slim = dataclasses.replace(content, truncated=True, body="")
    if len(render(slim)) <= limit:
        slim = dataclasses.replace(slim, body=content.body)
        return render(_cut(slim, "body", limit=limit, render=render))
    for drop in _DROPS:
        slim = drop(slim)
        if len(data := render(slim)) <= limit:
            return data
    data = render(_cut(slim, "title", limit=limit, render=render))
    if len(data) > limit:
        raise ValueError("push does not fit even with body, image, data, actions, link and title removed")
    return data
