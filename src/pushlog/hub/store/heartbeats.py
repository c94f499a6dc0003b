"""Heartbeats, the dead man's switch, in the store: check-ins, the overdue check, and their alerts.

A heartbeat is created by its first check-in (``POST /v1/heartbeats/{name}``). Check-ins carry a status:

* ``success`` (the default): the job ran. The deadline becomes ``now + every + grace``.
* ``start``: the job began (recorded; the deadline does not move).
* ``failure``: the job ran and failed (recorded; the deadline does not move, so a job that keeps
  failing also goes overdue). Whoever reports the failure sends its own ERROR event.

With no ``every`` a heartbeat is only a record of runs (``status`` ``unmonitored``). With one, the
monitor (:mod:`pushlog.hub.heartbeats`) calls :func:`check_due` on a timer: each heartbeat whose
deadline passed turns ``overdue`` and an ERROR event goes through the hub's own ingest
(:func:`insert_events`, the same function ``POST /v1/events`` uses) in the same transaction, so it
is stored, streamed and pushed like any other event and the state change and its alert commit
together. The next ``success`` turns it ``up`` again with an INFO "recovered" event that resolves
the overdue alert (``resolves``, :mod:`pushlog.hub.store.alerts`): its push is replaced in place.
All state lives in the database, so a restarted hub neither forgets an outage nor alerts twice for it. Every
function takes the time as ``now``.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from ..._duration import format_seconds
from ..._levels import POLICIES, Level
from .._clock import format_time
from ._tables import heartbeats
from .events import NO_REPEAT, NewEvent, insert_events

STATUSES: Final = ("start", "success", "failure")
MIN_GRACE_SECONDS: Final = 60.0
CHANNEL: Final = "heartbeats"


def default_grace(every_s: float) -> float:
    """Grace when none is given: a tenth of the period, at least a minute."""
    return max(MIN_GRACE_SECONDS, every_s / 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckIn:
    """A validated check-in (see ``api/heartbeats.py``)."""

    name: str
    status: str = "success"
    every_s: float | None = None
    grace_s: float | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    message: str | None = None


def as_dict(row: Any) -> dict[str, Any]:
    """The API form of a heartbeat row."""
    return {
        "name": row.name,
        "status": row.state,
        "every_s": row.every_s,
        "grace_s": row.grace_s,
        "due_at": format_time(row.due_at),
        "created_at": format_time(row.created_at),
        "last_ping_at": format_time(row.last_ping_at),
        "last_start_at": format_time(row.last_start_at),
        "last_success_at": format_time(row.last_success_at),
        "last_failure_at": format_time(row.last_failure_at),
        "last_exit_code": row.last_exit_code,
        "last_duration_s": row.last_duration_s,
        "last_message": row.last_message,
        "overdue_since": format_time(row.overdue_since),
    }


def _get(conn: sa.Connection, name: str) -> Any:
    return conn.execute(sa.select(heartbeats).where(heartbeats.c.name == name)).first()


def get_heartbeat(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    row = _get(conn, name)
    return None if row is None else as_dict(row)


def list_heartbeats(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(heartbeats).order_by(heartbeats.c.name)).all()
    return [as_dict(row) for row in rows]


def delete_heartbeat(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(heartbeats.delete().where(heartbeats.c.name == name)).rowcount)


def fingerprint_of(name: str) -> str:
    """The fingerprint of a heartbeat's alerts (its overdue alert is resolved by this name)."""
    return f"heartbeat:{name}"


