"""Preference documents (``preferences``) and the app's categories (``categories``).

A document belongs to a device (``"device"``, its id) or to an app user (``"user"``, the app's user
id as a string; no users table is needed). What a device gets is decided with its :class:`Recipient`
(:func:`recipients`): the device's own document, else its user's, else the defaults.

Every push goes through :func:`recipients`, which needs whether any document exists and the whole
categories table: on SQLite both are kept in memory per database (:class:`_Tables`, in the engine's
memo: ``_engine.engine_memo``), since every
writer of the two tables is in this module and one hub process is the only writer. A write drops
them at once and again when its transaction ends (a read inside that transaction may have seen the
write, which a rollback undoes); SQLite's write transactions never overlap (``BEGIN IMMEDIATE``), so
the next one reads what was committed. Read-only transactions (which may run beside a write, on an
older snapshot) and PostgreSQL (other hub processes write too) read the tables every time.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import sqlalchemy as sa

from ..attention import Category, PreferenceDocument, Recipient
from ._engine import engine_memo, is_read_only
from ._prepared import Prepared
from ._tables import categories, devices, preferences

SubjectKind = Literal["device", "user"]
DEVICE: Final = "device"
USER: Final = "user"


@dataclass(slots=True)
class _Tables:
    """What :func:`recipients` knows of a database's whole tables (None: read it again)."""

    any_documents: bool | None = None
    categories: dict[str, Category] | None = None


#: Key of :class:`_Tables` in the engine's memo (``_engine.engine_memo``).
_MEMO_KEY: Final = "preferences.tables"


def _known(conn: sa.Connection) -> _Tables | None:
    """The tables as kept for ``conn``'s database, or None where a kept copy could be stale (see
    the module docstring) or the engine keeps nothing."""
    if conn.dialect.name != "sqlite" or is_read_only(conn):
        return None
    memo = engine_memo(conn)
    if memo is None:
        return None
    known = memo.get(_MEMO_KEY)
    if not isinstance(known, _Tables):
        known = memo[_MEMO_KEY] = _Tables()
    return known


def _changed(conn: sa.Connection) -> None:
    """A write to ``preferences`` or ``categories``: forget what was kept, now and when the write's
    transaction ends (committed or rolled back)."""
    memo = engine_memo(conn)
    if memo is None:
        return

    def forget(*_: Any) -> None:
        memo.pop(_MEMO_KEY, None)

    forget()
    if conn.dialect.name == "sqlite":
        sa.event.listen(conn, "commit", forget, once=True)
        sa.event.listen(conn, "rollback", forget, once=True)


def _document(raw: Any) -> PreferenceDocument:
    return msgspec.convert(raw, PreferenceDocument)


def get_document(conn: sa.Connection, kind: SubjectKind, subject_id: str) -> PreferenceDocument | None:
    """The stored document, or None when the subject never chose (the defaults apply)."""
    raw = conn.execute(
        sa.select(preferences.c.document).where(
            preferences.c.subject_kind == kind, preferences.c.subject_id == subject_id
        )
    ).scalar_one_or_none()
    return None if raw is None else _document(raw)


