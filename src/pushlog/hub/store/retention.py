"""Retention: which stored events are old enough to delete, and deleting them in small batches.

An event expires when it was *received* (the hub's clock, not the client's ``ts``) longer ago than its
channel's retention (:class:`Policy`: a default, per-channel overrides, ``None`` = keep forever).
Unacknowledged CRITICAL events are kept until acknowledged, however old (an open alarm is not history
yet); once acknowledged they expire by age like the rest. Heartbeats (the ``heartbeats`` table) are
state, not history, and are never deleted here; the ERROR events their alerts raised are events and
expire like any other. ``client_reports`` rows follow the default retention, and so do notifications
to app users once they are finished (:func:`.notifications.finished_before`: cancelled, or sent with
nothing queued or held and no delivery touched for the default age); scheduled and still-sending ones
are never deleted.

:func:`purge_batch` deletes at most ``limit`` events (oldest first) with their tags, metadata rows
and deliveries (through :func:`pushlog.hub.store.outbox.delete_for_events`, the one writer of
deliveries) inside the caller's transaction, and at most ``limit`` deliveries of finished
notifications (with the notifications once none is left), so each batch holds the write lock only
briefly. The hub's periodic task (:mod:`pushlog.hub._retention`) calls it until :meth:`Purged.full`
says a batch came back short.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import sqlalchemy as sa

from ..._levels import Level
from . import notifications as notification_store
from . import outbox
from ._tables import client_reports, event_meta, event_tags, events

#: Events deleted per transaction (a short write lock on SQLite; small WAL growth).
BATCH: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How long events are kept: ``default`` for every channel not in ``channels`` (None: forever)."""

    default: _dt.timedelta | None
    channels: Mapping[str, _dt.timedelta | None] = field(default_factory=dict)

    @classmethod
    def from_seconds(cls, default: float | None, channels: Mapping[str, float | None]) -> Policy:
        def age(seconds: float | None) -> _dt.timedelta | None:
            return None if seconds is None else _dt.timedelta(seconds=seconds)

        return cls(default=age(default), channels={name: age(s) for name, s in channels.items()})

    @property
    def keeps_everything(self) -> bool:
        return self.default is None and all(age is None for age in self.channels.values())


@dataclass(slots=True)
class Purged:
    """Rows one purge deleted."""

    events: int = 0
    deliveries: int = 0  # of events and of notifications
    client_reports: int = 0
    notifications: int = 0
    notification_deliveries: int = 0

    def add(self, other: Purged) -> None:
        self.events += other.events
        self.deliveries += other.deliveries
        self.client_reports += other.client_reports
        self.notifications += other.notifications
        self.notification_deliveries += other.notification_deliveries

    def full(self, limit: int) -> bool:
        """Whether a batch of ``limit`` stopped at its limit somewhere (more may be waiting)."""
        counts = (self.events, self.client_reports, self.notifications, self.notification_deliveries)
        return any(count >= limit for count in counts)


def expired(policy: Policy, now: _dt.datetime) -> sa.ColumnElement[bool]:
    """The SQL condition for events that ``policy`` lets go at ``now``."""
    by_channel = [
        sa.and_(events.c.channel == name, events.c.received_at < now - age)
        for name, age in policy.channels.items()
        if age is not None
    ]
    if policy.default is not None:
        others = events.c.received_at < now - policy.default
        if policy.channels:
            others = sa.and_(
                sa.or_(events.c.channel.is_(None), events.c.channel.not_in(list(policy.channels))), others
            )
        by_channel.append(others)
    ages = [age for age in (policy.default, *policy.channels.values()) if age is not None]
    # Nothing younger than the shortest age can expire: a range the received_at index can serve
    # alone, so a pass with nothing to delete reads no rows.
    youngest = events.c.received_at < now - min(ages) if ages else sa.false()
    open_alarm = sa.and_(events.c.level >= int(Level.CRITICAL), events.c.acknowledged_at.is_(None))
    return sa.and_(youngest, sa.or_(sa.false(), *by_channel), sa.not_(open_alarm))


def purge_batch(conn: sa.Connection, *, policy: Policy, now: _dt.datetime, limit: int = BATCH) -> Purged:
    """Delete up to ``limit`` expired events (oldest first) and everything attached to them."""
    purged = Purged()
    if policy.keeps_everything:
        return purged
    # The oldest received first: the received_at index finds them without scanning kept rows.
    seqs = list(
        conn.execute(
            sa.select(events.c.seq)
            .where(expired(policy, now))
            .order_by(events.c.received_at, events.c.seq)
            .limit(limit)
        ).scalars()
    )
    if seqs:
        purged.deliveries = outbox.delete_for_events(conn, seqs)
        conn.execute(event_tags.delete().where(event_tags.c.event_seq.in_(seqs)))
        conn.execute(event_meta.delete().where(event_meta.c.event_seq.in_(seqs)))
        purged.events = int(conn.execute(events.delete().where(events.c.seq.in_(seqs))).rowcount)
    if policy.default is not None:
        old_reports = (
            sa.select(client_reports.c.id)
            .where(client_reports.c.received_at < now - policy.default)
            .order_by(client_reports.c.received_at)
            .limit(limit)
            .scalar_subquery()
        )
        purged.client_reports = int(
            conn.execute(client_reports.delete().where(client_reports.c.id.in_(old_reports))).rowcount
        )
        purged.notifications, purged.notification_deliveries = notification_store.purge_finished(
            conn, before=now - policy.default, limit=limit
        )
        purged.deliveries += purged.notification_deliveries
    return purged
