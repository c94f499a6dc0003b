"""The Web Push rendering of a push: the pushlog JSON (:func:`~.._content.document`) the service
worker (hub/static/sw.js) reads, fitted to :data:`~._encrypt.MAX_PLAINTEXT` bytes by the shared rule."""

from __future__ import annotations

from .._base import PushMessage
from .._fit import dumps, fit
from ._encrypt import MAX_PLAINTEXT


def render(message: PushMessage) -> bytes:
    """The plaintext of one Web Push message: at most :data:`MAX_PLAINTEXT` bytes of JSON."""
    return fit(message.content, limit=MAX_PLAINTEXT, render=lambda content: dumps(message.document(content)))
