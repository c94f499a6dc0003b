"""The outbox: the one module that writes the ``deliveries`` table.

* :func:`enqueue` creates delivery rows: one per (event, device whose preferences take it, see
  :func:`device_matches`), each as the attention gate (:func:`pushlog.hub.attention.decide`) decides:
  queued, held until a moment (quiet hours, digest) or skipped, with the reason. Ingest without a
  dispatcher in its process calls it for round 0 of pushed events, :func:`schedule_repeats` for
  CRITICAL re-push rounds; anything that creates deliveries later calls it too. :func:`release_held`
  lets held rows go when their time came.
* :func:`enqueue_claimed` streams round 0 instead (ingest with a dispatcher): the first
  :data:`FANOUT_CHUNK` devices' rows in the ingest transaction, claimed for the caller, and a
  ``fanouts`` row from which :func:`expand_fanouts` (the dispatcher) writes the rest chunk by chunk,
  through the same rule and gate, each device once.
* :func:`enqueue_notification` creates a notification's rows (app users' devices, DESIGN §8) through
  the same gate: recipients who chose nothing get one ``INSERT ... SELECT`` from the audience query
  (no recipient passes through Python), those with a preference document are decided in keyset
  pages; the row's id is derived from (notification, device), and a unique constraint on that pair
  means a notification reaches a device once. :func:`cancel_notification` fails its rows still
  queued or held. The dispatcher
  claims and records both kinds of row alike; a claimed notification row carries the notification
  and its user instead of an event.
* The dispatcher (:mod:`pushlog.hub.delivery`) leases due rows (:func:`claim_due`) and records what
  the senders said (``record_*``); it also reads ``devices`` and moves events' re-push columns.
* The API side moves rows on for receipts (:func:`record_receipt`), acknowledgement
  (:func:`acknowledge_deliveries`) and device removal (:func:`drop_queued`); reading rows for the API
  is ``store/deliveries.py``'s.
* Retention (``store/retention.py``) deletes the deliveries of the events it removes
  (:func:`delete_for_events`); metrics read the queue depth (:func:`queue_depth`).

:class:`DeliveryStatus` names the states a row goes through. Every function takes a connection
inside the caller's transaction.

The delivery rollup (``store/delivery_rollups.py``, ``GET /v1/stats``) is kept in step here: every
UPDATE or DELETE that can change what it counts goes through :func:`_write` (or, compiled once per
connection, returns the rows' ``created_at`` to :func:`_mark_changed`), which marks the changed rows'
hours (of ``created_at``) dirty when they may be folded already (older than
:data:`LIVE_HOURS`); the fold refolds them from the rows. New rows are created at ``now``, in a live
hour, and need no mark; neither do writes that change no counted column (a claim's lease and
attempts, a held row's later release time).

Claiming uses a lease: a claimed row keeps ``status='queued'`` but gets ``locked_until`` (the lease's
end, which doubles as the claim's fencing token) and one more ``attempts``. A claimer only records a
result while it still holds the lease (``locked_until`` unchanged), and only on a row that is still
queued, so a second claimer after an expired lease, or an acknowledgement that arrived meanwhile, is
never overwritten. A process that dies mid-send leaves the lease to expire; the row is then claimed
again (at-least-once: the push may have left before the crash, which Web Push's ``Topic`` collapses).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import operator
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..attention import (
    Decision,
    Deliver,
    PushFacts,
    Reason,
    Recipient,
    SentWithin,
    Skip,
    decide,
    make_summary,
    release_at,
)
from . import preferences
from ._prepared import BulkInsert, Prepared, PreparedIn
from ._tables import as_utc, deliveries, delivery_rollup_dirty, devices, events, fanouts, notifications
from ._tables import preferences as preference_documents
from ._window import epoch_hour
from .users import profiles


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands (``deliveries.status``), in order of progress (failed sits beside sent)."""

    QUEUED = "queued"  # waiting to be sent (or leased by a dispatcher that is sending it)
    SENT = "sent"  # the push service accepted it
    FAILED = "failed"  # given up: permanent error, attempts used up, device gone or removed
    DELIVERED = "delivered"  # the service worker reported it arrived
    OPENED = "opened"  # the notification was clicked
    ACKNOWLEDGED = "acknowledged"  # the event was acknowledged (on any device) before this one finished
    HELD = "held"  # the gate keeps it until next_attempt_at (quiet hours, digest); ``reason`` says why
    SKIPPED = "skipped"  # the gate decided it is not pushed (feed only, opted out, summarized); ``reason``


#: What a service worker may report with a receipt token.
RECEIPT_STATUSES: Final = (DeliveryStatus.DELIVERED, DeliveryStatus.OPENED)

#: How far along a delivery is; a receipt never moves a delivery backwards.
_PROGRESS: Final = {
    DeliveryStatus.HELD: 0,
    DeliveryStatus.SKIPPED: 1,
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.FAILED: 1,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.OPENED: 3,
    DeliveryStatus.ACKNOWLEDGED: 4,
}

#: Deliveries that acknowledgement turns into "acknowledged" (failed ones keep their failure).
_ACKNOWLEDGEABLE: Final = (
    DeliveryStatus.HELD,
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.OPENED,
)


#: Rows created in the writer's current hour or the one before are in hours the delivery rollup has
#: not folded (it folds an hour only once it is this much plus a margin for clocks behind its own
#: clock), so writes to them need no mark.
LIVE_HOURS: Final = 2


def _write(conn: sa.Connection, statement: Any, *, now: _dt.datetime | None) -> int:
    """Execute an UPDATE or DELETE of ``deliveries`` and keep the delivery rollup in step; returns
    how many rows it changed. ``now`` None (deletes, which have no clock): every changed hour is
    marked."""
    created = conn.execute(statement.returning(deliveries.c.created_at)).scalars().all()
    _mark_changed(conn, created, now=now)
    return len(created)


def _mark_changed(conn: sa.Connection, created: Sequence[Any], *, now: _dt.datetime | None) -> None:
    """Mark the hours of rows created at ``created`` dirty (outside the live hours of ``now``).
    The UPSERT takes the mark's row lock until commit, so a fold that refolds the hour waits for
    this transaction and then sees its change (``delivery_rollups.fold``)."""
    live_from = None if now is None else epoch_hour(now) - LIVE_HOURS + 1
    hours = sorted({epoch_hour(as_utc(c)) for c in created})  # one order for every writer: no deadlock
    marks = [{"hour": h, "marks": 1} for h in hours if live_from is None or h < live_from]
    if not marks:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        delivery_rollup_dirty
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["hour"], set_={"marks": delivery_rollup_dirty.c.marks + 1}
        ),
        marks,
    )


