"""The gate inside the outbox, on SQLite and PostgreSQL: held and skipped rows with their reason,
caps counted from the database, and the release of held rows (one summary, nothing lost or doubled,
also when the process that held them is gone)."""

from __future__ import annotations

import datetime as _dt
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from tests.hub.store.migrating import differences, downgrade_to
from tests.hub.store.rows import REPEAT, VAULT
from tests.support.devices import AUTH, P256DH

from pushlog._levels import Level
from pushlog.hub.attention import Cap, Category, DigestSchedule, PreferenceDocument, QuietHours, Recipient
from pushlog.hub.store import create_engine, migrate, outbox
from pushlog.hub.store import devices as device_store
from pushlog.hub.store import events as event_store
from pushlog.hub.store import preferences as pref_store
from pushlog.hub.store._tables import as_utc, deliveries
from pushlog.hub.store.outbox import DeliveryStatus

#: 23:30 in Berlin (UTC+1): inside 22:00-07:00; the night ends at 06:00 UTC.
NIGHT = _dt.datetime(2026, 1, 14, 22, 30, tzinfo=_dt.UTC)
MORNING = _dt.datetime(2026, 1, 15, 6, 0, tzinfo=_dt.UTC)
QUIET = PreferenceDocument(timezone="Europe/Berlin", quiet_hours=[QuietHours(start="22:00", end="07:00")])


def _device(conn: sa.Connection, name: str) -> str:
    device, _ = device_store.register_webpush(
        conn,
        device_store.WebPushRegistration(
            name=name,
            endpoint=f"https://push.example/{name}",
            p256dh=P256DH,
            auth=AUTH,
            min_level=Level.WARNING,
            channels=None,
        ),
        now=NIGHT,
        vault=VAULT,
    )
    return str(device["id"])


def _push(
    conn: sa.Connection,
    title: str,
    *,
    level: Level = Level.WARNING,
    channel: str | None = "ops",
    now: _dt.datetime = NIGHT,
) -> outbox.Push:
    item = event_store.NewEvent(
        id=str(uuid.uuid4()), ts=now, level=level, title=title, channel=channel, push=False
    )
    event_store.insert_events(conn, [item], key_id=None, now=now, repeat=REPEAT)
    stored = event_store.get_event(conn, item.id)
    assert stored is not None
    return outbox.Push(stored["seq"], item.id, int(level), channel)


def _rows(
    conn: sa.Connection, device_id: str
) -> list[sa.Row[tuple[str, str, str | None, _dt.datetime | None]]]:
    return list(
        conn.execute(
            sa.select(deliveries.c.id, deliveries.c.status, deliveries.c.reason, deliveries.c.next_attempt_at)
            .where(deliveries.c.device_id == device_id)
            .order_by(deliveries.c.event_seq)
        ).all()
    )


def test_quiet_hours_hold_with_the_reason_and_critical_still_goes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        sleeper = _device(conn, "sleeper")
        awake = _device(conn, "awake")
        pref_store.put_document(conn, pref_store.DEVICE, sleeper, QUIET, now=NIGHT)
        queued = outbox.enqueue(
            conn, [_push(conn, "disk 91%"), _push(conn, "db down", level=Level.CRITICAL)], now=NIGHT
        )
        assert queued == 3  # both for the awake device, the CRITICAL for the sleeper
        held, critical = _rows(conn, sleeper)
        assert (held.status, held.reason, held.next_attempt_at) == ("held", "quiet_hours", MORNING)
        assert (critical.status, critical.reason) == ("queued", None)
        assert [r.status for r in _rows(conn, awake)] == ["queued", "queued"]
        assert outbox.queue_depth(conn) == 3


