"""Fitting a push into a transport's size limit: cut the body first, keep the title, link and actions.

Web Push (3993 bytes of plaintext), APNs (4096 bytes of payload) and FCM (4096 bytes of message) all
refuse larger messages, and a refused message never shrinks by itself, so every sender fits its
rendering of the :class:`~._content.PushContent` with :func:`fit`, the one cutting rule.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..._event import TRUNCATION_MARKER
from ._content import PushContent

#: A transport's rendering of a content: the bytes it would send.
Render = Callable[[PushContent], bytes]


def dumps(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (what every transport sends)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


#: Stands in for a value left open in :class:`Spliced` (random per process: no text carries it).
_OPEN: Final = secrets.token_hex(16)
_OPEN_VALUE: Final = re.compile(b'"' + _OPEN.encode() + b':([A-Za-z_]+)"')
_quoted: Final[Callable[[str], str]] = json.encoder.encode_basestring


class Spliced:
    """:func:`dumps` of a document with some of its values left open, filled in per delivery.

    A fan-out renders one content for every device, and only a few values (the delivery id, its
    receipt, the round) differ between them: :meth:`build` encodes the document once around those,
    and :meth:`fill` returns exactly ``dumps`` of the document with the given values, for the cost of
    encoding them alone.
    """

    __slots__ = ("_names", "_parts")

    def __init__(self, parts: tuple[bytes, ...], names: tuple[str, ...]) -> None:
        self._parts = parts
        self._names = names

    @classmethod
    def build(cls, document: Mapping[str, Any], open_values: Sequence[str]) -> Spliced | None:
        """``document`` with the values of ``open_values`` left open (each must be in it), or None if
        its encoding cannot be split around them."""
        doc = dict(document)
        for name in open_values:
            if name not in doc:
                return None
            doc[name] = f"{_OPEN}:{name}"
        pieces = _OPEN_VALUE.split(dumps(doc))
        names = tuple(name.decode() for name in pieces[1::2])
        if sorted(names) != sorted(open_values):  # never, unless the document's text held the marker
            return None
        return cls(tuple(pieces[0::2]), names)

    def fill(self, values: Mapping[str, Any]) -> bytes:
        """The document's encoding with ``values`` (JSON values: strings, numbers) in the open places."""
        parts = self._parts
        out = [parts[0]]
        for name, part in zip(self._names, parts[1:], strict=True):
            value = values[name]
            # a string as json.dumps(ensure_ascii=False) writes it, without its per-call set-up
            text = _quoted(value) if type(value) is str else json.dumps(value, ensure_ascii=False)
            out.append(text.encode("utf-8"))
            out.append(part)
        return b"".join(out)


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