# ------------------------------------------------------------------------------------------ enqueue


def device_matches(device: Any, level: int, channel: str | None) -> bool:
    """Whether a device's preferences take an event: ``level >= min_level`` and its channel allowed
    (``channels`` null = all). ``device`` is a row with ``min_level`` and ``channels``."""
    if level < int(device.min_level):
        return False
    channels = device.channels
    return channels is None or channel in channels


@dataclass(frozen=True, slots=True)
class Push:
    """An event to push in ``round`` (0 = first push, 1.. = CRITICAL re-pushes). ``category`` (an app
    notification's; a log event's is its channel) and ``time_sensitive`` (bypasses quiet hours and
    caps) are for the attention gate."""

    seq: int
    id: str
    level: int
    channel: str | None
    round: int = 0
    category: str | None = None
    time_sensitive: bool = False
    #: An event not pushed by its level (INFO): only digests that collect such events take it.
    feed_only: bool = False


#: The columns of the rows :func:`_decide_rows` makes, in the table's order (which the compiled
#: INSERT's placeholders follow): each row goes to the driver as it is.
_DELIVERY_COLUMNS: Final = (
    "id",
    "event_seq",
    "event_id",
    "device_id",
    "round",
    "status",
    "attempts",
    "next_attempt_at",
    "locked_until",
    "created_at",
    "updated_at",
    "reason",
    "category",
)
_INSERT_DELIVERIES: Final = BulkInsert(deliveries, _DELIVERY_COLUMNS)


#: Rows that count against a frequency cap: everything that was (or is about to be) pushed.
_PUSHED: Final = tuple(s for s in DeliveryStatus if s not in (DeliveryStatus.HELD, DeliveryStatus.SKIPPED))


class _SentCounter:
    """What each device got lately, for the gate's caps: counted from ``deliveries`` (so caps hold
    across restarts and processes) once per (device, period, category), plus this batch's rows."""

    def __init__(self, conn: sa.Connection, now: _dt.datetime) -> None:
        self._conn = conn
        self._now = now
        self._counted: dict[tuple[str, _dt.timedelta, str | None], int] = {}
        self._added: list[tuple[str, str | None]] = []

    def for_device(self, device_id: str) -> SentWithin:
        def sent_within(period: _dt.timedelta, category: str | None) -> int:
            key = (device_id, period, category)
            if key not in self._counted:
                where = [
                    deliveries.c.device_id == device_id,
                    deliveries.c.created_at > self._now - period,
                    deliveries.c.status.in_(_PUSHED),
                ]
                if category is not None:
                    where.append(deliveries.c.category == category)
                found = self._conn.execute(sa.select(sa.func.count()).select_from(deliveries).where(*where))
                self._counted[key] = int(found.scalar() or 0)
            extra = sum(1 for d, c in self._added if d == device_id and (category is None or c == category))
            return self._counted[key] + extra

        return sent_within

    def add(self, device_id: str, category: str | None) -> None:
        self._added.append((device_id, category))


def enqueue(
    conn: sa.Connection, pushes: Sequence[Push], *, now: _dt.datetime, only: Sequence[str] | None = None
) -> int:
    """Create the rows of every push for each device that matches it now, as the attention gate
    decides (queued due at ``now``, held, or skipped); returns how many were queued to send now.
    ``only``: exactly these devices, whatever their level and channel choices (an escalation step's
    group); the gate still decides for each (a CRITICAL bypasses quiet hours unless turned off).

    One ``executemany`` for all rows; the devices and their preferences are read once.
    """
    return len(_enqueue(conn, pushes, now=now, only=only))


#: Devices of a fresh event's audience the ingest transaction expands (:func:`enqueue_claimed`): its
#: first pushes leave once that commits, whatever the audience's size, and a small first chunk keeps
#: the ingest short and the first send from waiting for the others' encryption. The dispatcher
#: expands the rest (:func:`expand_fanouts`) in chunks of its own claim sizes.
FANOUT_CHUNK: Final = 8


@dataclass(frozen=True, slots=True)
class Started:
    """What :func:`enqueue_claimed` wrote: the rows claimed for the caller, and how many pushes still
    have devices left to expand (:func:`expand_fanouts` writes their rows)."""

    claimed: list[Claimed]
    pending: int


def enqueue_claimed(
    conn: sa.Connection,
    pushes: Sequence[Push],
    *,
    now: _dt.datetime,
    lease: _dt.timedelta,
    event_row: Callable[[int], dict[str, Any]],
    first: int = FANOUT_CHUNK,
) -> Started:
    """Start streaming the fan-out of ``pushes``: the rows of the first ``first`` devices (in device
    id order, the same rule and gate as :func:`enqueue`) and a durable ``fanouts`` row for each push
    whose audience goes on past them (none when the chunk held everyone). The rows queued to send now
    are already claimed by the caller (as :func:`claim_due` would: leased until ``now + lease``, one
    attempt counted) and returned, so the caller sends them once its transaction commits, without a
    claim transaction of its own. :func:`expand_fanouts` writes the rest. The claims are made from
    what this call read and wrote, not read back: ``event_row(seq)`` gives a push's event as a read
    of its ``events`` row would (the caller just inserted it), the devices come from the page read.

    Everything is the record of truth like any other row: a caller that dies after the commit leaves
    leased rows that :func:`claim_due` takes again once the lease expired, and ``fanouts`` rows that
    any dispatcher goes on expanding where the last chunk ended.
    """
    pushes = _worth_expanding(conn, pushes)
    if not pushes:
        return Started([], 0)
    until = now + lease
    claimed: list[Claimed] = []
    unfinished: list[_Marker] = []  # only these get a fanouts row: a small audience writes none
    budget = first
    # A page depends only on the push's level (and feed_only), and the budget only shrinks: the first
    # read for a level serves every later push of that level in the batch (one read, not one a push).
    pages: dict[tuple[bool, int], Sequence[Any]] = {}
    for p in pushes:
        marker = _Marker(p.seq, p.round, p.id, p.level, p.channel, p.feed_only, None, now)
        if budget > 0:
            page_key = (p.feed_only, p.level)
            if page_key not in pages:
                pages[page_key] = _page(conn, marker, limit=budget)
            targets = pages[page_key][:budget]
            rows, queued = _decide_rows(conn, [_push_of(marker)], targets, now=now, only=None, lease=until)
            _INSERT_DELIVERIES.execute(conn, rows)
            if queued:
                event = event_row(p.seq)
                device_of = {device.id: device for device in targets}
                claimed += [
                    _claimed_row(row, _claimed_device(device_of[row[3]]), event, until) for row in queued
                ]
            if len(targets) < budget:  # the whole audience
                budget -= len(targets)
                continue
            budget = 0
            marker = dataclasses.replace(marker, after=targets[-1].id)
        unfinished.append(marker)
    if unfinished:
        _INSERT_FANOUTS.execute(conn, [_marker_row(m) for m in unfinished])
    return Started(claimed, len(unfinished))