def put_document(
    conn: sa.Connection,
    kind: SubjectKind,
    subject_id: str,
    document: PreferenceDocument,
    *,
    now: _dt.datetime,
) -> None:
    """Replace the subject's document (insert on first use)."""
    raw = msgspec.to_builtins(document)
    _changed(conn)
    changed = conn.execute(
        preferences.update()
        .where(preferences.c.subject_kind == kind, preferences.c.subject_id == subject_id)
        .values(document=raw, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            preferences.insert().values(
                subject_kind=kind, subject_id=subject_id, document=raw, updated_at=now
            )
        )


def delete_document(conn: sa.Connection, kind: SubjectKind, subject_id: str) -> None:
    _changed(conn)
    conn.execute(
        preferences.delete().where(preferences.c.subject_kind == kind, preferences.c.subject_id == subject_id)
    )


#: The gate's reads, compiled once per connection: on PostgreSQL every ingest transaction makes them.
_CATEGORIES: Final = Prepared(sa.select(categories).order_by(categories.c.name))
_ANY_DOCUMENT: Final = Prepared(sa.select(preferences.c.subject_id).limit(1))


def list_categories(conn: sa.Connection) -> dict[str, Category]:
    rows = _CATEGORIES.rows(conn)
    return {r.name: Category(default=r.default_mode, description=r.description) for r in rows}


def _categories(conn: sa.Connection) -> dict[str, Category]:
    """:func:`list_categories`, kept where it cannot go stale (the gate's read; not to be changed)."""
    known = _known(conn)
    if known is None:
        return list_categories(conn)
    if known.categories is None:
        known.categories = list_categories(conn)
    return known.categories


def _any_documents(conn: sa.Connection) -> bool:
    """Whether anyone chose anything (a document exists), kept where it cannot go stale."""
    known = _known(conn)
    if known is not None and known.any_documents is not None:
        return known.any_documents
    found = _ANY_DOCUMENT.first(conn) is not None
    if known is not None:
        known.any_documents = found
    return found


def put_category(conn: sa.Connection, name: str, category: Category, *, now: _dt.datetime) -> None:
    values = {"default_mode": category.default, "description": category.description, "updated_at": now}
    _changed(conn)
    if not conn.execute(categories.update().where(categories.c.name == name).values(**values)).rowcount:
        conn.execute(categories.insert().values(name=name, **values))


def delete_category(conn: sa.Connection, name: str) -> bool:
    _changed(conn)
    return bool(conn.execute(categories.delete().where(categories.c.name == name)).rowcount)


def anyone_collects_info(conn: sa.Connection) -> bool:
    """Whether any team device's document asks for INFO events in its digest (ingest skips the gate
    for feed-only events otherwise): one read of the devices' documents (a handful of rows)."""
    if not _any_documents(conn):
        return False
    documents = conn.execute(
        sa.select(preferences.c.document).where(preferences.c.subject_kind == DEVICE)
    ).scalars()
    return any(isinstance(raw, dict) and raw.get("digest_info") for raw in documents)


def device_columns() -> list[sa.ColumnElement[Any]]:
    """What :func:`recipients` needs of a ``devices`` row (with id, min_level and channels for
    ``outbox.device_matches``): the user a device belongs to and the zone it reported."""
    return [devices.c.id, devices.c.min_level, devices.c.channels, devices.c.user_id, devices.c.timezone]


def recipients(conn: sa.Connection, device_rows: Iterable[Any]) -> dict[str, Recipient]:
    """Each device's :class:`Recipient`: the documents of these devices and their users (one query,
    none when no one chose anything) and the categories; whether any document exists and the
    categories are read only when not kept (see the module docstring)."""
    rows = list(device_rows)
    if not rows:
        return {}
    documents: dict[tuple[str, str], PreferenceDocument] = {}
    if _any_documents(conn):
        users = {str(u) for r in rows if (u := r._mapping.get("user_id")) is not None}
        wanted = sa.or_(
            sa.and_(preferences.c.subject_kind == DEVICE, preferences.c.subject_id.in_([r.id for r in rows])),
            sa.and_(preferences.c.subject_kind == USER, preferences.c.subject_id.in_(users)),
        )
        for kind, subject, raw in conn.execute(
            sa.select(preferences.c.subject_kind, preferences.c.subject_id, preferences.c.document).where(
                wanted
            )
        ):
            documents[(kind, subject)] = _document(raw)
    known = _categories(conn)
    result = {}
    # Devices with no document of their own or their user's get the defaults: one (immutable)
    # Recipient per (app user or not, zone) serves them all, as a team's fan-out mostly is.
    defaults: dict[tuple[bool, Any], Recipient] = {}
    for row in rows:
        mapping = row._mapping
        user_id = mapping.get("user_id")
        timezone = mapping.get("timezone")
        own = documents.get((DEVICE, row.id)) if documents else None
        users_doc = documents.get((USER, str(user_id))) if documents and user_id is not None else None
        document = own or users_doc
        if document is None:
            key = (user_id is not None, timezone)
            recipient = defaults.get(key)
            if recipient is None:
                recipient = defaults[key] = Recipient(
                    document=PreferenceDocument(), user=key[0], device_timezone=timezone, categories=known
                )
        else:
            recipient = Recipient(
                document=document, user=user_id is not None, device_timezone=timezone, categories=known
            )
        result[row.id] = recipient
    return result
