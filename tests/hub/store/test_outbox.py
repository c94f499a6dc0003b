"""The outbox's writes (``store/outbox.py``) on SQLite and on a real PostgreSQL server: queueing by
device preferences, receipts that only move forward, acknowledgement and device removal."""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from tests.hub.store.rows import rich_event, webpush_device

from pushlog._levels import Level
from pushlog.hub.attention import PreferenceDocument, QuietHours
from pushlog.hub.store import events as event_store
from pushlog.hub.store import outbox, preferences
from pushlog.hub.store._tables import deliveries, fanouts
from pushlog.hub.store.outbox import DeliveryStatus

NOW = _dt.datetime(2026, 1, 1, 12, 0, tzinfo=_dt.UTC)
LATER = NOW + _dt.timedelta(seconds=3)
REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("min_level", "channels", "level", "channel", "expected"),
    [
        (Level.WARNING, None, Level.WARNING, None, True),  # exactly min_level
        (Level.WARNING, None, Level.INFO, "ops", False),  # below min_level
        (Level.INFO, ["ops"], Level.ERROR, "ops", True),
        (Level.INFO, ["ops"], Level.ERROR, "billing", False),  # channel not allowed
        (Level.INFO, ["ops"], Level.ERROR, None, False),  # no channel is not an allowed channel
        (Level.INFO, [], Level.CRITICAL, "ops", False),  # an empty list allows nothing
    ],
)
def test_device_matches(
    min_level: Level, channels: list[str] | None, level: Level, channel: str | None, expected: bool
) -> None:
    device = SimpleNamespace(min_level=int(min_level), channels=channels)
    assert outbox.device_matches(device, int(level), channel) is expected


def _event(conn: sa.Connection, level: Level, channel: str | None) -> outbox.Push:
    """A stored event that ingest did not push (so the test queues it itself)."""
    item = event_store.NewEvent(id=str(uuid.uuid4()), ts=NOW, level=level, title="t", channel=channel)
    event_store.insert_events(conn, [item], key_id=None, now=NOW, repeat=REPEAT)
    stored = event_store.get_event(conn, item.id)
    assert stored is not None
    return outbox.Push(stored["seq"], item.id, int(level), channel)


def _rows(conn: sa.Connection) -> set[tuple[str, str, int, str]]:
    found = conn.execute(
        sa.select(deliveries.c.event_id, deliveries.c.device_id, deliveries.c.round, deliveries.c.status)
    )
    return {(r.event_id, r.device_id, r.round, r.status) for r in found}