def _claimed_device(device: Any) -> dict[str, Any]:
    """A page's device row as a claim carries it: the columns :data:`_CLAIMED_DEVICE` reads."""
    return dict(zip(_CLAIMED_DEVICE_NAMES, _claimed_device_values(device._fields)(device), strict=True))


@functools.cache
def _claimed_device_values(fields: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """Reads a row's :data:`_CLAIMED_DEVICE_NAMES` values by position (a row with ``fields``): a
    fan-out makes a claim a device, and by name each value costs a few microseconds."""
    return operator.itemgetter(*(fields.index(name) for name in _CLAIMED_DEVICE_NAMES))


def _claimed_row(
    row: Sequence[Any], device: dict[str, Any], event: dict[str, Any], until: _dt.datetime
) -> Claimed:
    """A row :func:`_decide_rows` wrote claimed (:data:`_DELIVERY_COLUMNS` order) as :class:`Claimed`."""
    return Claimed(id=row[0], lease=until, attempts=row[6], round=row[4], device=device, event=event)


def expand_fanouts(
    conn: sa.Connection, *, now: _dt.datetime, lease: _dt.timedelta, limit: int
) -> list[Claimed]:
    """Write the next rows of the oldest fan-outs still expanding, reading at most ``limit`` devices;
    the rows queued to send now are claimed for the caller (leased until ``now + lease``).

    Safe when several dispatchers call it at once: each ``fanouts`` row is taken ``FOR UPDATE SKIP
    LOCKED`` (PostgreSQL: a second caller takes the next fan-out instead of waiting; SQLite has one
    writer), and a chunk's rows are only written by the caller whose conditional UPDATE moved the
    row's ``after`` on from the value it read, so every device's row is written once
    (``uq_deliveries_event_device_round`` backs it).
    """
    claimed: list[Claimed] = []
    budget = limit
    while budget > 0:
        marker = conn.execute(
            sa.select(fanouts)
            .order_by(fanouts.c.created_at, fanouts.c.event_seq, fanouts.c.round)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if marker is None:
            break
        chunk, read, finished = _expand(conn, marker, now=now, until=now + lease, limit=budget)
        claimed += chunk
        budget -= read
        if not finished and budget > 0:  # lost to another caller: leave the rest to the next call
            break
    return claimed


def _worth_expanding(conn: sa.Connection, pushes: Sequence[Push]) -> list[Push]:
    """``pushes`` without the feed-only ones when no digest collects INFO (one read of a small table)."""
    if any(p.feed_only for p in pushes) and not preferences.anyone_collects_info(conn):
        return [p for p in pushes if not p.feed_only]
    return list(pushes)


@dataclass(frozen=True, slots=True)
class _Marker:
    """A ``fanouts`` row, as written (a row read from the table has the same attributes)."""

    event_seq: int
    round: int
    event_id: str
    level: int
    channel: str | None
    feed_only: bool
    after: str | None
    created_at: _dt.datetime


_MARKER_FIELDS: Final = tuple(f.name for f in dataclasses.fields(_Marker))
_INSERT_FANOUTS: Final = BulkInsert(fanouts, _MARKER_FIELDS)


def _marker_row(marker: _Marker) -> tuple[Any, ...]:
    return tuple(getattr(marker, name) for name in _MARKER_FIELDS)


def _push_of(marker: Any) -> Push:
    return Push(
        marker.event_seq,
        marker.event_id,
        marker.level,
        marker.channel,
        round=marker.round,
        feed_only=marker.feed_only,
    )


def _page_query(_dialect: sa.Dialect, *, feed_only: bool, after: bool) -> sa.Select[Any]:
    """Team devices that may take a push (``b_level``) after ``b_after`` (with ``after``) in id order,
    at most ``b_limit``: the columns the gate needs (:func:`preferences.device_columns`) and those a
    claim carries (:data:`_CLAIMED_DEVICE_COLUMNS`)."""
    columns = preferences.device_columns()
    columns += [c for c in _CLAIMED_DEVICE_COLUMNS if c.name not in {g.name for g in columns}]
    page = sa.select(*columns).where(devices.c.user_id.is_(None))
    if not feed_only:  # device_matches' level half in SQL: a page holds devices that take it
        page = page.where(devices.c.min_level <= sa.bindparam("b_level"))
    if after:
        page = page.where(devices.c.id > sa.bindparam("b_after"))
    return page.order_by(devices.c.id).limit(sa.bindparam("b_limit", type_=sa.Integer))


#: :func:`_page`'s reads by (feed_only, after given), each compiled once per connection.
_PAGES: Final = {
    (feed_only, after): Prepared(functools.partial(_page_query, feed_only=feed_only, after=after))
    for feed_only in (False, True)
    for after in (False, True)
}


def _page(conn: sa.Connection, marker: Any, *, limit: int) -> Sequence[Any]:
    """Up to ``limit`` team devices after the fan-out's ``after``, in id order, that may take it."""
    page = _PAGES[(bool(marker.feed_only), marker.after is not None)]
    return page.rows(conn, {"b_level": marker.level, "b_after": marker.after, "b_limit": limit})


def _expand(
    conn: sa.Connection, marker: Any, *, now: _dt.datetime, until: _dt.datetime, limit: int
) -> tuple[list[Claimed], int, bool]:
    """The next chunk of the fan-out ``marker`` (a ``fanouts`` row): up to ``limit`` devices after its
    ``after``, their rows written (those queued to send now claimed, leased until ``until``) and
    ``after`` moved on, or the row deleted at the audience's end. Returns the claimed rows, how many
    devices were read, and whether the fan-out is finished (False too if another caller moved it
    first). The claims are made from the page read and the rows written, as ingest's are
    (:func:`enqueue_claimed`): only the event is read, once per chunk."""
    targets = _page(conn, marker, limit=limit)
    this = sa.and_(
        fanouts.c.event_seq == marker.event_seq,
        fanouts.c.round == marker.round,
        fanouts.c.after.is_(None) if marker.after is None else fanouts.c.after == marker.after,
    )
    finished = len(targets) < limit  # the audience's end
    if finished:
        moved = conn.execute(fanouts.delete().where(this)).rowcount
    else:
        moved = conn.execute(fanouts.update().where(this).values(after=targets[-1].id)).rowcount
    if not moved:  # another caller expanded this chunk meanwhile
        return [], len(targets), False
    rows, queued = _decide_rows(conn, [_push_of(marker)], targets, now=now, only=None, lease=until)
    _INSERT_DELIVERIES.execute(conn, rows)
    if not queued:
        return [], len(targets), finished
    event = conn.execute(sa.select(events).where(events.c.seq == marker.event_seq)).first()
    if event is None:  # gone meanwhile (retention): the claim read fails such rows, as for any claim
        return _claim_written(conn, [row[0] for row in queued], until=until, now=now), len(targets), finished
    device_of = {device.id: device for device in targets}
    found = _as_dict(event)
    chunk = [_claimed_row(row, _claimed_device(device_of[row[3]]), found, until) for row in queued]
    return chunk, len(targets), finished


def _claim_written(
    conn: sa.Connection, ids: list[str], *, until: _dt.datetime, now: _dt.datetime
) -> list[Claimed]:
    """The rows ``ids`` this transaction wrote claimed (leased until ``until``), as :class:`Claimed`."""
    if not ids:
        return []
    rows = conn.execute(_CLAIMED_ROW.where(deliveries.c.id.in_(ids))).all()
    return _claims(conn, rows, until=until, now=now)


def _enqueue(
    conn: sa.Connection,
    pushes: Sequence[Push],
    *,
    now: _dt.datetime,
    only: Sequence[str] | None,
) -> list[str]:
    """:func:`enqueue`'s rows; returns the ids of those queued to send now."""
    pushes = _worth_expanding(conn, pushes)
    if not pushes:
        return []
    # team devices only: an app user's device (user_id set) never receives log events
    query = sa.select(*preferences.device_columns()).where(devices.c.user_id.is_(None))
    if only is not None:
        query = query.where(devices.c.id.in_(list(only)))
    targets = conn.execute(query).all()
    return _write_rows(conn, pushes, targets, now=now, only=only, lease=None)


def _write_rows(
    conn: sa.Connection,
    pushes: Sequence[Push],
    targets: Sequence[Any],
    *,
    now: _dt.datetime,
    only: Sequence[str] | None,
    lease: _dt.datetime | None,
) -> list[str]:
    """The rows of ``pushes`` for the devices of ``targets`` that match them (all of them with
    ``only``), as the gate decides; returns the ids of those queued to send now. With ``lease``,
    those rows are written claimed: ``locked_until`` = ``lease`` and one attempt."""
    rows, queued = _decide_rows(conn, pushes, targets, now=now, only=only, lease=lease)
    _INSERT_DELIVERIES.execute(conn, rows)
    return [row[0] for row in queued]


def _decide_rows(
    conn: sa.Connection,
    pushes: Sequence[Push],
    targets: Sequence[Any],
    *,
    now: _dt.datetime,
    only: Sequence[str] | None,
    lease: _dt.datetime | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """:func:`_write_rows`' rows (:data:`_DELIVERY_COLUMNS` order), not yet written, and those of
    them queued to send now."""
    if not targets:
        return [], []
    people = preferences.recipients(conn, targets)
    counter = _SentCounter(conn, now)
    ids = _delivery_ids(len(pushes) * len(targets))
    rows: list[tuple[Any, ...]] = []
    queued: list[tuple[Any, ...]] = []
    for push in pushes:
        facts = PushFacts(
            level=push.level,
            channel=push.channel,
            category=push.category,
            time_sensitive=push.time_sensitive,
            feed_only=push.feed_only,
        )
        topic = facts.topic
        for device in targets:
            if only is None and not push.feed_only and not device_matches(device, push.level, push.channel):
                continue
            decision = decide(people[device.id], facts, now, sent_within=counter.for_device(device.id))
            if decision is None:
                continue
            status, due, reason = _row_outcome(decision, now)
            delivery_id = next(ids)
            claimed = status is DeliveryStatus.QUEUED and lease is not None
            if status is DeliveryStatus.QUEUED:
                counter.add(device.id, topic)
            rows.append(
                (
                    delivery_id,
                    push.seq,
                    push.id,
                    device.id,
                    push.round,
                    status.value,
                    1 if claimed else 0,
                    due,
                    lease if claimed else None,
                    now,
                    now,
                    reason,
                    topic,
                )
            )
            if status is DeliveryStatus.QUEUED:
                queued.append(rows[-1])
    return rows, queued


def _delivery_ids(most: int) -> Iterator[str]:
    """Up to ``most`` fresh delivery ids (``dl_`` and 80 random bits in hex), from one read of the
    system's random source instead of one a row."""
    pool = secrets.token_hex(10 * most)
    return (f"dl_{pool[i : i + 20]}" for i in range(0, len(pool), 20))


def _row_outcome(
    decision: Decision, now: _dt.datetime
) -> tuple[DeliveryStatus, _dt.datetime | None, str | None]:
    """A gate decision as (status, next_attempt_at, reason) of the row."""
    if isinstance(decision, Deliver):
        return DeliveryStatus.QUEUED, now, None
    if isinstance(decision, Skip):
        return DeliveryStatus.SKIPPED, None, decision.reason.value
    return DeliveryStatus.HELD, decision.until, decision.reason.value  # Hold, or Digest (same release)


#: ``last_error`` of a notification's delivery that was still queued when the notification was cancelled.
NOTIFICATION_CANCELLED: Final = "notification cancelled"


#: Recipients with a preference document are decided this many devices at a time (keyset pages; each
#: page reads the audience query once, so a larger page means fewer passes for a few KB more memory).
NOTIFICATION_BATCH: Final = 2000

_NOTIFICATION_COLUMNS: Final = (
    "id",
    "notification_id",
    "device_id",
    "round",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "reason",
    "category",
)
_INSERT_NOTIFICATION_ROWS: Final = BulkInsert(deliveries, _NOTIFICATION_COLUMNS)


def _has_document(device_id: sa.ColumnElement[Any], user_id: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """Whether the device, or its app user, keeps a preference document (two primary-key probes)."""
    kind, subject = preference_documents.c.subject_kind, preference_documents.c.subject_id
    return sa.or_(
        sa.exists().where(kind == preferences.DEVICE, subject == device_id),
        sa.exists().where(kind == preferences.USER, subject == user_id),
    )


def enqueue_notification(
    conn: sa.Connection,
    notification_id: str,
    device_ids: sa.Select[Any],
    *,
    facts: PushFacts,
    due: _dt.datetime,
    now: _dt.datetime,
    batch: int = NOTIFICATION_BATCH,
) -> None:
    """Create ``notification_id``'s row for every device ``device_ids`` names, as the attention gate
    decides at ``due`` (the moment it would go out): queued due then, held, or skipped with the
    reason. ``device_ids`` is ``SELECT devices.id`` over a FROM holding ``devices``
    (``audience.device_rows``); what the gate reads of a device is added to it. A row's id is derived
    from (notification, device).

    Memory stays bounded whatever the audience's size. The gate is asked once what it decides for a
    recipient who chose nothing (the defaults and the app's category default): when that is the same
    for every such device (deliver, or skip an ``off`` category) their rows are written by one
    ``INSERT ... SELECT`` that no recipient passes through Python; the devices that (or whose user)
    keep a preference document, or everyone when the default depends on the device (a ``digest``
    category's local hour), are read :data:`NOTIFICATION_BATCH` at a time (keyset pages on the device
    id) and each decided by :func:`decide`. Drivers do not all report an ``INSERT ... SELECT``'s row
    count: the audience's count says how many (``hub/audience``).
    """
    nobody = decide(
        Recipient(user=True, categories=preferences.list_categories(conn)),
        facts,
        due,
        sent_within=lambda _period, _category: 0,  # the defaults have no caps
    )
    alike = nobody if isinstance(nobody, Deliver | Skip) else None
    anyone_chose = conn.execute(sa.select(preference_documents.c.subject_id).limit(1)).first() is not None
    if alike is not None and not anyone_chose:  # the common case: the audience's own SELECT, once
        plain = device_ids.subquery("recipient_devices")
        _insert_alike(conn, notification_id, plain.c[0], alike, facts, due=due, now=now)
        return
    found = device_ids.add_columns(*preferences.device_columns()[1:]).subquery("recipient_devices")
    has_document = _has_document(found.c[0], found.c.user_id)
    if alike is not None:
        _insert_alike(conn, notification_id, found.c[0], alike, facts, due=due, now=now, where=~has_document)
    _decide_in_pages(
        conn,
        notification_id,
        found,
        facts,
        due=due,
        now=now,
        batch=batch,
        where=has_document if alike is not None else None,
    )


def _insert_alike(
    conn: sa.Connection,
    notification_id: str,
    device_id: sa.ColumnElement[Any],
    decision: Decision,
    facts: PushFacts,
    *,
    due: _dt.datetime,
    now: _dt.datetime,
    where: sa.ColumnElement[bool] | None = None,
) -> None:
    """One ``INSERT ... SELECT``: the same ``decision`` for every device ``device_id`` (a column of
    the audience's subquery) names, where ``where`` holds."""
    status, next_at, reason = _row_outcome(decision, due)
    rows = sa.select(
        (sa.literal(notification_id + ".") + device_id).label("id"),
        sa.literal(notification_id).label("notification_id"),
        device_id.label("device_id"),
        sa.literal(0).label("round"),
        sa.literal(status.value).label("status"),
        sa.literal(0).label("attempts"),
        sa.literal(next_at, deliveries.c.next_attempt_at.type).label("next_attempt_at"),
        sa.literal(now, deliveries.c.created_at.type).label("created_at"),
        sa.literal(now, deliveries.c.updated_at.type).label("updated_at"),
        sa.literal(reason, deliveries.c.reason.type).label("reason"),
        sa.literal(facts.topic, deliveries.c.category.type).label("category"),
    )
    if where is not None:
        rows = rows.where(where)
    conn.execute(deliveries.insert().from_select(list(_NOTIFICATION_COLUMNS), rows))


def _decide_in_pages(
    conn: sa.Connection,
    notification_id: str,
    found: sa.Subquery,
    facts: PushFacts,
    *,
    due: _dt.datetime,
    now: _dt.datetime,
    batch: int,
    where: sa.ColumnElement[bool] | None,
) -> None:
    """Each device of ``found`` (the audience with what the gate reads of a device) where ``where``
    holds, decided by :func:`decide` ``batch`` devices at a time in keyset pages on the device id."""
    device_id = found.c[0]
    gated = sa.select(device_id.label("id"), *list(found.c)[1:])
    if where is not None:
        gated = gated.where(where)
    after: str | None = None
    while True:
        page = gated.order_by(device_id).limit(batch)
        if after is not None:
            page = page.where(device_id > after)
        targets = conn.execute(page).all()
        if not targets:
            return
        people = preferences.recipients(conn, targets)
        counter = _SentCounter(conn, due)
        out = []
        for device in targets:
            decision = decide(people[device.id], facts, due, sent_within=counter.for_device(device.id))
            if decision is None:
                continue
            status, next_at, reason = _row_outcome(decision, due)
            out.append(
                (
                    f"{notification_id}.{device.id}",
                    notification_id,
                    device.id,
                    0,
                    status.value,
                    0,
                    next_at,
                    now,
                    now,
                    reason,
                    facts.topic,
                )
            )
        _INSERT_NOTIFICATION_ROWS.execute(conn, out)
        if len(targets) < batch:
            return
        after = targets[-1].id


def cancel_notification(conn: sa.Connection, notification_id: str, *, now: _dt.datetime) -> int:
    """Fail the notification's deliveries that were not sent yet, queued or held
    (:data:`NOTIFICATION_CANCELLED`)."""
    return _fail_pending(
        conn, deliveries.c.notification_id == notification_id, error=NOTIFICATION_CANCELLED, now=now
    )


#: Deliveries not sent yet: waiting in the queue or held by the attention gate.
_PENDING: Final = (DeliveryStatus.QUEUED, DeliveryStatus.HELD)


def _fail_pending(
    conn: sa.Connection, where: sa.ColumnElement[bool], *, error: str, now: _dt.datetime
) -> int:
    """Fail the pending rows matching ``where`` with ``error`` (their lease and retry time cleared);
    returns how many. The one way a not-yet-sent delivery ends without being sent."""
    return _write(
        conn,
        deliveries.update()
        .where(where, deliveries.c.status.in_(_PENDING))
        .values(
            status=DeliveryStatus.FAILED,
            locked_until=None,
            next_attempt_at=None,
            last_error=error,
            updated_at=now,
        ),
        now=now,
    )


# ------------------------------------------------------------------------------------ the dispatcher


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """A claimed delivery with what is needed to send it: its ``event``, or its ``notification`` and
    the ``user`` the device belongs to (:func:`pushlog.hub.store.users.profiles`). ``device`` holds
    the columns of :data:`_CLAIMED_DEVICE`, not the whole row."""

    id: str
    lease: _dt.datetime
    attempts: int
    round: int
    device: dict[str, Any]
    event: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    #: Set when this push stands for several that waited (``attention.summary_fields`` renders it).
    summary: dict[str, Any] | None = None


def _as_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def claim_due(conn: sa.Connection, *, now: _dt.datetime, lease: _dt.timedelta, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` queued deliveries whose ``next_attempt_at`` has come, oldest first.

    Several dispatchers (hub processes on one PostgreSQL) claim side by side: the candidates are read
    ``FOR UPDATE SKIP LOCKED``, so a row another claimer is leasing right now is passed over instead
    of waited for, and each claimer gets its own rows. SQLite has one writer (``BEGIN IMMEDIATE``) and
    ignores the clause. The UPDATE re-checks the conditions either way: only rows it changed are ours.
    """
    free = sa.or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until <= now)
    due = sa.and_(deliveries.c.status == DeliveryStatus.QUEUED, deliveries.c.next_attempt_at <= now, free)
    candidates = list(
        conn.execute(
            sa.select(deliveries.c.id)
            .where(due)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not candidates:
        return []
    until = now + lease
    # Re-check the conditions in the UPDATE itself: only rows this statement changed are ours.
    claimed = set(
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(candidates), due)
            .values(locked_until=until, attempts=deliveries.c.attempts + 1, updated_at=now)
            .returning(deliveries.c.id)
        ).scalars()
    )
    if not claimed:
        return []
    rows = conn.execute(_CLAIMED_ROW.where(deliveries.c.id.in_(claimed))).all()
    return _claims(conn, rows, until=until, now=now)


#: What a claim reads of its delivery rows.
_CLAIMED_ROW: Final = sa.select(
    deliveries.c.id,
    deliveries.c.attempts,
    deliveries.c.round,
    deliveries.c.device_id,
    deliveries.c.event_seq,
    deliveries.c.notification_id,
    deliveries.c.summary,
)


#: What a claim reads of its devices: what sending needs (the kind and the sealed secrets or token
#: the sender's target is opened from, the user a notification is rendered for and the device's
#: locale), not the whole row: a fan-out reads every device again, and the rest is per-row work.
_CLAIMED_DEVICE_COLUMNS: Final = (
    devices.c.id,
    devices.c.kind,
    devices.c.user_id,
    devices.c.locale,
    devices.c.endpoint,
    devices.c.p256dh,
    devices.c.auth,
    devices.c.token,
    devices.c.token_registered_at,
)
_CLAIMED_DEVICE: Final = sa.select(*_CLAIMED_DEVICE_COLUMNS)
_CLAIMED_DEVICE_NAMES: Final = tuple(column.name for column in _CLAIMED_DEVICE_COLUMNS)


def _claims(
    conn: sa.Connection, rows: Sequence[Any], *, until: _dt.datetime, now: _dt.datetime
) -> list[Claimed]:
    """The claimed delivery ``rows`` (:data:`_CLAIMED_ROW`, leased until ``until``) with their device,
    event or notification and user; rows whose device is gone are failed and left out."""
    device_rows = {
        r.id: _as_dict(r)
        for r in conn.execute(_CLAIMED_DEVICE.where(devices.c.id.in_({r.device_id for r in rows})))
    }
    event_rows = {
        r.seq: _as_dict(r)
        for r in conn.execute(
            sa.select(events).where(events.c.seq.in_({r.event_seq for r in rows if r.event_seq is not None}))
        )
    }
    wanted = {r.notification_id for r in rows if r.notification_id is not None}
    notification_rows = (
        {
            r.id: _as_dict(r)
            for r in conn.execute(sa.select(notifications).where(notifications.c.id.in_(wanted)))
        }
        if wanted
        else {}
    )
    users = profiles(
        conn, {d["user_id"] for d in device_rows.values() if d.get("user_id") is not None} if wanted else ()
    )
    result = []
    orphans = []
    for row in rows:
        device = device_rows.get(row.device_id)
        event = event_rows.get(row.event_seq)
        notification = notification_rows.get(row.notification_id)
        if device is None or (event is None and notification is None):
            orphans.append(row.id)
            continue
        result.append(
            Claimed(
                id=row.id,
                lease=until,
                attempts=row.attempts,
                round=row.round,
                device=device,
                event=event,
                notification=notification,
                user=users.get(device["user_id"]) if notification is not None else None,
                summary=row.summary,
            )
        )
    if orphans:  # the device was removed between queueing and sending
        _write(
            conn,
            deliveries.update()
            .where(deliveries.c.id.in_(orphans))
            .values(
                status=DeliveryStatus.FAILED,
                locked_until=None,
                last_error="device was removed",
                updated_at=now,
            ),
            now=now,
        )
    return result


def _mine(delivery_id: str, lease: _dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        deliveries.c.id == delivery_id,
        deliveries.c.status == DeliveryStatus.QUEUED,
        deliveries.c.locked_until == lease,
    )


def record_sent(conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None) -> bool:
    """Mark a claimed delivery sent; the device had a success. False if the claim was lost."""
    return record_sent_many(conn, [claim], now=now, status_code=status_code) == 1


def record_sent_many(
    conn: sa.Connection, claims: list[Claimed], *, now: _dt.datetime, status_code: int | None
) -> int:
    """:func:`record_sent` for many claims in two statements a lease; returns how many were ours.
    The statements are compiled once per connection (:class:`._prepared.PreparedIn`): a fan-out records its
    results a few dozen at a time, and building the Core statements anew cost more than the
    database's work on the rows."""
    if not claims:
        return 0
    leases = {c.lease for c in claims}
    done = 0
    for lease in leases:
        ids = [c.id for c in claims if c.lease == lease]
        created = _SENT.rows(conn, ids, {"lease": lease, "now": now, "status_code": status_code})
        _mark_changed(conn, [row[0] for row in created], now=now)
        done += len(created)
    _SUCCEEDED.execute(conn, sorted({c.device["id"] for c in claims}), {"now": now})
    return done


#: A claim's delivery rows sent (still ours: queued, and leased until the claim's lease).
_SENT: Final = PreparedIn(
    lambda ids: (
        deliveries.update()
        .where(
            deliveries.c.id.in_(ids),
            deliveries.c.status == DeliveryStatus.QUEUED,
            deliveries.c.locked_until == sa.bindparam("lease"),
        )
        .values(
            status=DeliveryStatus.SENT,
            sent_at=sa.bindparam("now"),
            locked_until=None,
            next_attempt_at=None,
            last_status_code=sa.bindparam("status_code"),
            last_error=None,
            updated_at=sa.bindparam("now"),
        )
        .returning(deliveries.c.created_at)
    )
)
#: The devices that had a success.
_SUCCEEDED: Final = PreparedIn(
    lambda ids: (
        devices.update()
        .where(devices.c.id.in_(ids))
        .values(last_success_at=sa.bindparam("now"), failure_count=0)
    )
)


def record_retry(
    conn: sa.Connection,
    claim: Claimed,
    *,
    now: _dt.datetime,
    next_attempt_at: _dt.datetime,
    status_code: int | None,
    error: str,
) -> bool:
    """Keep a claimed delivery queued for another attempt at ``next_attempt_at``; release the lease."""
    done = _release(
        conn, claim, now=now, status_code=status_code, error=error, next_attempt_at=next_attempt_at
    )
    conn.execute(
        devices.update()
        .where(devices.c.id == claim.device["id"])
        .values(failure_count=devices.c.failure_count + 1)
    )
    return done


def record_failed(
    conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None, error: str
) -> bool:
    """Mark a claimed delivery failed for good."""
    return _release(
        conn,
        claim,
        now=now,
        status_code=status_code,
        error=error,
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
    )


def _release(
    conn: sa.Connection,
    claim: Claimed,
    *,
    now: _dt.datetime,
    status_code: int | None,
    error: str,
    **values: Any,
) -> bool:
    """Record an attempt's result on a row this claim still holds and release its lease; ``values`` is
    what else changes (the next attempt, or the final status). False if the claim was lost."""
    done = _write(
        conn,
        deliveries.update()
        .where(_mine(claim.id, claim.lease))
        .values(locked_until=None, last_status_code=status_code, last_error=error, updated_at=now, **values),
        now=now,
    )
    return bool(done)


def record_gone(
    conn: sa.Connection, claim: Claimed, *, now: _dt.datetime, status_code: int | None, error: str
) -> bool:
    """The subscription is dead: fail this delivery and the device's other queued ones, delete the device.

    Delivery rows are kept (failed, with the reason) so the event's history stays complete.
    """
    done = record_failed(conn, claim, now=now, status_code=status_code, error=error)
    device_id = claim.device["id"]
    _fail_pending(conn, deliveries.c.device_id == device_id, error=f"device removed: {error}", now=now)
    conn.execute(devices.delete().where(devices.c.id == device_id))
    return done


# ------------------------------------------------------------- receipts, acknowledgement, removal


def record_receipt(
    conn: sa.Connection, delivery_id: str, status: DeliveryStatus, *, now: _dt.datetime
) -> bool:
    """Record "delivered" or "opened" for a delivery; ``False`` if there is no such delivery.

    The timestamp is set once (first receipt wins); the status only moves forward.
    """
    row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
    if row is None:
        return False
    values: dict[str, Any] = {"updated_at": now}
    column = "delivered_at" if status == DeliveryStatus.DELIVERED else "opened_at"
    if getattr(row, column) is None:
        values[column] = now
    if status == DeliveryStatus.OPENED and row.delivered_at is None:
        values["delivered_at"] = now
    if _PROGRESS[status] > _PROGRESS.get(row.status, 0):
        values["status"] = status
    _write(conn, deliveries.update().where(deliveries.c.id == delivery_id).values(**values), now=now)
    return True


def acknowledge_deliveries(conn: sa.Connection, event_id: str, *, now: _dt.datetime) -> None:
    """The event was acknowledged: its open deliveries on every device become "acknowledged", so
    queued re-pushes are not sent (failed ones keep their failure), and a fan-out of it still
    expanding stops (the devices it had not reached get no row)."""
    conn.execute(fanouts.delete().where(fanouts.c.event_id == event_id))
    _write(
        conn,
        deliveries.update()
        .where(deliveries.c.event_id == event_id, deliveries.c.status.in_(_ACKNOWLEDGEABLE))
        .values(status=DeliveryStatus.ACKNOWLEDGED, updated_at=now),
        now=now,
    )


def drop_queued(conn: sa.Connection, device_id: str) -> None:
    """Delete the deliveries of a device that were still waiting to be sent or held (the device is
    removed)."""
    _write(
        conn,
        deliveries.delete().where(deliveries.c.device_id == device_id, deliveries.c.status.in_(_PENDING)),
        now=None,
    )


def delete_for_events(conn: sa.Connection, seqs: Sequence[int]) -> int:
    """Delete every delivery of the events ``seqs`` (retention removes the events); returns rows deleted."""
    if not seqs:
        return 0
    return _write(conn, deliveries.delete().where(deliveries.c.event_seq.in_(seqs)), now=None)


def delete_for_notifications(conn: sa.Connection, notification_ids: Sequence[str], *, limit: int) -> int:
    """Delete at most ``limit`` deliveries of the notifications ``notification_ids`` (retention removes
    finished notifications); returns rows deleted (fewer than ``limit``: none of theirs is left)."""
    if not notification_ids:
        return 0
    some = (
        sa.select(deliveries.c.id)
        .where(deliveries.c.notification_id.in_(notification_ids))
        .limit(limit)
        .scalar_subquery()
    )
    return _write(conn, deliveries.delete().where(deliveries.c.id.in_(some)), now=None)


def queue_depth(conn: sa.Connection) -> int:
    """How many deliveries wait to be sent (``queued``, leased or not): one index range count."""
    count = conn.execute(
        sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == DeliveryStatus.QUEUED)
    ).scalar()
    return int(count or 0)


# -------------------------------------------------------------------------------- CRITICAL re-pushes


def schedule_repeats(conn: sa.Connection, *, now: _dt.datetime, interval: _dt.timedelta) -> int:
    """Create the next re-push round for every unacknowledged CRITICAL event that is due.

    One new ``queued`` row per device whose preferences match (devices registered since the first
    push included). The event's ``repeat_next_at`` moves one ``interval`` on, or is cleared once that
    passes ``repeat_until``. Returns the number of rows created.

    Safe when several dispatchers call it at once: each due event is claimed by a conditional UPDATE
    of its ``repeat_next_at`` (still the value read), and only the caller whose UPDATE changed the row
    creates the round. On PostgreSQL a second caller's UPDATE waits for the first to commit, then
    finds the value moved and changes nothing; so every round is created exactly once.
    """
    due = conn.execute(
        sa.select(
            events.c.seq,
            events.c.id,
            events.c.level,
            events.c.channel,
            events.c.repeat_next_at,
            events.c.repeat_until,
        ).where(
            events.c.repeat_next_at.is_not(None),
            events.c.repeat_next_at <= now,
            events.c.acknowledged_at.is_(None),
        )
    ).all()
    if not due:
        return 0
    pushes = []
    for event in due:
        expired = event.repeat_until is not None and now >= event.repeat_until
        following = now + interval
        stop = expired or (event.repeat_until is not None and following >= event.repeat_until)
        claimed = conn.execute(
            events.update()
            .where(
                events.c.seq == event.seq,
                events.c.acknowledged_at.is_(None),
                events.c.repeat_next_at == event.repeat_next_at,
            )
            .values(repeat_next_at=None if stop else following)
        ).rowcount
        if not claimed or expired:  # another dispatcher took this round, or the series is over
            continue
        last_round = conn.execute(
            sa.select(sa.func.max(deliveries.c.round)).where(deliveries.c.event_id == event.id)
        ).scalar()
        pushes.append(Push(event.seq, event.id, event.level, event.channel, round=(last_round or 0) + 1))
    return enqueue(conn, pushes, now=now)


def _next_round(conn: sa.Connection, event_id: str) -> int:
    last = conn.execute(
        sa.select(sa.func.max(deliveries.c.round)).where(deliveries.c.event_id == event_id)
    ).scalar()
    return int(last or 0) + 1


def enqueue_next_round(
    conn: sa.Connection, push: Push, *, now: _dt.datetime, only: Sequence[str] | None = None
) -> int:
    """Queue one more round of an already pushed event (a resolved alert's replacement, built from
    the event as it is when sent; an escalation step to ``only`` its group); returns rows created."""
    return enqueue(
        conn,
        [Push(push.seq, push.id, push.level, push.channel, round=_next_round(conn, push.id))],
        now=now,
        only=only,
    )


def next_due(conn: sa.Connection) -> _dt.datetime | None:
    """When the dispatcher next has work: the earliest queued attempt (or lease end), re-push, or
    fan-out still expanding (due at once)."""
    attempt = conn.execute(
        sa.select(
            sa.func.min(sa.func.coalesce(deliveries.c.locked_until, deliveries.c.next_attempt_at))
        ).where(deliveries.c.status == DeliveryStatus.QUEUED)
    ).scalar()
    repeat = conn.execute(
        sa.select(sa.func.min(events.c.repeat_next_at)).where(
            events.c.repeat_next_at.is_not(None), events.c.acknowledged_at.is_(None)
        )
    ).scalar()
    expanding = conn.execute(sa.select(sa.func.min(fanouts.c.created_at))).scalar()
    moments = [as_utc(m) for m in (attempt, repeat, expanding) if m is not None]
    return min(moments) if moments else None


# ------------------------------------------------------------------------------------- held pushes


@dataclass(slots=True)
class Released:
    """What one :func:`release_held` call did."""

    queued: int = 0  # rows queued to send (one per device and pass)
    summarized: int = 0  # held rows that went out inside another row's summary
    deferred: int = 0  # held rows whose time came during quiet hours: moved to their end
    seen: int = 0  # held rows looked at (a full batch means: call again)


def release_held(conn: sa.Connection, *, now: _dt.datetime, limit: int = 500) -> Released:
    """Let held rows whose time came go: per device, one event row is queued; when several waited it
    carries a summary of all of them (``summary``) and the others become ``skipped`` (reason
    ``summarized``). A notification's row (an app user's device) is queued as itself: each is a
    message of its own, rendered per user when sent. Rows due while the device is in quiet hours
    move to their end instead.

    Safe to run in several processes at once: rows are taken by a conditional UPDATE (``status`` still
    ``held``) and only the rows that statement changed are released, so none is lost or sent twice.
    """
    held = DeliveryStatus.HELD
    due = conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.device_id,
            deliveries.c.event_seq,
            deliveries.c.notification_id,
            deliveries.c.reason,
            events.c.level,
            events.c.title,
            events.c.channel,
            events.c.ts,
        )
        .select_from(deliveries.outerjoin(events, events.c.seq == deliveries.c.event_seq))
        .where(deliveries.c.status == held, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    ).all()
    result = Released(seen=len(due))
    if not due:
        return result
    by_device: dict[str, list[Any]] = {}
    for row in due:
        by_device.setdefault(row.device_id, []).append(row)
    targets = conn.execute(
        sa.select(*preferences.device_columns()).where(devices.c.id.in_(list(by_device)))
    ).all()
    people = preferences.recipients(conn, targets)
    for device_id, rows in by_device.items():
        ids = [r.id for r in rows]
        recipient = people.get(device_id)
        if recipient is not None and (later := release_at(recipient, now)) > now:
            result.deferred += conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(ids), deliveries.c.status == held)
                .values(next_attempt_at=later, updated_at=now)
            ).rowcount
            continue
        notes = [r.id for r in rows if r.notification_id is not None]
        if notes:  # an app's notifications are each their own message: released one by one
            result.queued += _write(
                conn,
                deliveries.update()
                .where(deliveries.c.id.in_(notes), deliveries.c.status == held)
                .values(status=DeliveryStatus.QUEUED, next_attempt_at=now, updated_at=now),
                now=now,
            )
            rows = [r for r in rows if r.notification_id is None]
            ids = [r.id for r in rows]
            if not rows:
                continue
        changed = conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(ids), deliveries.c.status == held)
            .values(status=DeliveryStatus.SKIPPED, reason=Reason.SUMMARIZED.value, updated_at=now)
            .returning(deliveries.c.id, deliveries.c.created_at)
        ).all()
        _mark_changed(conn, [row.created_at for row in changed], now=now)
        taken = {row.id for row in changed}
        mine = [r for r in rows if r.id in taken]
        if not mine:
            continue  # another process released them
        carrier = max(mine, key=lambda r: (r.level, r.event_seq))
        summary = (
            make_summary(
                ((r.title, r.channel, as_utc(r.ts)) for r in mine), (r.reason for r in mine if r.reason)
            )
            if len(mine) > 1
            else None
        )
        _write(
            conn,
            deliveries.update()
            .where(deliveries.c.id == carrier.id)
            .values(
                status=DeliveryStatus.QUEUED,
                reason=carrier.reason,
                summary=summary,
                next_attempt_at=now,
                updated_at=now,
            ),
            now=now,
        )
        result.queued += 1
        result.summarized += len(mine) - 1
    return result