def _event(
    *,
    name: str,
    level: Level,
    title: str,
    body: str,
    now: _dt.datetime,
    extra: dict[str, Any],
    resolves: str | None = None,
) -> NewEvent:
    return NewEvent(
        id=str(uuid.uuid4()),
        ts=now,
        level=level,
        title=title,
        body=body,
        channel=CHANNEL,
        tags=["heartbeat"],
        metadata={"heartbeat": name, **extra},
        fingerprint=fingerprint_of(name),
        push=POLICIES[level].push,
        source={"logger": "pushlog.hub.heartbeats"},
        resolves=resolves,
    )


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a check-in did: the heartbeat afterwards and how many events it produced."""

    heartbeat: dict[str, Any]
    events: int
    deliveries: int


def record_checkin(
    conn: sa.Connection, checkin: CheckIn, *, now: _dt.datetime, key_id: str | None = None
) -> Recorded:
    """Apply one check-in (create the heartbeat if new). A success that ends an outage ingests an
    INFO "recovered" event in the same transaction."""
    row = _get(conn, checkin.name)
    every: float | None = checkin.every_s
    if every is None and row is not None:
        every = row.every_s
    grace: float | None
    if checkin.grace_s is not None:
        grace = checkin.grace_s
    elif checkin.every_s is not None or row is None or row.grace_s is None:
        grace = default_grace(every) if every is not None else None
    else:
        grace = row.grace_s
    values: dict[str, Any] = {
        "every_s": every,
        "grace_s": grace,
        "updated_at": now,
        "last_ping_at": now,
        "key_id": key_id,
    }
    if checkin.message is not None:
        values["last_message"] = checkin.message
    if checkin.exit_code is not None:
        values["last_exit_code"] = checkin.exit_code
    if checkin.duration_s is not None:
        values["last_duration_s"] = checkin.duration_s
    if checkin.status == "start":
        values["last_start_at"] = now
    elif checkin.status == "failure":
        values["last_failure_at"] = now
    else:
        values["last_success_at"] = now
        if checkin.message is None:
            values["last_message"] = None

    # the deadline counts from the last success, or from when the heartbeat was first seen
    base = values.get("last_success_at") or (row.last_success_at if row is not None else None)
    base = base or (row.created_at if row is not None else now)
    due = base + _dt.timedelta(seconds=every + (grace or 0.0)) if every is not None else None
    values["due_at"] = due

    recovered_from: _dt.datetime | None = None
    previous = row.state if row is not None else None
    if every is None:
        values["state"] = "unmonitored"
        values["overdue_since"] = None
    elif previous == "overdue" and checkin.status == "success":
        values["state"] = "up"
        recovered_from = row.overdue_since
        values["overdue_since"] = None
    elif previous == "overdue":
        values["state"] = "overdue"
    else:
        values["state"] = "up"

    if row is None:
        conn.execute(heartbeats.insert().values(name=checkin.name, created_at=now, **values))
    else:
        conn.execute(heartbeats.update().where(heartbeats.c.name == checkin.name).values(**values))

    events = deliveries = 0
    if recovered_from is not None:
        outage = format_seconds(max(0.0, (now - recovered_from).total_seconds()))
        event = _event(
            name=checkin.name,
            level=Level.INFO,
            title=f"{checkin.name} recovered",
            body=f"checked in again after being overdue for {outage}",
            now=now,
            extra={"status": "recovered"},
            resolves=fingerprint_of(checkin.name),  # replaces the overdue push (store/alerts.py)
        )
        result = insert_events(conn, [event], key_id=None, now=now, repeat=NO_REPEAT)
        events, deliveries = result.accepted, result.deliveries
    return Recorded(heartbeat=as_dict(_get(conn, checkin.name)), events=events, deliveries=deliveries)


@dataclass(frozen=True, slots=True)
class Overdue:
    """The result of one :func:`check_due`: names that just went overdue and deliveries created."""

    names: list[str]
    deliveries: int


def check_due(conn: sa.Connection, *, now: _dt.datetime) -> Overdue:
    """Turn every monitored heartbeat whose deadline passed into ``overdue`` and ingest one ERROR event
    for each, in this transaction. Heartbeats already overdue are left alone (one alert per outage)."""
    rows = conn.execute(
        sa.select(heartbeats)
        .where(heartbeats.c.state == "up", heartbeats.c.due_at.is_not(None), heartbeats.c.due_at <= now)
        .order_by(heartbeats.c.name)
    ).all()
    names: list[str] = []
    deliveries = 0
    for row in rows:
        changed = conn.execute(
            heartbeats.update()
            .where(heartbeats.c.name == row.name, heartbeats.c.state == "up")
            .values(state="overdue", overdue_since=now, updated_at=now)
        ).rowcount
        if not changed:  # another hub process got there first
            continue
        period = format_seconds(row.every_s or 0)
        grace = format_seconds(row.grace_s or 0)
        last = format_time(row.last_success_at) or "never"
        body = f"expected every {period} (+{grace} grace); last success: {last}"
        if row.last_failure_at is not None and (
            row.last_success_at is None or row.last_failure_at > row.last_success_at
        ):
            body += f"; last failure: {format_time(row.last_failure_at)}"
            if row.last_message:
                body += f" ({row.last_message})"
        event = _event(
            name=row.name,
            level=Level.ERROR,
            title=f"{row.name} is overdue",
            body=body,
            now=now,
            extra={"status": "overdue", "every_s": row.every_s, "due_at": format_time(row.due_at)},
        )
        result = insert_events(conn, [event], key_id=None, now=now, repeat=NO_REPEAT)
        deliveries += result.deliveries
        names.append(row.name)
    return Overdue(names=names, deliveries=deliveries)
