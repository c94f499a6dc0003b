"""The key cache (hub/_keycache.py): found keys are kept for the TTL, forgotten on revocation,
bounded; unknown secrets are never kept."""

from __future__ import annotations

import datetime as _dt

from pushlog.hub import _keycache
from pushlog.hub._keycache import KeyCache
from pushlog.hub.store.keys import KeyRecord, hash_secret

NOW = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)


def _record(key_id: str) -> KeyRecord:
    return KeyRecord(
        id=key_id,
        name=key_id,
        scope="publish",
        prefix="abcdefgh",
        created_at=NOW,
        revoked_at=None,
        last_used_at=None,
    )


def test_a_found_key_is_kept_for_the_ttl_then_read_again() -> None:
    now = [100.0]
    cache = KeyCache(ttl=1.0, clock=lambda: now[0])
    assert cache.get(hash_secret("s1")) is None
    cache.put(hash_secret("s1"), _record("k1"))
    now[0] = 100.9
    found = cache.get(hash_secret("s1"))
    assert found is not None and found.id == "k1"
    now[0] = 101.0
    assert cache.get(hash_secret("s1")) is None


def test_forgetting_a_key_drops_every_secret_of_it_and_the_cache_is_bounded() -> None:
    cache = KeyCache(ttl=60.0, clock=lambda: 0.0)
    cache.put(hash_secret("s1"), _record("k1"))
    cache.put(hash_secret("s2"), _record("k2"))
    cache.forget("k1")
    assert cache.get(hash_secret("s1")) is None and cache.get(hash_secret("s2")) is not None
    for n in range(_keycache.MAX_KEYS + 5):
        cache.put(hash_secret(f"x{n}"), _record(f"x{n}"))
    assert len(cache._found) <= _keycache.MAX_KEYS
