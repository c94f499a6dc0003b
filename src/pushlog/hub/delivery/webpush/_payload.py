"""The Web Push rendering of a push: the pushlog JSON (:func:`~.._content.document`) the service
worker (hub/static/sw.js) reads, fitted to :data:`~._encrypt.MAX_PLAINTEXT` bytes by the shared rule."""

from __future__ import annotations

from typing import Final

from .._base import PushMessage
from .._content import PushContent
from .._fit import Spliced, dumps, fit
from ._encrypt import MAX_PLAINTEXT

#: A message's own values in its document: everything else is the same for every device of a content.
_PER_DELIVERY: Final = ("delivery_id", "receipt", "round")


def render(message: PushMessage) -> bytes:
    """The plaintext of one Web Push message: at most :data:`MAX_PLAINTEXT` bytes of JSON."""
    return fit(message.content, limit=MAX_PLAINTEXT, render=lambda content: dumps(message.document(content)))


class Renderer:
    """:func:`render` for the many messages of one content (a fan-out): the content's JSON is encoded
    once (:class:`~.._fit.Spliced`) and each message's delivery id, receipt and round are spliced in;
    the bytes are :func:`render`'s. A message too large for one push takes :func:`render`'s fitting.

    Keeps the encodings of the last ``keep`` contents it saw (by identity: the dispatcher builds one
    content per event and hands that same object to every device's message).
    """

    def __init__(self, *, keep: int = 64) -> None:
        self._keep = keep
        self._kept: dict[tuple[int, bool], tuple[PushContent, Spliced | None]] = {}

    def __call__(self, message: PushMessage) -> bytes:
        key = (id(message.content), message.receipt is None)
        kept = self._kept.get(key)
        if kept is None or kept[0] is not message.content:
            if len(self._kept) >= self._keep:
                self._kept.clear()
            opened = _PER_DELIVERY if message.receipt is not None else ("delivery_id", "round")
            kept = self._kept[key] = (message.content, Spliced.build(message.document(), opened))
        spliced = kept[1]
        if spliced is not None:
            data = spliced.fill(
                {"delivery_id": message.delivery_id, "receipt": message.receipt, "round": message.round}
            )
            if len(data) <= MAX_PLAINTEXT:  # what fit() returns for a push that fits whole
                return data
        return render(message)
