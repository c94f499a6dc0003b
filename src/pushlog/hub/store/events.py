"""Events: ingest (event rows, filter side tables and round-0 deliveries in one transaction),
the filtered feed with cursor pagination, single-event reads and acknowledgement.

The feed is ordered by ``seq`` (assigned at insert), newest first. A cursor is the last ``seq`` a
page showed; the next page is ``seq < cursor``, so events arriving meanwhile (higher ``seq``) never
shift or duplicate a page.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Final

import sqlalchemy as sa

from ..._event import MAX_COUNT
from ..._levels import POLICIES, Level
from .._clock import format_time
from . import _cursor, alerts, incidents, outbox, rollups
from ._locks import INGEST, hold_for_transaction
from ._prepared import BulkInsert, InList, Prepared
from ._tables import UTCDateTime, as_utc, event_meta, event_tags, events


@dataclass(slots=True, kw_only=True)
class NewEvent:
    """A validated incoming event (see :mod:`pushlog.hub._models`)."""

    id: str
    ts: _dt.datetime
    level: Level
    title: str
    body: str | None = None
    channel: str | None = None
    tags: list[str] = field(default_factory=list)
    link: str | None = None
    image: str | None = None
    actions: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    count: int = 1
    push: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    repeat_of: str | None = None
    #: The fingerprint of an alert this event resolves (wire ``resolves``, store/alerts.py).
    resolves: str | None = None
    #: False: a pushed CRITICAL event gets no re-push series (the hub's push budget, hub/_pushbudget.py).
    repeats: bool = True


#: A line just inserted: its ``seq`` and the :func:`_row` tuple written.
NewLine = tuple[int, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    deliveries: int
    #: Stored events by numeric level (the hub's ``pushlog_events_ingested_total``).
    levels: Mapping[int, int] = field(default_factory=dict)
    #: The newly stored events with the seq of their feed line (a merged follow-up: its line's), in
    #: batch order: what the rules engine (hub/rules/) evaluates.
    stored: Sequence[tuple[int, NewEvent]] = ()
    #: Round-0 deliveries already claimed for the caller (``insert_events(lease=...)``), to send
    #: once the transaction committed; also counted in ``deliveries``.
    claimed: Sequence[outbox.Claimed] = ()
    #: Pushes whose audience is still being expanded after the claimed first chunk
    #: (``outbox.expand_fanouts``: the dispatcher writes and sends the rest).
    expanding: int = 0
    #: The new lines (:data:`NewLine`: seq and the values written), in ``seq`` order, when they are
    #: everything an unfiltered :func:`events_after` would read past the seq before the first of
    #: them once this commits: no follow-up folded, no alert resolved, consecutive seqs. The live
    #: stream takes them from memory (:func:`line_event`) instead of reading them back
    #: (hub/_broker.py); empty otherwise, and the stream reads. Made into StoredEvents only when a
    #: stream wants them: that costs tens of µs an event, which ingest need not pay.
    lines: Sequence[NewLine] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Repeat:
    """CRITICAL re-push schedule applied at ingest."""

    interval: _dt.timedelta
    expiry: _dt.timedelta


def meta_text(value: Any) -> str | None:
    """How a metadata value is indexed for ``meta.KEY=VALUE`` filters; ``None`` for non-scalars."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # what json.dumps gives, without its call overhead
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)
    if value is None:
        return "null"
    return None


#: Which of a batch's ids are stored: read once per ingest transaction, through the driver
#: (a Core expanding ``IN`` rendered and bound the 100 ids anew each time: two thirds of the read).
_STORED_IDS: Final = InList(events, ("id",), "id")
#: The seqs of a batch's ids (read back after a batch insert off SQLite).
_SEQS: Final = InList(events, ("id", "seq"), "id")


@dataclass(frozen=True, slots=True)
class Stored:
    """Which of the ids ``checked`` were stored already, read under the ingest lock
    (:func:`lookup`): one read the push budget and :func:`insert_events` share."""

    checked: frozenset[str]
    found: frozenset[str]


