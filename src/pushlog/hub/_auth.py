"""Bearer-key authentication and scope checks for API handlers.

401 for a missing, unknown or revoked key; 403 when the key's scope is too low for the route; 429
(with Retry-After) when the key's token bucket is empty. ``last_used_at`` is written at most once a
minute per key so that reads do not turn into writes.

Guessing keys is throttled per client address: each 401 for a key that was sent (unknown or
revoked; a missing header costs nothing) takes a token from the address's bucket
(``HubConfig.auth_failures_per_minute``, refilling over a minute), and an address with none left gets
429 ``too_many_auth_failures`` with Retry-After before its key is even looked up, right or wrong.
The address is the TCP peer, or behind a reverse proxy named in ``HubConfig.forwarded_allow_ips`` the
client that proxy forwarded for (uvicorn's proxy-headers middleware rewrites ``request.client``).
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


def client_address(request: Request) -> str:
    """The client's address (what failed authentications are counted by)."""
    return request.client.host if request.client is not None else "unknown"


async def lookup_key(state: HubState, secret: str) -> KeyRecord | None:
    """The key with ``secret`` (revoked or not), or None; recently found keys come from
    :attr:`HubState.keys` without a database read (hub/_keycache.py), kept by the secret's digest."""
    digest = key_store.hash_secret(secret)
    record = state.keys.get(digest)
    if record is None:
        record = await state.db_read(key_store.find_by_hash, digest)
        if record is not None:
            state.keys.put(digest, record)
    return record


async def authenticate(request: Request, need: str, *also: str, rate_limited: bool = True) -> KeyRecord:
    """The request's key, checked for rate and for scope ``need`` (publish, read, users or admin), or
    any of ``also`` (a route open to two branches, e.g. read for team devices and users for app
    users' devices, checks which one the key is afterwards)."""
    needs = (need, *also)
    state = hub_state(request)
    secret = bearer_secret(request)
    if secret is None:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'")
    address = client_address(request)
    wait = state.auth_failures.wait(address)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_auth_failures",
            "too many requests with unknown or revoked keys from this address; retry later",
            retry_after=wait,
        )
    record = await lookup_key(state, secret)
    if record is None or record.revoked_at is not None:
        state.auth_failures.take(address)
        detail = "unknown API key" if record is None else "this API key has been revoked"
        raise ApiError(401, "unauthorized", detail)
    if not any(key_store.scope_allows(record.scope, scope) for scope in needs):
        wanted = " or ".join(needs)
        raise ApiError(
            403, "forbidden", f"this is a {record.scope} key; this request needs a {wanted} (or admin) key"
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
