"""Recently looked-up API keys, so a request does not wait for a database read (a thread hand-off)
to learn what its key is.

Only keys found are kept (an unknown secret is looked up every time, so a key created in another
process works at once), each for :data:`KEY_CACHE_SECONDS` of wall time. A key revoked through this
process's API is forgotten at once (:meth:`KeyCache.forget`); one revoked by another hub process or
by ``pushlog keys revoke`` stops working here within :data:`KEY_CACHE_SECONDS`. Bounded: past
:data:`MAX_KEYS` entries the cache starts over.

Entries are keyed by the secret's digest (:func:`pushlog.hub.store.keys.hash_secret`, the one the
key store looks keys up by), so raw secrets never sit in this long-lived dict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from .store.keys import KeyRecord, SecretHash

#: How long a looked-up key is trusted without reading it again (seconds).
KEY_CACHE_SECONDS: Final = 1.0
#: Keys kept at most (a hub has a handful; this bounds a flood of distinct valid keys).
MAX_KEYS: Final = 1024


class KeyCache:
    def __init__(
        self, *, ttl: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._found: dict[SecretHash, tuple[float, KeyRecord]] = {}

    def get(self, digest: SecretHash) -> KeyRecord | None:
        """The key whose secret hashes to ``digest`` if it was looked up within the TTL, else None
        (look it up)."""
        hit = self._found.get(digest)
        if hit is None:
            return None
        if self._clock() >= hit[0]:
            del self._found[digest]
            return None
        return hit[1]

    def put(self, digest: SecretHash, record: KeyRecord) -> None:
        if len(self._found) >= MAX_KEYS:
            self._found.clear()
        self._found[digest] = (self._clock() + self._ttl, record)

    def forget(self, key_id: str) -> None:
        """The key ``key_id`` changed (revoked): the next request reads it again."""
        for digest in [d for d, (_, record) in self._found.items() if record.id == key_id]:
            del self._found[digest]