def lookup(conn: sa.Connection, ids: Sequence[str]) -> Stored:
    """Take the ingest lock (seq commits in increasing order across hub processes too,
    store/_locks.py), then read which of ``ids`` are stored (one SELECT). The lock is held until
    commit, so no other process can store one of them before this transaction's insert."""
    checked = frozenset(ids)
    if not checked:
        return Stored(checked, frozenset())
    hold_for_transaction(conn, INGEST)
    found = _STORED_IDS.rows(conn, list(checked))
    return Stored(checked, frozenset(row[0] for row in found))


def insert_events(
    conn: sa.Connection,
    batch: Sequence[NewEvent],
    *,
    key_id: str | None,
    now: _dt.datetime,
    repeat: Repeat,
    lease: _dt.timedelta | None = None,
    seen: Stored | None = None,
) -> IngestResult:
    """Store new events of ``batch`` with their tags, metadata and round-0 deliveries.

    With ``lease``, the round-0 fan-out is streamed (:func:`outbox.enqueue_claimed`): this transaction
    writes the rows of the first devices, those queued to send now claimed for the caller and
    returned in ``claimed`` (a dispatcher in the same process sends them as soon as the transaction
    commits, without a claim of its own), and a durable fan-out row per push from which a
    dispatcher writes the rest (``expanding``).

    Events whose id is already stored (or repeated within the batch) count as duplicates and change
    nothing. A dedup follow-up (``repeat_of``) whose first event is stored (or comes earlier in the same
    request) is stored hidden, folded into that event's line: the line's ``count`` grows by the
    follow-up's and its ``last_seen_at`` moves to the follow-up's ``ts``. An unknown ``repeat_of``
    leaves the follow-up a visible line of its own. Follow-ups never get deliveries. Must run inside
    the caller's transaction so that it all commits together.

    ``seen``: this transaction's :func:`lookup` of (some of) the batch's ids, made since nothing
    was inserted; only ids it did not check are read again.
    """
    unique: dict[str, NewEvent] = {}
    for item in batch:
        unique.setdefault(item.id, item)
    duplicates = len(batch) - len(unique)
    if unique:
        unchecked = list(unique) if seen is None else [i for i in unique if i not in seen.checked]
        known = set(lookup(conn, unchecked).found) if unchecked else set()
        if seen is not None:
            known.update(seen.found.intersection(unique))
        duplicates += len(known)
        for event_id in known:
            del unique[event_id]
    fresh = list(unique.values())
    if not fresh:
        return IngestResult(accepted=0, duplicates=duplicates, deliveries=0)

    targets = _merge_targets(conn, fresh, key_id)
    visible = [item for item in fresh if item.id not in targets]
    rows = [_row(item, key_id=key_id, now=now, repeat=repeat) for item in visible]
    seq_of = _insert_rows(conn, rows)
    growth: dict[int, int] = {}
    if targets:
        growth = _merge_follow_ups(
            conn, [item for item in fresh if item.id in targets], targets, seq_of, key_id, now
        )
    rollups.record(conn, visible, growth)

    _INSERT_TAGS.execute(conn, [(seq_of[e.id], tag) for e in visible for tag in dict.fromkeys(e.tags)])
    meta_rows = []
    for item in visible:
        seq = seq_of[item.id]
        for key, value in item.metadata.items():
            text = meta_text(value)
            if text is not None:
                meta_rows.append((seq, key, text))
    _INSERT_META.execute(conn, meta_rows)

    pushes = [
        outbox.Push(seq_of[item.id], item.id, int(item.level), item.channel, feed_only=not item.push)
        for item in visible
        if item.repeat_of is None and (item.push or item.level == Level.INFO)
    ]
    claimed: list[outbox.Claimed] = []
    expanding = 0
    if lease is None:
        queued = outbox.enqueue(conn, pushes, now=now)
    else:
        written = {seq_of[row[0]]: row for row in rows}  # the claims carry their event from memory
        started = outbox.enqueue_claimed(
            conn, pushes, now=now, lease=lease, event_row=lambda seq: row_values((seq, written[seq]))
        )
        claimed, expanding = started.claimed, started.pending
        queued = len(claimed)
    recoveries = [item for item in visible if item.resolves]
    if recoveries:
        for item in recoveries:
            assert item.resolves is not None
            queued += alerts.resolve(
                conn, item.resolves, key_id=key_id, by=f"event:{item.id}", now=now, before=seq_of[item.id]
            )
    levels = Counter(int(item.level) for item in fresh)
    lines = [] if targets or recoveries else _new_lines(rows, seq_of)
    stored = [(seq_of[item.id], item) for item in visible]
    if targets:
        stored.extend((_line_of(targets[item.id], seq_of), item) for item in fresh if item.id in targets)
    return IngestResult(
        accepted=len(fresh),
        duplicates=duplicates,
        deliveries=queued,
        levels=levels,
        stored=stored,
        claimed=claimed,
        expanding=expanding,
        lines=lines,
    )


