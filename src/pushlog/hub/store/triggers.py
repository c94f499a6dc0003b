"""Triggers (``/v1/triggers``), by name, and how far they have read the event stream.

Which events a trigger takes and what it starts is ``hub/notifications/_triggers.py``'s; this module
keeps the rows and the cursor (``settings["triggers.last_seq"]``, the last event ``seq`` looked at).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import sqlalchemy as sa

from ..._levels import level_from_number
from .._clock import format_time
from ._prepared import Prepared
from ._tables import events, settings, triggers

CURSOR: Final = "triggers.last_seq"


def _json(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "channel": row.channel,
        "title": row.title,
        "user_key": row.user_key,
        "template": row.template,
        "delay_s": row.delay_s,
        "once_key": row.once_key,
        "level": level_from_number(int(row.level)).wire_name,
        "created_at": format_time(row.created_at),
        "updated_at": format_time(row.updated_at),
    }


def put_trigger(
    conn: sa.Connection, name: str, values: dict[str, Any], *, now: _dt.datetime
) -> tuple[dict[str, Any], bool]:
    """Create or replace a trigger. The first one starts the cursor at the newest event, so triggers
    act on events that arrive from now on. Returns (trigger, created)."""
    changed = {**values, "updated_at": now}
    created = not conn.execute(triggers.update().where(triggers.c.name == name).values(**changed)).rowcount
    if created:
        conn.execute(triggers.insert().values(name=name, created_at=now, **changed))
    if cursor(conn) is None:
        newest = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar()
        move_cursor(conn, int(newest or 0))
    found = conn.execute(sa.select(triggers).where(triggers.c.name == name)).one()
    return _json(found), created


def list_triggers(conn: sa.Connection) -> list[dict[str, Any]]:
    return [_json(row) for row in conn.execute(sa.select(triggers).order_by(triggers.c.name))]


def rows(conn: sa.Connection) -> list[Any]:
    """Every trigger row (for matching events)."""
    return list(conn.execute(sa.select(triggers).order_by(triggers.c.name)).all())


def delete_trigger(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(triggers.delete().where(triggers.c.name == name)).rowcount)


def cursor(conn: sa.Connection) -> int | None:
    """The seq of the last event triggers have read. On PostgreSQL the row stays locked until the
    transaction ends, so two hub processes never read the same events for triggers: the second waits,
    then reads the moved cursor (SQLite has one process)."""
    found = conn.execute(
        sa.select(settings.c.value).where(settings.c.key == CURSOR).with_for_update()
    ).scalar()
    return None if found is None else int(found)


def pending(conn: sa.Connection) -> bool:
    """Whether triggers have events to read: a cursor exists and a visible event lies after it. One
    plain read that locks nothing (the runner asks it on a read-only connection before it takes a
    write transaction for :func:`cursor` and :func:`events_after`)."""
    [row] = _PENDING.rows(conn)
    return bool(row[0])


#: :func:`pending`'s read, compiled once per connection: the runner asks it after every event.
_PENDING: Final = Prepared(
    sa.select(
        sa.select(events.c.seq)
        .where(
            events.c.seq
            > sa.cast(
                sa.select(settings.c.value).where(settings.c.key == CURSOR).scalar_subquery(), sa.BigInteger
            ),
            events.c.merged_into.is_(None),
        )
        .exists()
    )
)


def move_cursor(conn: sa.Connection, seq: int) -> None:
    if not conn.execute(settings.update().where(settings.c.key == CURSOR).values(value=str(seq))).rowcount:
        conn.execute(settings.insert().values(key=CURSOR, value=str(seq)))


def events_after(conn: sa.Connection, seq: int, limit: int) -> list[Any]:
    """Visible events (not merged follow-ups) after ``seq``, oldest first."""
    return list(
        conn.execute(
            sa.select(events.c.seq, events.c.id, events.c.channel, events.c.title, events.c.metadata)
            .where(events.c.seq > seq, events.c.merged_into.is_(None))
            .order_by(events.c.seq)
            .limit(limit)
        ).all()
    )
