"""API keys: creation, lookup by secret, listing, revocation.

A key is ``pl_<scope>_<32 url-safe chars>``. Only its SHA-256 (hex) and an 8-character prefix of the
random part are stored; the secret is shown once at creation. Scopes (DESIGN §5): ``publish < read <
admin`` are ordered (a key may do what its scope and every lower scope may do); ``users`` is a branch
of its own for an app's backend: its users' devices (and what is built on them), never the team's
feed, team devices or stream, nor publishing. ``admin`` may do everything; ``read`` does not imply
``users`` and ``users`` implies nothing else.

Revoking a key removes the team devices it registered (they stop receiving pushes at once; the phone
signs in again with a live key to re-register), and the last live admin key cannot be revoked, so
the hub can always be managed over its API.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Final, NewType

import sqlalchemy as sa

from .._clock import format_time
from ._tables import keys
from .devices import remove_devices_of_key

SCOPES: Final = ("publish", "read", "admin", "users")
#: The team's ordered scopes; ``users`` is outside this ladder.
_RANK: Final = {scope: rank for rank, scope in enumerate(("publish", "read", "admin"))}


def scope_allows(have: str, need: str) -> bool:
    """Whether a key of scope ``have`` may do what needs ``need``."""
    if have == "admin":
        return True
    if "users" in (have, need):
        return have == need
    return _RANK.get(have, -1) >= _RANK[need]


#: The digest a key is stored and looked up by; only it, never the secret, is kept after a request.
SecretHash = NewType("SecretHash", str)


def hash_secret(secret: str) -> SecretHash:
    return SecretHash(hashlib.sha256(secret.encode()).hexdigest())


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    id: str
    name: str
    scope: str
    prefix: str
    created_at: _dt.datetime
    revoked_at: _dt.datetime | None
    last_used_at: _dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": format_time(self.created_at),
            "revoked_at": format_time(self.revoked_at),
            "last_used_at": format_time(self.last_used_at),
        }


def _record(row: sa.Row[Any]) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        scope=row.scope,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_key(conn: sa.Connection, *, name: str, scope: str, now: _dt.datetime) -> tuple[KeyRecord, str]:
    """Create a key; return its record and the secret (the only time the secret exists)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    random_part = _random_part()
    secret = f"pl_{scope}_{random_part}"
    record = KeyRecord(
        id=f"key_{secrets.token_hex(8)}",
        name=name,
        scope=scope,
        prefix=random_part[:8],
        created_at=now,
        revoked_at=None,
        last_used_at=None,
    )
    conn.execute(
        keys.insert().values(
            id=record.id,
            name=name,
            scope=scope,
            prefix=record.prefix,
            hash=hash_secret(secret),
            created_at=now,
        )
    )
    return record, secret


def _random_part() -> str:
    """32 url-safe characters that never start with ``-``, so the 8-character prefix a user types
    (``pushlog keys revoke PREFIX``) is never read as a command-line option."""
    while True:
        part = secrets.token_urlsafe(24)
        if not part.startswith("-"):
            return part


def find_by_secret(conn: sa.Connection, secret: str) -> KeyRecord | None:
    """The key with this secret (revoked or not), or ``None``."""
    return find_by_hash(conn, hash_secret(secret))


def find_by_hash(conn: sa.Connection, digest: SecretHash) -> KeyRecord | None:
    """The key whose secret hashes to ``digest`` (:func:`hash_secret`), revoked or not, or ``None``."""
    row = conn.execute(sa.select(keys).where(keys.c.hash == digest)).first()
    return None if row is None else _record(row)


def list_keys(conn: sa.Connection) -> list[KeyRecord]:
    rows = conn.execute(sa.select(keys).order_by(keys.c.created_at, keys.c.id)).all()
    return [_record(row) for row in rows]


def get_key(conn: sa.Connection, key_id: str) -> KeyRecord | None:
    row = conn.execute(sa.select(keys).where(keys.c.id == key_id)).first()
    return None if row is None else _record(row)


def find_key(conn: sa.Connection, ident: str) -> KeyRecord | None:
    """A key by id, by stored prefix, or by its full secret (for the CLI)."""
    found = get_key(conn, ident)
    if found is None and ident.startswith("pl_"):
        found = find_by_secret(conn, ident)
    if found is None:
        rows = conn.execute(sa.select(keys).where(keys.c.prefix == ident)).all()
        if len(rows) == 1:
            found = _record(rows[0])
    return found


class LastAdminKeyError(Exception):
    """Revoking this key would leave the hub without a live admin key."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"key {key_id} is the last admin key: create another admin key first, then revoke this one"
        )


def revoke_key(conn: sa.Connection, key_id: str, *, now: _dt.datetime) -> KeyRecord | None:
    """Revoke a key (idempotent) and remove the team devices it registered; ``None`` if there is no such key.

    Raises :class:`LastAdminKeyError` for the last live admin key. The live admin rows are locked
    first (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction already serialises), so two
    concurrent revocations cannot each leave the other as the last one and both succeed.
    """
    found = get_key(conn, key_id)
    if found is None or found.revoked_at is not None:
        return found
    if found.scope == "admin":
        live_admins = conn.execute(
            sa.select(keys.c.id).where(keys.c.scope == "admin", keys.c.revoked_at.is_(None)).with_for_update()
        ).all()
        if [row.id for row in live_admins] == [key_id]:
            raise LastAdminKeyError(key_id)
    conn.execute(keys.update().where(keys.c.id == key_id, keys.c.revoked_at.is_(None)).values(revoked_at=now))
    remove_devices_of_key(conn, key_id)
    return get_key(conn, key_id)


def touch_key(conn: sa.Connection, key_id: str, *, now: _dt.datetime) -> None:
    conn.execute(keys.update().where(keys.c.id == key_id).values(last_used_at=now))