def _line_of(target: tuple[str, int | str], seq_of: Mapping[str, int]) -> int:
    where = target[1]
    return where if isinstance(where, int) else seq_of[where]


#: Column order of the tuples :func:`_row` builds.
_EVENT_COLUMNS: Final = (
    "id",
    "ts",
    "received_at",
    "level",
    "title",
    "body",
    "channel",
    "tags",
    "link",
    "image",
    "actions",
    "metadata",
    "fingerprint",
    "count",
    "push",
    "source",
    "key_id",
    "repeat_next_at",
    "repeat_until",
    "repeat_of",
    "merged_into",
    "resolves",
)
_INSERT_EVENTS: Final = BulkInsert(events, _EVENT_COLUMNS)
_INSERT_NUMBERED_EVENTS: Final = BulkInsert(events, ("seq", *_EVENT_COLUMNS))
_INSERT_TAGS: Final = BulkInsert(event_tags, ("event_seq", "tag"))
_INSERT_META: Final = BulkInsert(event_meta, ("event_seq", "key", "value"))


def _row(
    item: NewEvent,
    *,
    key_id: str | None,
    now: _dt.datetime,
    repeat: Repeat,
    merged_into: int | None = None,
) -> tuple[Any, ...]:
    critical = item.push and item.repeats and POLICIES[item.level].repeat_until_acknowledged
    return (
        item.id,
        item.ts,
        now,
        int(item.level),
        item.title,
        item.body,
        item.channel,
        item.tags,
        item.link,
        item.image,
        item.actions,
        item.metadata,
        item.fingerprint,
        item.count,
        item.push,
        item.source,
        key_id,
        now + repeat.interval if critical else None,
        now + repeat.expiry if critical else None,
        item.repeat_of,
        merged_into,
        item.resolves,
    )