def test_feed_only_records_a_skipped_row(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device = _device(conn, "phone")
        feed_only = PreferenceDocument(
            timezone="Europe/Berlin", quiet_hours=QUIET.quiet_hours, quiet_mode="feed"
        )
        pref_store.put_document(conn, pref_store.DEVICE, device, feed_only, now=NIGHT)
        assert outbox.enqueue(conn, [_push(conn, "disk 91%")], now=NIGHT) == 0
        (row,) = _rows(conn, device)
        assert (row.status, row.reason) == ("skipped", "quiet_hours")
        assert outbox.release_held(conn, now=MORNING).queued == 0  # skipped rows never go out


def test_caps_are_counted_from_the_database_across_transactions(engine: sa.Engine) -> None:
    noon = _dt.datetime(2026, 1, 14, 11, 10, tzinfo=_dt.UTC)
    with engine.begin() as conn:
        device = _device(conn, "phone")
        capped = PreferenceDocument(timezone="UTC", caps=[Cap(max=2, per="hour")])
        pref_store.put_document(conn, pref_store.DEVICE, device, capped, now=noon)
        # two in one batch: the second counts the first, which is not committed yet
        assert outbox.enqueue(conn, [_push(conn, "a", now=noon), _push(conn, "b", now=noon)], now=noon) == 2
    later = noon + _dt.timedelta(minutes=20)
    with engine.begin() as conn:  # a new transaction (as after a restart): the count comes from the rows
        assert outbox.enqueue(conn, [_push(conn, "c", now=later)], now=later) == 0
        rows = _rows(conn, device)
        assert [(r.status, r.reason) for r in rows] == [
            ("queued", None),
            ("queued", None),
            ("held", "frequency_cap"),
        ]
        assert rows[-1].next_attempt_at == _dt.datetime(
            2026, 1, 14, 12, 0, tzinfo=_dt.UTC
        )  # next hourly digest
    an_hour_on = noon + _dt.timedelta(hours=1, minutes=1)
    with engine.begin() as conn:  # the first two left the rolling hour
        assert outbox.enqueue(conn, [_push(conn, "d", now=an_hour_on)], now=an_hour_on) == 1


def test_several_held_pushes_go_out_as_one_summary_exactly_once(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device = _device(conn, "phone")
        pref_store.put_document(conn, pref_store.DEVICE, device, QUIET, now=NIGHT)
        outbox.enqueue(
            conn,
            [
                _push(conn, "disk 91%"),
                _push(conn, "disk 91%"),
                _push(conn, "card declined", channel="billing"),
            ],
            now=NIGHT,
        )
        assert outbox.release_held(conn, now=MORNING - _dt.timedelta(seconds=1)).queued == 0  # not yet
    engine.dispose()

    # A new engine: the process that held them is gone; the rows alone say what to do.
    again = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        with again.begin() as conn:
            first = outbox.release_held(conn, now=MORNING)
        with again.begin() as conn:
            second = outbox.release_held(conn, now=MORNING + _dt.timedelta(minutes=1))
        assert (first.queued, first.summarized) == (1, 2)
        assert (second.queued, second.summarized, second.seen) == (0, 0, 0)
        with again.begin() as conn:
            rows = _rows(conn, device)
            statuses = sorted((r.status, r.reason) for r in rows)
            assert statuses == [
                ("queued", "quiet_hours"),
                ("skipped", "summarized"),
                ("skipped", "summarized"),
            ]
            claimed = outbox.claim_due(conn, now=MORNING, lease=_dt.timedelta(seconds=60), limit=10)
        assert len(claimed) == 1
        summary = claimed[0].summary
        assert summary is not None
        assert summary["count"] == 3
        assert summary["by_channel"] == {"ops": 2, "billing": 1}
        assert summary["titles"][0] == ["disk 91%", 2]
        assert summary["reasons"] == ["quiet_hours"]
    finally:
        again.dispose()


def test_a_single_held_push_goes_out_as_itself(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device = _device(conn, "phone")
        pref_store.put_document(conn, pref_store.DEVICE, device, QUIET, now=NIGHT)
        outbox.enqueue(conn, [_push(conn, "disk 91%")], now=NIGHT)
        assert outbox.release_held(conn, now=MORNING).queued == 1
        (claim,) = outbox.claim_due(conn, now=MORNING, lease=_dt.timedelta(seconds=60), limit=10)
        assert claim.summary is None


def test_acknowledging_an_event_cancels_its_held_pushes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        device = _device(conn, "phone")
        pref_store.put_document(conn, pref_store.DEVICE, device, QUIET, now=NIGHT)
        push = _push(conn, "disk 91%")
        outbox.enqueue(conn, [push], now=NIGHT)
        outbox.acknowledge_deliveries(conn, push.id, now=NIGHT)
        assert outbox.release_held(conn, now=MORNING).queued == 0
        assert [r.status for r in _rows(conn, device)] == [DeliveryStatus.ACKNOWLEDGED]


def test_a_digest_due_during_quiet_hours_moves_to_their_end(engine: sa.Engine) -> None:
    evening = _dt.datetime(2026, 1, 14, 20, 30, tzinfo=_dt.UTC)  # 21:30 Berlin
    with engine.begin() as conn:
        device = _device(conn, "phone")
        doc = PreferenceDocument(
            timezone="Europe/Berlin", quiet_hours=QUIET.quiet_hours, caps=[Cap(max=1, per="day")]
        )
        pref_store.put_document(conn, pref_store.DEVICE, device, doc, now=evening)
        assert (
            outbox.enqueue(conn, [_push(conn, "a", now=evening), _push(conn, "b", now=evening)], now=evening)
            == 1
        )
        digest_time = _dt.datetime(2026, 1, 14, 21, 0, tzinfo=_dt.UTC)  # 22:00 Berlin: quiet already
        moved = outbox.release_held(conn, now=digest_time)
        assert (moved.queued, moved.deferred) == (0, 1)
        first, digested = _rows(conn, device)
        assert first.status == "queued"  # the day's one push under the cap
        assert (digested.status, as_utc(digested.next_attempt_at)) == ("held", MORNING)
        assert outbox.release_held(conn, now=MORNING).queued == 1


def test_a_users_document_applies_to_that_users_devices_unless_a_device_has_its_own(
    engine: sa.Engine,
) -> None:
    # Rows as enqueue reads them once devices carry user_id and timezone (the app users' devices).
    users_phone = SimpleNamespace(id="dev_a", _mapping={"user_id": "42", "timezone": "Asia/Tokyo"})
    own_choice = SimpleNamespace(id="dev_b", _mapping={"user_id": "42", "timezone": None})
    team = SimpleNamespace(id="dev_c", _mapping={})
    with engine.begin() as conn:
        pref_store.put_document(conn, pref_store.USER, "42", QUIET, now=NIGHT)
        pref_store.put_document(conn, pref_store.DEVICE, "dev_b", PreferenceDocument(), now=NIGHT)
        found = pref_store.recipients(conn, [users_phone, own_choice, team])
    assert found["dev_a"].document == QUIET and found["dev_a"].user
    assert found["dev_a"].device_timezone == "Asia/Tokyo"
    assert found["dev_b"].document == PreferenceDocument()
    assert found["dev_c"].document == PreferenceDocument() and not found["dev_c"].user


def test_the_gate_sees_every_committed_change_of_documents_and_categories(engine: sa.Engine) -> None:
    """What the gate keeps of the preferences and categories tables between pushes (SQLite) never
    hides a committed change, and never keeps one that was rolled back."""
    phone = SimpleNamespace(id="dev_p", _mapping={})

    def recipient(conn: sa.Connection) -> Recipient:
        return pref_store.recipients(conn, [phone])["dev_p"]

    with engine.begin() as conn:
        assert recipient(conn).categories == {} and recipient(conn).document == PreferenceDocument()
    with engine.begin() as conn:
        pref_store.put_category(conn, "billing", Category(default="off"), now=NIGHT)
        pref_store.put_document(conn, pref_store.DEVICE, "dev_p", QUIET, now=NIGHT)
    with engine.begin() as conn:
        seen = recipient(conn)
        assert seen.category_mode("billing") == "off" and seen.document == QUIET

    with pytest.raises(RuntimeError), engine.begin() as conn:  # read inside the write, then undone
        pref_store.put_category(conn, "ops", Category(default="digest"), now=NIGHT)
        pref_store.delete_document(conn, pref_store.DEVICE, "dev_p")
        assert recipient(conn).category_mode("ops") == "digest"
        raise RuntimeError("rolled back")
    with engine.begin() as conn:
        seen = recipient(conn)
        assert "ops" not in seen.categories and seen.document == QUIET

    with engine.begin() as conn:
        pref_store.delete_category(conn, "billing")
        pref_store.delete_document(conn, pref_store.DEVICE, "dev_p")
    with engine.begin() as conn:
        assert recipient(conn).categories == {} and recipient(conn).document == PreferenceDocument()
        statements: list[str] = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        recipient(conn)
    # SQLite: one hub process writes both tables, so nothing is read again until one changes;
    # PostgreSQL: other processes write too, so both are read on every push
    assert len(statements) == (0 if engine.dialect.name == "sqlite" else 2)


def test_info_events_reach_only_the_digests_that_collect_them(engine: sa.Engine) -> None:
    morning = _dt.datetime(2026, 1, 14, 8, 10, tzinfo=_dt.UTC)  # 09:10 Berlin
    daily = PreferenceDocument(
        timezone="Europe/Berlin", digest_info=True, digest=DigestSchedule(every="day", at="18:00")
    )
    with engine.begin() as conn:
        collector = _device(conn, "collector")
        other = _device(conn, "other")
        pref_store.put_document(conn, pref_store.DEVICE, collector, daily, now=morning)
        infos = [
            event_store.NewEvent(
                id=str(uuid.uuid4()), ts=morning, level=Level.INFO, title=t, channel="deploys", push=False
            )
            for t in ("deployed api", "deployed web")
        ]
        result = event_store.insert_events(conn, infos, key_id=None, now=morning, repeat=REPEAT)
        assert result.deliveries == 0  # nothing to send now
        evening = _dt.datetime(2026, 1, 14, 17, 0, tzinfo=_dt.UTC)  # 18:00 Berlin
        assert [(r.status, r.reason, r.next_attempt_at) for r in _rows(conn, collector)] == [
            ("held", "digest", evening)
        ] * 2
        assert _rows(conn, other) == []
        released = outbox.release_held(conn, now=evening)
        assert (released.queued, released.summarized) == (1, 1)
        (claim,) = outbox.claim_due(conn, now=evening, lease=_dt.timedelta(seconds=60), limit=10)
        assert claim.summary is not None and claim.summary["by_channel"] == {"deploys": 2}


def test_migration_0011_matches_the_tables_and_goes_down_and_up_again(engine: sa.Engine) -> None:
    names = ("preferences", "categories", "deliveries")
    assert differences(engine, *names) == []
    downgrade_to(engine, "0010")
    with engine.connect() as conn:
        assert "preferences" not in sa.inspect(conn).get_table_names()
    migrate(engine)
    assert differences(engine, *names) == []
