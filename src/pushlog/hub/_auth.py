"""Bearer-key authentication and scope checks for API handlers.

401 for a missing, unknown or revoked key; 403 when the key's scope is too low for the route; 429
(with Retry-After) when the key's token bucket is empty. ``last_used_at`` is written at most once a
minute per key so that reads do not turn into writes.
"""

from __future__ import annotations

from starlette.requests import Request

from ._errors import ApiError
from ._state import HubState, hub_state
from .store import keys as key_store
from .store.keys import KeyRecord

TOUCH_EVERY_SECONDS = 60.0


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def lookup_key(state: HubState, secret: str) -> KeyRecord | None:
    return await state.db_read(key_store.find_by_secret, secret)


async def authenticate(request: Request, need: str, *, rate_limited: bool = True) -> KeyRecord:
    """The request's key, checked for scope ``need`` (publish, read or admin) and rate."""
    state = hub_state(request)
    secret = bearer_secret(request)
    if secret is None:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'")
    record = await lookup_key(state, secret)
    if record is None:
        raise ApiError(401, "unauthorized", "unknown API key")
    if record.revoked_at is not None:
        raise ApiError(401, "unauthorized", "this API key has been revoked")
    if not key_store.scope_allows(record.scope, need):
        raise ApiError(
            403, "forbidden", f"this is a {record.scope} key; this request needs a {need} (or higher) key"
        )
    if rate_limited:
        wait = state.limiter.take(record.id)
        if wait > 0:
            raise ApiError(429, "rate_limited", "too many requests for this key; slow down", retry_after=wait)
    await _touch(state, record)
    return record


async def _touch(state: HubState, record: KeyRecord) -> None:
    now = state.clock()
    last = state._touched.get(record.id)
    if last is not None and now.timestamp() - last < TOUCH_EVERY_SECONDS:
        return
    state._touched[record.id] = now.timestamp()
    await state.db(key_store.touch_key, record.id, now=now)