def _insert_rows(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> dict[str, int]:
    """Insert visible events (:func:`_row` tuples) in batch order; their ``seq`` by id. A lone
    event (the latency-bound case) is one ``INSERT ... RETURNING``. A batch is one ``executemany``:
    on SQLite with the seqs it gives them itself (:func:`_next_seq`), elsewhere followed by one
    SELECT of the seqs the database chose."""
    if not rows:
        return {}
    if len(rows) == 1:
        return {rows[0][0]: int(_INSERT_EVENTS.insert_returning(conn, rows[0], "seq"))}
    first = _next_seq(conn, len(rows))
    if first is not None:
        _INSERT_NUMBERED_EVENTS.execute(conn, [(first + i, *row) for i, row in enumerate(rows)])
        return {row[0]: first + i for i, row in enumerate(rows)}
    _INSERT_EVENTS.execute(conn, rows)
    ids = [row[0] for row in rows]
    return {event_id: int(seq) for event_id, seq in _SEQS.rows(conn, ids)}


#: The largest seq SQLite gives a row (its rowid); past it SQLite would pick unused ones at random.
_MAX_ROWID: Final = 2**63 - 1
_LAST_SEQ: Final = Prepared(sa.select(sa.func.max(events.c.seq)))


def _next_seq(conn: sa.Connection, count: int) -> int | None:
    """On SQLite, the first of ``count`` seqs a batch inserted in order gets: ``seq`` is the rowid
    (no ``AUTOINCREMENT``), so each insert takes the largest seq + 1, and this transaction holds
    the write lock (``BEGIN IMMEDIATE``) since before this read. Numbering the rows before the
    insert stores exactly what SQLite would and saves reading the seqs back (a SELECT of the batch's
    ids). ``None`` on other databases (a sequence gives the seqs) or past the rowid range."""
    if conn.dialect.name != "sqlite":
        return None
    [[last]] = _LAST_SEQ.rows(conn)
    first = 1 if last is None else int(last) + 1
    return first if first + count - 1 <= _MAX_ROWID else None


#: Columns of a new line that :func:`_row` does not write: what they hold until the line changes.
_UNSET_COLUMNS: Final = {
    "acknowledged_at": None,
    "acknowledged_by": None,
    "last_seen_at": None,
    "resolved_at": None,
    "resolved_by": None,
}


def _new_lines(rows: Sequence[tuple[Any, ...]], seq_of: Mapping[str, int]) -> list[NewLine]:
    """Freshly inserted lines (:func:`_row` tuples) with their seq, in seq order; empty unless the
    seqs are consecutive (another writer's row in between would be missed by whoever takes them
    instead of reading)."""
    lines = sorted(((seq_of[row[0]], row) for row in rows), key=_seq_of_line)
    if not lines or lines[-1][0] - lines[0][0] != len(lines) - 1:
        return []
    return lines


def _seq_of_line(line: NewLine) -> int:
    return line[0]


#: Timestamp columns of :func:`_row`: a read gives them in UTC whatever offset the event came with.
_TIME_COLUMNS: Final = ("ts", "received_at", "repeat_next_at", "repeat_until")


def row_values(line: NewLine) -> dict[str, Any]:
    """A line just inserted as a read of its whole ``events`` row gives it (column name -> value):
    what a claim made in the ingest transaction carries (``outbox.enqueue_claimed``)."""
    seq, row = line
    values = {"seq": seq, **dict(zip(_EVENT_COLUMNS, row, strict=True)), **_UNSET_COLUMNS}
    for name in _TIME_COLUMNS:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return values


def line_event(line: NewLine) -> dict[str, Any]:
    """The StoredEvent of a line just inserted (``IngestResult.lines``): :func:`stored_event` of the
    values written, as a read of the committed row returns it."""
    seq, row = line
    return stored_event(
        SimpleNamespace(seq=seq, **_UNSET_COLUMNS, **dict(zip(_EVENT_COLUMNS, row, strict=True)))
    )


#: Where a merged follow-up goes: the seq of a stored line, or the id of a visible event of this batch.
_Target = tuple[str, int | str]


def _merge_targets(conn: sa.Connection, fresh: Sequence[NewEvent], key_id: str | None) -> dict[str, _Target]:
    """For each follow-up of ``fresh`` that can be folded into a line: where its count goes.

    A ``repeat_of`` naming a hidden follow-up resolves to the line that follow-up was merged into; one
    naming an event of this batch resolves through that event (cycles stay visible). Only events
    published with the same key (``key_id``) are merged into: a ``repeat_of`` naming another key's
    event is treated like an unknown one (the follow-up stays a visible line of its own), so one
    publish key can never change the count of another app's event.
    """
    wanted = {item.repeat_of for item in fresh if item.repeat_of is not None}
    if not wanted:
        return {}
    stored = {
        row.id: (row.merged_into if row.merged_into is not None else row.seq)
        for row in conn.execute(
            sa.select(events.c.id, events.c.seq, events.c.merged_into).where(
                events.c.id.in_(list(wanted)), _same_key(key_id)
            )
        )
    }
    in_batch = {item.id: item for item in fresh}
    targets: dict[str, _Target] = {}

    def resolve(item: NewEvent, trail: frozenset[str]) -> _Target | None:
        original = item.repeat_of
        if original is None or original in trail:
            return None
        if original in stored:
            return ("seq", stored[original])
        parent = in_batch.get(original)
        if parent is None:
            return None
        return resolve(parent, trail | {item.id}) or ("id", parent.id)

    for item in fresh:
        target = resolve(item, frozenset())
        if target is not None:
            targets[item.id] = target
    return targets


def _same_key(key_id: str | None) -> sa.ColumnElement[bool]:
    return events.c.key_id.is_(None) if key_id is None else events.c.key_id == key_id


def _merge_follow_ups(
    conn: sa.Connection,
    items: Sequence[NewEvent],
    targets: dict[str, _Target],
    seq_of: dict[str, int],
    key_id: str | None,
    now: _dt.datetime,
) -> dict[int, int]:
    """Store follow-ups hidden and add their counts to their lines (one UPDATE per line); the count
    added to each line, by its seq."""
    growth: dict[int, tuple[int, _dt.datetime]] = {}
    rows = []
    for item in items:
        kind, where = targets[item.id]
        line = where if kind == "seq" else seq_of[str(where)]
        assert isinstance(line, int)
        rows.append(_row(item, key_id=key_id, now=now, repeat=NO_REPEAT, merged_into=line))
        added, last = growth.get(line, (0, item.ts))
        growth[line] = (min(added + item.count, MAX_COUNT), max(last, item.ts))
    _INSERT_EVENTS.execute(conn, rows)
    conn.execute(
        _GROW_LINE,
        [{"b_seq": line, "b_add": added, "b_last": last} for line, (added, last) in growth.items()],
    )
    return {line: added for line, (added, _) in growth.items()}


#: The schedule for events that are never CRITICAL pushes (merged follow-ups, the hub's own alerts).
NO_REPEAT: Final = Repeat(interval=_dt.timedelta(0), expiry=_dt.timedelta(0))

_B_LAST = sa.bindparam("b_last", type_=UTCDateTime())
_GROW_LINE: Final = (
    events.update()
    .where(events.c.seq == sa.bindparam("b_seq"))
    .values(
        # saturates at MAX_COUNT (a 32-bit column on PostgreSQL), compared without computing the sum
        count=sa.case(
            (events.c.count > MAX_COUNT - sa.bindparam("b_add"), MAX_COUNT),
            else_=events.c.count + sa.bindparam("b_add"),
        ),
        last_seen_at=sa.case(
            (sa.or_(events.c.last_seen_at.is_(None), events.c.last_seen_at < _B_LAST), _B_LAST),
            else_=events.c.last_seen_at,
        ),
    )
)


# --------------------------------------------------------------------------------------------- feed


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Feed filters; all given ones must match."""

    min_level: Level | None = None
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if self.min_level is not None:
            where.append(events.c.level >= int(self.min_level))
        if self.channels:
            where.append(events.c.channel.in_(self.channels))
        for tag in self.tags:
            where.append(sa.exists().where(event_tags.c.event_seq == events.c.seq, event_tags.c.tag == tag))
        for key, value in self.meta:
            where.append(
                sa.exists().where(
                    event_meta.c.event_seq == events.c.seq,
                    event_meta.c.key == key,
                    event_meta.c.value == value,
                )
            )
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                sa.or_(
                    events.c.title.ilike(pattern, escape="\\"),
                    events.c.body.ilike(pattern, escape="\\"),
                )
            )
        if self.since is not None:
            where.append(events.c.ts >= self.since)
        if self.until is not None:
            where.append(events.c.ts < self.until)
        return where


#: The feed's cursor kind (:mod:`._cursor`): the last ``seq`` a page showed.
_CURSOR = "s"


def encode_cursor(seq: int) -> str:
    return _cursor.encode(_CURSOR, str(seq))


def decode_cursor(cursor: str) -> int:
    """The ``seq`` inside a cursor; :class:`ValueError` if it is not one of ours."""
    [seq] = _cursor.decode(_CURSOR, cursor, 1)
    if not seq.isdigit():
        raise ValueError("malformed cursor")
    return int(seq)


def list_events(
    conn: sa.Connection, flt: EventFilter, *, limit: int, before_seq: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the feed, newest first, and the cursor for the next page (``None`` at the end)."""
    query = sa.select(events).where(VISIBLE, *flt.conditions())
    if before_seq is not None:
        query = query.where(events.c.seq < before_seq)
    rows = conn.execute(query.order_by(events.c.seq.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    page = [stored_event(row) for row in rows[:limit]]
    incidents.annotate(conn, page)
    next_cursor = encode_cursor(page[-1]["seq"]) if more and page else None
    return page, next_cursor


@dataclass(frozen=True, slots=True)
class Update:
    """A line of the feed changed after it was first sent: ``event`` is its StoredEvent now.

    ``position`` is the seq of the hidden follow-up that changed it (the stream's ``id:``)."""

    position: int
    event: dict[str, Any]


#: Lines of the feed: events that were not folded into another event's line.
VISIBLE: Final = events.c.merged_into.is_(None)


def events_after(
    conn: sa.Connection, flt: EventFilter, *, after_seq: int, limit: int
) -> list[dict[str, Any] | Update]:
    """What the live stream sends after ``after_seq``, oldest first, at most ``limit`` items.

    Matching visible events come as StoredEvents; a hidden follow-up comes as an :class:`Update` of
    the line it was folded into (when that line matches ``flt``), with the line's state now. Several
    follow-ups of one line within the result are sent once, at the position of the last of them.
    """
    conditions = flt.conditions()
    rows = conn.execute(
        sa.select(events)
        .where(events.c.seq > after_seq, VISIBLE, *conditions)
        .order_by(events.c.seq)
        .limit(limit)
    ).all()
    follow_up = events.alias("follow_up")
    changed = conn.execute(
        sa.select(events, follow_up.c.seq.label("update_seq"))
        .join(follow_up, follow_up.c.merged_into == events.c.seq)
        .where(follow_up.c.seq > after_seq, *conditions)
        .order_by(follow_up.c.seq)
        .limit(limit)
    ).all()
    if not changed:
        return [stored_event(row) for row in rows]
    items: list[tuple[int, dict[str, Any] | Update]] = [(row.seq, stored_event(row)) for row in rows]
    items.extend((row.update_seq, Update(row.update_seq, stored_event(row))) for row in changed)
    items.sort(key=lambda pair: pair[0])
    del items[limit:]
    last_update = {item.event["seq"]: pos for pos, item in items if isinstance(item, Update)}
    return [
        item for pos, item in items if not isinstance(item, Update) or last_update[item.event["seq"]] == pos
    ]


def max_seq(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())


def stored_event(row: Any) -> dict[str, Any]:
    """The API's StoredEvent: the wire event plus ``seq``, ``received_at`` and acknowledgement, from a
    row of ``events`` (or the values just written, :func:`line_event`)."""
    return {
        "id": row.id,
        "seq": row.seq,
        "ts": format_time(row.ts),
        "received_at": format_time(row.received_at),
        "level": Level(row.level).wire_name if row.level in Level._value2member_map_ else str(row.level),
        "title": row.title,
        "body": row.body,
        "channel": row.channel,
        "tags": row.tags,
        "link": row.link,
        "image": row.image,
        "actions": row.actions,
        "metadata": row.metadata,
        "fingerprint": row.fingerprint,
        "count": row.count,
        "push": row.push,
        "source": row.source,
        "acknowledged_at": format_time(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "repeat_of": row.repeat_of,
        "last_seen_at": format_time(row.last_seen_at),
        "resolves": row.resolves,
        "resolved_at": format_time(row.resolved_at),
        "resolved_by": row.resolved_by,
        "resolved_after_s": alerts.resolved_after(row),
        "incident": None,  # the feed list fills it in (store/incidents.py)
    }


def get_event(conn: sa.Connection, event_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(events).where(events.c.id == event_id)).first()
    return None if row is None else stored_event(row)


#: The ``acknowledged_by`` column's width ("key:" and a key name, or "receipt:" and a delivery id).
ACKNOWLEDGED_BY_CHARS: Final = 200


def acknowledge(conn: sa.Connection, event_id: str, *, by: str, now: _dt.datetime) -> dict[str, Any] | None:
    """Acknowledge an event (idempotent: the first acknowledgement wins).

    Stops CRITICAL re-pushes (clears ``repeat_next_at``) and marks the event's open deliveries
    "acknowledged" on every device, so queued re-pushes are not sent. ``None`` if no such event.
    """
    conn.execute(
        events.update()
        .where(events.c.id == event_id, events.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by[:ACKNOWLEDGED_BY_CHARS], repeat_next_at=None)
    )
    outbox.acknowledge_deliveries(conn, event_id, now=now)
    return get_event(conn, event_id)
