"""The Web Push ``Topic`` header from an event's collapse key (fingerprint).

RFC 8030 §5.4: at most 32 characters of the URL- and filename-safe base64 alphabet. A newer message
with the same topic replaces one the push service still holds, so repeats of an event collapse on the
phone. Keys that already qualify are used as they are; anything else is hashed (SHA-256, base64url,
first 32 characters), which keeps equal keys equal.
"""

from __future__ import annotations

import functools
import hashlib
import re

from ._vapid import b64url

_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


@functools.lru_cache(maxsize=1024)
def topic_for(collapse_key: str | None) -> str | None:
    """A valid Topic for ``collapse_key``, or None when there is none."""
    if not collapse_key:
        return None
    if _TOPIC.fullmatch(collapse_key):
        return collapse_key
    return b64url(hashlib.sha256(collapse_key.encode("utf-8")).digest())[:32]