def test_enqueue_queues_one_row_per_matching_device(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        everything = webpush_device(conn, 1, Level.WARNING, None)
        ops_errors = webpush_device(conn, 2, Level.ERROR, ["ops"])
        webpush_device(conn, 3, Level.INFO, ["billing"])
        warning = _event(conn, Level.WARNING, "ops")
        error = _event(conn, Level.ERROR, "ops")
        critical = _event(conn, Level.CRITICAL, None)
        repeat = outbox.Push(critical.seq, critical.id, critical.level, critical.channel, round=2)

        created = outbox.enqueue(conn, [warning, error, repeat], now=NOW)

        queued = DeliveryStatus.QUEUED
        assert _rows(conn) == {
            (warning.id, everything, 0, queued),
            (error.id, everything, 0, queued),
            (error.id, ops_errors, 0, queued),
            (critical.id, everything, 2, queued),
        }
        assert created == 4
        due = conn.execute(sa.select(deliveries.c.next_attempt_at, deliveries.c.attempts)).all()
        assert {(r.next_attempt_at, r.attempts) for r in due} == {(NOW, 0)}
        assert outbox.enqueue(conn, [], now=NOW) == 0


def test_ingest_queues_round_zero_through_enqueue(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        phone = webpush_device(conn, 1, Level.WARNING, None)
        pushed = event_store.NewEvent(id="e-pushed", ts=NOW, level=Level.ERROR, title="t", push=True)
        quiet = event_store.NewEvent(id="e-quiet", ts=NOW, level=Level.ERROR, title="t", push=False)
        low = event_store.NewEvent(id="e-low", ts=NOW, level=Level.INFO, title="t", push=True)
        result = event_store.insert_events(conn, [pushed, quiet, low], key_id=None, now=NOW, repeat=REPEAT)
        assert result.deliveries == 1
        assert _rows(conn) == {("e-pushed", phone, 0, DeliveryStatus.QUEUED)}


def test_ingest_with_a_lease_claims_its_first_pushes_and_the_gate_still_decides(engine: sa.Engine) -> None:
    """Ingest can claim the rows it queues (the dispatcher then sends them without a claim of its
    own): they are leased and counted as an attempt, so no other claimer takes them until the lease
    expires; rows the gate holds are written as ever and not claimed."""
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        phone = webpush_device(conn, 1, Level.WARNING, None)
        sleeper = webpush_device(conn, 2, Level.WARNING, None)
        quiet = PreferenceDocument(timezone="UTC", quiet_hours=[QuietHours(start="11:00", end="13:00")])
        preferences.put_document(conn, preferences.DEVICE, sleeper, quiet, now=NOW)
        pushed = event_store.NewEvent(id="e-pushed", ts=NOW, level=Level.ERROR, title="t", push=True)
        result = event_store.insert_events(conn, [pushed], key_id=None, now=NOW, repeat=REPEAT, lease=lease)

        assert result.deliveries == 1
        [claim] = result.claimed
        assert (claim.device["id"], claim.attempts, claim.round, claim.lease) == (phone, 1, 0, NOW + lease)
        assert claim.event is not None and claim.event["id"] == "e-pushed"
        assert _rows(conn) == {
            ("e-pushed", phone, 0, DeliveryStatus.QUEUED),
            ("e-pushed", sleeper, 0, DeliveryStatus.HELD),
        }
        assert outbox.claim_due(conn, now=LATER, lease=lease, limit=10) == []  # leased to the ingest

        # Recorded under its lease like any claim; had the process died instead, the lease expires
        # and the row is claimed again.
        assert outbox.record_sent(conn, claim, now=LATER, status_code=201)
        assert _rows(conn) >= {("e-pushed", phone, 0, DeliveryStatus.SENT)}

        again = event_store.NewEvent(id="e-again", ts=NOW, level=Level.ERROR, title="t", push=True)
        [lost] = event_store.insert_events(
            conn, [again], key_id=None, now=NOW, repeat=REPEAT, lease=lease
        ).claimed
        [retaken] = outbox.claim_due(conn, now=NOW + lease, lease=lease, limit=10)
        assert (retaken.id, retaken.attempts) == (lost.id, 2)
        assert not outbox.record_sent(conn, lost, now=NOW + lease, status_code=201)  # the old lease lost it


def test_ingest_claims_carry_what_a_claim_reads_back(engine: sa.Engine) -> None:
    """The claims ingest hands over are made from what it read and wrote, not read back: their event
    and device must be what a claim of the same rows reads (timestamps in UTC whatever offset the
    event came with, JSON columns, the CRITICAL re-push columns)."""
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        phone = webpush_device(conn, 1, Level.WARNING, None)
        tablet = webpush_device(conn, 2, Level.INFO, ["ops"])
        event = rich_event(
            "Disk full",
            id="e-rich",
            ts=_dt.datetime(2026, 1, 1, 13, 30, 0, 123456, tzinfo=_dt.timezone(_dt.timedelta(hours=2))),
        )
        handed = event_store.insert_events(conn, [event], key_id=None, now=NOW, repeat=REPEAT, lease=lease)
        assert {c.device["id"] for c in handed.claimed} == {phone, tablet}
        read_back = {c.id: c for c in outbox.claim_due(conn, now=NOW + lease, lease=lease, limit=10)}
        assert set(read_back) == {c.id for c in handed.claimed}
        for claim in handed.claimed:
            again = read_back[claim.id]
            assert claim.event == again.event
            assert claim.device == again.device
            assert (claim.round, claim.attempts, claim.lease) == (again.round, 1, NOW + lease)
        times = ("ts", "received_at", "repeat_next_at", "repeat_until")
        assert claim.event is not None and again.event is not None
        # equal instants compare equal across offsets: the offsets themselves must be what a read gives
        assert [claim.event[t].isoformat() for t in times] == [again.event[t].isoformat() for t in times]
        assert claim.event["ts"].isoformat() == "2026-01-01T11:30:00.123456+00:00"


def test_expansion_claims_carry_what_a_claim_reads_back(engine: sa.Engine) -> None:
    """The claims a fan-out's expansion hands over are made from its page of devices and the rows it
    wrote (only the event is read): they must be what a claim of the same rows reads."""
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        team = {webpush_device(conn, n, Level.WARNING, None) for n in range(outbox.FANOUT_CHUNK + 5)}
        offset = _dt.timezone(_dt.timedelta(hours=-5))
        event = event_store.NewEvent(
            id="e-wide",
            ts=_dt.datetime(2026, 1, 1, 7, 0, tzinfo=offset),
            level=Level.ERROR,
            title="Queue stalled",
            tags=["jobs"],
            metadata={"queue": "mail", "depth": 1200},
            push=True,
        )
        first = event_store.insert_events(conn, [event], key_id=None, now=NOW, repeat=REPEAT, lease=lease)
        reads: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                reads.append(re.sub(r"\s+", " ", statement))

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            expanded = outbox.expand_fanouts(conn, now=NOW, lease=lease, limit=100)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert len(first.claimed) == outbox.FANOUT_CHUNK and len(expanded) == 5
        # nothing it wrote or paged is read back: no deliveries, no devices by id
        assert not [r for r in reads if "FROM deliveries" in r or "devices.id IN" in r], reads
        assert {c.device["id"] for c in [*first.claimed, *expanded]} == team
        read_back = {c.id: c for c in outbox.claim_due(conn, now=NOW + lease, lease=lease, limit=100)}
        for claim in expanded:
            again = read_back[claim.id]
            assert (claim.event, claim.device) == (again.event, again.device)
            assert (claim.round, claim.attempts, claim.lease) == (again.round, 1, NOW + lease)
            assert claim.notification is None and claim.user is None


def _fanouts(conn: sa.Connection) -> list[tuple[str, str | None]]:
    return [(r.event_id, r.after) for r in conn.execute(sa.select(fanouts.c.event_id, fanouts.c.after))]


def test_ingest_streams_a_large_fanout_and_every_matching_device_gets_one_row(engine: sa.Engine) -> None:
    """The ingest transaction writes only the first chunk of a large audience (claimed, so it leaves
    at once) and a durable fan-out row; expansion writes the rest chunk by chunk, each row claimed,
    until every device that takes the event has exactly one row and the fan-out row is gone."""
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        takers = {webpush_device(conn, n, Level.WARNING, None) for n in range(45)}
        takers |= {webpush_device(conn, n, Level.INFO, ["ops"]) for n in range(45, 55)}
        for n in range(55, 65):  # above the event's level, or not its channel: no row
            webpush_device(conn, n, Level.CRITICAL if n % 2 else Level.INFO, None if n % 2 else ["billing"])
        first = event_store.NewEvent(id="e-1", ts=NOW, level=Level.ERROR, title="t", channel="ops", push=True)
        second = event_store.NewEvent(
            id="e-2", ts=NOW, level=Level.ERROR, title="t", channel="ops", push=True
        )
        result = event_store.insert_events(
            conn, [first, second], key_id=None, now=NOW, repeat=REPEAT, lease=lease
        )
        # the first chunk: devices read in id order, level filtered in SQL, the channel by the gate
        assert 0 < len(result.claimed) <= outbox.FANOUT_CHUNK
        assert {c.event["id"] for c in result.claimed if c.event} == {"e-1"}
        assert result.expanding == 2
        assert sorted(e for e, _ in _fanouts(conn)) == ["e-1", "e-2"]
        assert outbox.next_due(conn) == NOW  # the rest is due at once

        claims = list(result.claimed)
        steps = 0
        while more := outbox.expand_fanouts(conn, now=LATER, lease=lease, limit=16):
            assert all(c.attempts == 1 and c.lease == LATER + lease for c in more)
            claims += more
            steps += 1
        assert steps >= 4  # 2 x 55 candidate devices, 16 at a time
        assert _fanouts(conn) == []
        assert outbox.expand_fanouts(conn, now=LATER, lease=lease, limit=100) == []
        assert outbox.claim_due(conn, now=LATER, lease=lease, limit=500) == []  # all leased already

        per_event = {(c.event["id"] if c.event else "", c.device["id"]) for c in claims}
        assert len(per_event) == len(claims)  # no device twice
        assert per_event == {(e, d) for e in ("e-1", "e-2") for d in takers}
        assert _rows(conn) == {(e, d, 0, DeliveryStatus.QUEUED) for e in ("e-1", "e-2") for d in takers}


def test_a_batch_of_pushes_reads_each_levels_audience_once_and_each_push_gets_its_devices(
    engine: sa.Engine,
) -> None:
    """A batch of many pushes to a small audience (a busy app, two phones): the devices are read once
    per level, not once per push, and each push still gets exactly its devices' rows until the first
    chunk's budget is spent; the pushes past it wait in ``fanouts`` for the dispatcher."""
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        phones = [webpush_device(conn, n, Level.WARNING, None) for n in range(2)]
        pager = webpush_device(conn, 2, Level.ERROR, None)
        levels = [Level.WARNING, Level.ERROR, Level.WARNING, Level.ERROR, Level.WARNING, Level.WARNING]
        batch = [
            event_store.NewEvent(id=f"e-{i}", ts=NOW, level=level, title="t", push=True)
            for i, level in enumerate(levels)
        ]
        reads: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if re.search(r"FROM devices\s+WHERE devices.user_id IS NULL", statement):  # an audience page
                reads.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            result = event_store.insert_events(conn, batch, key_id=None, now=NOW, repeat=REPEAT, lease=lease)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert len(reads) == 2  # one page of devices for WARNING, one for ERROR
        # budget 8: e-0 takes 2 phones, e-1 all 3, e-2 2 more (7 rows), e-3 gets the first device only
        claimed = {(c.event["id"] if c.event else "", c.device["id"]) for c in result.claimed}
        everyone = sorted([*phones, pager])
        assert claimed == {
            *(("e-0", d) for d in phones),
            *(("e-1", d) for d in everyone),
            *(("e-2", d) for d in phones),
            ("e-3", everyone[0]),
        }
        assert sorted(_fanouts(conn)) == [("e-3", everyone[0]), ("e-4", None), ("e-5", None)]
        claims = list(result.claimed)
        while more := outbox.expand_fanouts(conn, now=LATER, lease=lease, limit=16):
            claims += more
        rows = {(c.event["id"] if c.event else "", c.device["id"]) for c in claims}
        takes = {Level.WARNING: phones, Level.ERROR: everyone}
        assert rows == {(f"e-{i}", d) for i, level in enumerate(levels) for d in takes[level]}


def test_acknowledging_an_event_stops_its_fanout(engine: sa.Engine) -> None:
    lease = _dt.timedelta(seconds=120)
    with engine.begin() as conn:
        for n in range(40):
            webpush_device(conn, n, Level.WARNING, None)
        event = event_store.NewEvent(id="e-ack", ts=NOW, level=Level.ERROR, title="t", push=True)
        result = event_store.insert_events(conn, [event], key_id=None, now=NOW, repeat=REPEAT, lease=lease)
        assert len(result.claimed) == outbox.FANOUT_CHUNK and result.expanding == 1

        outbox.acknowledge_deliveries(conn, "e-ack", now=LATER)
        assert _fanouts(conn) == []
        assert outbox.expand_fanouts(conn, now=LATER, lease=lease, limit=100) == []
        statuses = {r[3] for r in _rows(conn)}
        assert statuses == {DeliveryStatus.ACKNOWLEDGED} and len(_rows(conn)) == outbox.FANOUT_CHUNK


def test_receipts_only_move_forward_and_acknowledgement_and_removal(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        phone = webpush_device(conn, 1, Level.WARNING, None)
        tablet = webpush_device(conn, 2, Level.WARNING, None)
        event = _event(conn, Level.ERROR, None)
        assert outbox.enqueue(conn, [event], now=NOW) == 2
        ids = {r.device_id: r.id for r in conn.execute(sa.select(deliveries.c.device_id, deliveries.c.id))}

        assert outbox.record_receipt(conn, ids[phone], DeliveryStatus.OPENED, now=NOW)
        assert outbox.record_receipt(conn, ids[phone], DeliveryStatus.DELIVERED, now=LATER)
        assert not outbox.record_receipt(conn, "dl_missing", DeliveryStatus.DELIVERED, now=NOW)
        row = conn.execute(sa.select(deliveries).where(deliveries.c.id == ids[phone])).one()
        # "opened" implies delivered; the later "delivered" receipt neither moves it back nor restamps it
        assert (row.status, row.delivered_at, row.opened_at) == (DeliveryStatus.OPENED, NOW, NOW)

        outbox.acknowledge_deliveries(conn, event.id, now=LATER)
        assert _rows(conn) == {
            (event.id, phone, 0, DeliveryStatus.ACKNOWLEDGED),
            (event.id, tablet, 0, DeliveryStatus.ACKNOWLEDGED),
        }

        again = _event(conn, Level.ERROR, None)
        outbox.enqueue(conn, [again], now=LATER)
        outbox.drop_queued(conn, tablet)
        left = {(r[0], r[1]) for r in _rows(conn)}
        assert (again.id, tablet) not in left  # the queued one is gone
        assert {(event.id, tablet), (again.id, phone)} <= left  # the rest stay


def test_only_the_outbox_writes_deliveries() -> None:
    """The outbox has one owner: no other module of the hub inserts, updates or deletes delivery rows."""
    hub = Path(outbox.__file__).parents[1]
    writers = {
        str(path.relative_to(hub))
        for path in hub.rglob("*.py")
        if "migrations" not in path.parts and _WRITES_DELIVERIES.search(path.read_text(encoding="utf-8"))
    }
    assert writers == {"store/outbox.py"}


_WRITES_DELIVERIES = re.compile(r"\bdeliveries\.(insert|update|delete)\(")
