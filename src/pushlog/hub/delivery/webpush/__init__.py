"""Web Push (RFC 8030) with message encryption (RFC 8291) and VAPID (RFC 8292).

The hub core uses :func:`generate_vapid_keys` once to create the hub's key (PEM, kept in settings) and
:func:`public_key_b64` to publish the ``applicationServerKey`` browsers subscribe with. The dispatcher
sends through :class:`WebPushSender`.
"""

from ...._retry_after import parse_retry_after
from ._encrypt import MAX_PLAINTEXT, SubscriptionKeyError, encrypt, parse_keys
from ._payload import render
from ._sender import WebPushSender
from ._status import classify
from ._topic import topic_for
from ._vapid import VapidSigner, generate_vapid_keys, origin_of, public_key_b64

__all__ = [
    "MAX_PLAINTEXT",
    "SubscriptionKeyError",
    "VapidSigner",
    "WebPushSender",
    "classify",
    "encrypt",
    "generate_vapid_keys",
    "origin_of",
    "parse_keys",
    "parse_retry_after",
    "public_key_b64",
    "render",
    "topic_for",
]
