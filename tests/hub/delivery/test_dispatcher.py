"""The dispatcher driven step by step (run_once) on a real SQLite outbox with an injected clock."""

from __future__ import annotations

import asyncio
import datetime as _dt
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from tests.hub.delivery.outbox_support import BASE_URL, SECRET, VAULT, FakeSender, Outbox
from tests.support.clock import UTCView

from pushlog._levels import Level
from pushlog.hub import receipts
from pushlog.hub.delivery._base import Outcome, Prepared, PushMessage, SendResult, WebPushTarget
from pushlog.hub.delivery._dispatcher import OpenedTargets
from pushlog.hub.store import events as event_store
from pushlog.hub.store import outbox as outbox_queries
from pushlog.hub.store._tables import devices
from pushlog.hub.store.device_tokens import DeviceTokenVault
from pushlog.hub.store.devices import webpush_secrets

REPEAT = event_store.Repeat(interval=_dt.timedelta(minutes=5), expiry=_dt.timedelta(hours=1))


async def test_each_matching_device_gets_the_event_once(outbox: Outbox) -> None:
    first, second = outbox.add_device(), outbox.add_device()
    outbox.add_device(min_level=Level.ERROR)  # preference: not for a warning
    event_id = outbox.ingest(Level.WARNING, fingerprint="pay:declined")
    sender = FakeSender()
    service = outbox.service(sender)

    report = await service.run_once()
    assert (report.claimed, report.sent) == (2, 2)
    assert {t.endpoint for t, _ in sender.sent} == {
        _endpoint(r) for r in _devices(outbox) if r.id in (first, second)
    }
    rows = outbox.rows(event_id)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert all(r.sent_at == outbox.clock.now and r.attempts == 1 and r.locked_until is None for r in rows)

    again = await service.run_once()
    assert again.claimed == 0
    assert len(sender.sent) == 2


async def test_payload_urgency_ttl_and_collapse_key(outbox: Outbox) -> None:
    outbox.add_device()
    event_id = outbox.ingest(Level.WARNING, fingerprint="pay:declined")
    sender = FakeSender()
    await outbox.service(sender, ttl=1800).run_once()
    [(target, message)] = sender.sent
    assert isinstance(target, WebPushTarget)
    [row] = outbox.rows(event_id)
    assert message.delivery_id == row.id
    assert message.ttl == 1800
    assert message.urgency == "normal"
    assert message.collapse_key == "pay:declined"
    payload = message.payload
    assert payload["event_id"] == event_id
    assert payload["delivery_id"] == row.id
    assert receipts.verify_token(SECRET, row.id, payload["receipt"])
    assert payload["title"] == "Payment failed"
    assert payload["body"] == "card declined"
    assert payload["level"] == "warning"
    assert payload["url"] == f"{BASE_URL}/#/events/{event_id}"
    assert payload["tag"] == "pay:declined"
    assert payload["require_interaction"] is False
    assert [a["action"] for a in payload["actions"]] == ["open", "ack"]


@pytest.mark.parametrize(
    ("level", "urgency", "interaction"),
    [(Level.WARNING, "normal", False), (Level.ERROR, "high", False), (Level.CRITICAL, "high", True)],
)
async def test_urgency_follows_the_level(
    outbox: Outbox, level: Level, urgency: str, interaction: bool
) -> None:
    outbox.add_device(min_level=Level.WARNING)
    event_id = outbox.ingest(level)
    sender = FakeSender()
    await outbox.service(sender).run_once()
    [(_, message)] = sender.sent
    assert message.urgency == urgency
    assert message.payload["require_interaction"] is interaction
    assert message.collapse_key == event_id  # no fingerprint: the event id


async def test_retry_honours_retry_after_then_sends(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    sender = FakeSender(script=[SendResult(outcome=Outcome.RETRY, status=429, retry_after=120.0)])
    service = outbox.service(sender)

    assert (await service.run_once()).retried == 1
    [row] = outbox.rows(event_id)
    assert row.status == "queued"
    assert row.next_attempt_at == clock.now + _dt.timedelta(seconds=120)
    assert row.last_status_code == 429

    clock.advance(119)
    assert (await service.run_once()).claimed == 0
    clock.advance(1)
    assert (await service.run_once()).sent == 1
    [row] = outbox.rows(event_id)
    assert (row.status, row.attempts, row.last_status_code) == ("sent", 2, 201)


async def test_backoff_grows_exponentially_with_jitter(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    retry = SendResult(outcome=Outcome.RETRY, status=503)
    sender = FakeSender(script=[retry] * 4)
    service = outbox.service(sender)
    waits = []
    for _ in range(4):
        await service.run_once()
        [row] = outbox.rows(event_id)
        wait = (row.next_attempt_at - clock.now).total_seconds()
        waits.append(wait)
        clock.now = row.next_attempt_at
    for attempt, wait in enumerate(waits, start=1):
        full = 5.0 * 2 ** (attempt - 1)
        assert full / 2 <= wait <= full, (attempt, wait)
    assert waits[3] > waits[0]


async def test_gives_up_after_max_attempts(outbox: Outbox, clock: UTCView) -> None:
    from pushlog.hub.delivery import RetryPolicy

    outbox.add_device()
    event_id = outbox.ingest()
    sender = FakeSender(script=[SendResult(outcome=Outcome.RETRY, status=500, detail="boom")] * 3)
    service = outbox.service(sender, retry=RetryPolicy(max_attempts=3))
    for _ in range(3):
        await service.run_once()
        clock.advance(3600)
    [row] = outbox.rows(event_id)
    assert row.status == "failed"
    assert row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: boom"
    assert (await service.run_once()).claimed == 0


async def test_gone_removes_the_device_and_fails_its_queue(outbox: Outbox) -> None:
    dead, alive = outbox.add_device(), outbox.add_device()
    first = outbox.ingest()
    sender = FakeSender()

    def answer_for(endpoint: str) -> SendResult:
        dead_endpoint = next(_endpoint(r) for r in _devices(outbox) if r.id == dead)
        if endpoint == dead_endpoint:
            return SendResult(outcome=Outcome.GONE, status=410, detail="subscription expired")
        return SendResult(outcome=Outcome.SENT, status=201)

    class Gone(FakeSender):
        async def send(self, target, message):  # type: ignore[no-untyped-def]
            self.sent.append((target, message))
            return answer_for(target.endpoint)

    service = outbox.service(Gone())
    report = await service.run_once()
    assert (report.sent, report.gone) == (1, 1)
    assert [r.id for r in _devices(outbox)] == [alive]
    statuses = {r.device_id: (r.status, r.last_status_code, r.last_error) for r in outbox.rows(first)}
    assert statuses[dead] == ("failed", 410, "subscription expired")
    assert statuses[alive][0] == "sent"
    # New events only go to the device that is left.
    outbox.ingest()
    assert (await outbox.service(sender).run_once()).sent == 1
    assert sender.sent[0][1].delivery_id in {r.id for r in outbox.rows() if r.device_id == alive}


async def test_413_fails_and_is_never_retried(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    sender = FakeSender(script=[SendResult(outcome=Outcome.FAILED, status=413, detail="payload too large")])
    service = outbox.service(sender)
    assert (await service.run_once()).failed == 1
    clock.advance(86400)
    assert (await service.run_once()).claimed == 0
    [row] = outbox.rows(event_id)
    assert (row.status, row.last_status_code, row.last_error) == ("failed", 413, "payload too large")
    assert len(sender.sent) == 1


async def test_a_raising_sender_is_retried_not_fatal(outbox: Outbox) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    sender = FakeSender(raise_next=RuntimeError("bug"))
    assert (await outbox.service(sender).run_once()).retried == 1
    [row] = outbox.rows(event_id)
    assert row.status == "queued"
    assert "RuntimeError: bug" in row.last_error


async def test_device_kind_without_a_sender_fails_clearly(outbox: Outbox) -> None:
    device_id = outbox.add_device()
    with outbox.engine.begin() as conn:
        conn.execute(devices.update().where(devices.c.id == device_id).values(kind="apns"))
    event_id = outbox.ingest()
    assert (await outbox.service(FakeSender()).run_once()).failed == 1
    [row] = outbox.rows(event_id)
    assert row.last_error == "no sender for device kind 'apns'"


async def test_a_crashed_claimer_is_taken_over_after_its_lease(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    with outbox.engine.begin() as conn:  # another process claims, then dies without recording
        [stale] = outbox_queries.claim_due(conn, now=clock(), lease=_dt.timedelta(seconds=120), limit=10)
    sender = FakeSender()
    service = outbox.service(sender, lease=120)
    assert (await service.run_once()).claimed == 0  # still leased
    clock.advance(120)
    assert (await service.run_once()).sent == 1
    # The dead claimer coming back cannot record over the new claimer's result.
    with outbox.engine.begin() as conn:
        assert not outbox_queries.record_sent(conn, stale, now=clock(), status_code=201)
        assert not outbox_queries.record_failed(conn, stale, now=clock(), status_code=500, error="late")
    [row] = outbox.rows(event_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(sender.sent) == 1


async def test_two_dispatchers_never_send_a_row_twice(outbox: Outbox) -> None:
    for _ in range(5):
        outbox.add_device()
    for _ in range(20):
        outbox.ingest()
    first, second = FakeSender(), FakeSender()
    a = outbox.service(first, batch_size=7)
    b = outbox.service(second, batch_size=7)
    while True:
        ra, rb = await asyncio.gather(a.run_once(), b.run_once())
        if ra.claimed == rb.claimed == 0:
            break
    ids = [m.delivery_id for _, m in first.sent + second.sent]
    assert len(ids) == 100
    assert len(set(ids)) == 100
    assert first.sent and second.sent  # both took part
    assert {r.status for r in outbox.rows()} == {"sent"}


async def test_critical_is_repushed_until_acknowledged(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    outbox.add_device()
    event_id = outbox.ingest(Level.CRITICAL, repeat_interval=300, expiry=3600)
    sender = FakeSender()
    service = outbox.service(sender, repeat_interval=300)
    assert (await service.run_once()).sent == 2  # round 0

    clock.advance(299)
    assert (await service.run_once()).repeats_created == 0
    clock.advance(1)
    report = await service.run_once()
    assert (report.repeats_created, report.sent) == (2, 2)
    assert sorted({m.payload["round"] for _, m in sender.sent}) == [0, 1]

    # Round 2 is created but its sends fail transiently, so it is still queued when the ack arrives.
    clock.advance(300)
    sender.script = [SendResult(outcome=Outcome.RETRY, status=503)] * 2
    assert (await service.run_once()).retried == 2
    outbox.acknowledge(event_id)
    round2 = [r for r in outbox.rows(event_id) if r.round == 2]
    assert [r.status for r in round2] == ["acknowledged", "acknowledged"]

    sent_before = len(sender.sent)
    for _ in range(12):
        clock.advance(300)
        report = await service.run_once()
        assert (report.repeats_created, report.claimed) == (0, 0)
    assert len(sender.sent) == sent_before
    assert max(r.round for r in outbox.rows(event_id)) == 2


async def test_critical_repush_stops_at_expiry(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest(Level.CRITICAL, repeat_interval=300, expiry=3600)
    sender = FakeSender()
    service = outbox.service(sender, repeat_interval=300)
    for _ in range(20):  # 20 x 300 s: well past the hour
        await service.run_once()
        clock.advance(300)
    rounds = sorted(r.round for r in outbox.rows(event_id))
    assert rounds == list(range(12))  # round 0 and re-pushes at 5, 10, ... 55 minutes
    assert all(
        r.created_at < outbox.rows(event_id)[0].created_at + _dt.timedelta(seconds=3600)
        for r in outbox.rows(event_id)
    )


async def test_repush_reaches_devices_registered_after_the_event(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest(Level.CRITICAL)
    sender = FakeSender()
    service = outbox.service(sender)
    await service.run_once()
    late = outbox.add_device()
    clock.advance(300)
    await service.run_once()
    assert {r.device_id for r in outbox.rows(event_id) if r.round == 1} >= {late}


async def test_non_critical_events_are_not_repushed(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest(Level.ERROR)
    service = outbox.service(FakeSender())
    for _ in range(5):
        await service.run_once()
        clock.advance(300)
    assert [r.round for r in outbox.rows(event_id)] == [0]


def _devices(outbox: Outbox) -> list[sa.Row]:  # type: ignore[type-arg]
    with outbox.engine.connect() as conn:
        return list(conn.execute(sa.select(devices).order_by(devices.c.id)).all())


def _endpoint(row: sa.Row) -> str:  # type: ignore[type-arg]
    """A device row's endpoint as the push service knows it (the row holds it encrypted)."""
    opened = webpush_secrets(dict(row._mapping), VAULT)
    assert opened is not None
    return opened[0]


async def test_a_lost_lease_cannot_record_over_the_new_claim(outbox: Outbox, clock: UTCView) -> None:
    outbox.add_device()
    event_id = outbox.ingest()
    lease = _dt.timedelta(seconds=60)
    with outbox.engine.begin() as conn:
        [old] = outbox_queries.claim_due(conn, now=clock(), lease=lease, limit=10)
    clock.advance(60)
    with outbox.engine.begin() as conn:
        [new] = outbox_queries.claim_due(conn, now=clock(), lease=lease, limit=10)
        # The old claimer finishes late while the new one is still sending: refused.
        assert not outbox_queries.record_sent(conn, old, now=clock(), status_code=201)
        assert outbox_queries.record_retry(
            conn, new, now=clock(), next_attempt_at=clock(), status_code=503, error="busy"
        )
        # Queued again and unleased: the old claim still cannot record.
        assert not outbox_queries.record_sent(conn, old, now=clock(), status_code=201)
    [row] = outbox.rows(event_id)
    assert (row.status, row.attempts, row.last_status_code) == ("queued", 2, 503)


async def test_a_step_claims_a_small_first_part_then_the_rest_of_its_batch(outbox: Outbox) -> None:
    for _ in range(12):
        outbox.add_device()
    outbox.ingest()
    sender = FakeSender()
    service = outbox.service(sender, batch_size=10, first_claim=3)
    first = await service.run_once()
    assert (first.claimed, first.sent) == (10, 10)  # 3, then 7 more while those were in flight
    second = await service.run_once()
    assert (second.claimed, second.sent) == (2, 2)  # a first claim that is not full claims no more
    ids = [m.delivery_id for _, m in sender.sent]
    assert len(ids) == len(set(ids)) == 12
    assert {r.status for r in outbox.rows()} == {"sent"}


async def test_pushes_claimed_at_ingest_are_sent_without_a_step_and_recorded(outbox: Outbox) -> None:
    """Ingest claims its first pushes (insert_events with the dispatcher's lease) and hands them to
    send_claimed: sent and recorded with no step of the loop; the next step finds nothing to claim."""
    outbox.add_device()
    sender = FakeSender()
    service = outbox.service(sender, lease=120)
    event = event_store.NewEvent(
        id="e-fresh", ts=outbox.clock(), level=Level.ERROR, title="Payment failed", push=True
    )
    with outbox.engine.begin() as conn:
        result = event_store.insert_events(
            conn, [event], key_id=None, now=outbox.clock(), repeat=REPEAT, lease=service.lease
        )
    [claim] = result.claimed
    service.send_claimed(list(result.claimed))
    await service.aclose()  # waits for the handed send and its record
    assert [message.delivery_id for _, message in sender.sent] == [claim.id]
    [row] = outbox.rows("e-fresh")
    assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)
    assert (await service.run_once()).claimed == 0
    assert len(sender.sent) == 1


@pytest.mark.parametrize(
    ("level", "script", "wakes"),
    [
        (Level.ERROR, [], False),  # sent: nothing new is due
        (Level.ERROR, [SendResult(outcome=Outcome.RETRY, status=503)], True),  # queued again
        (Level.ERROR, [SendResult(outcome=Outcome.FAILED, status=400)], False),  # done with
        (Level.CRITICAL, [], True),  # its re-push rounds are the loop's to schedule
    ],
    ids=["sent", "retry", "failed", "critical"],
)
async def test_a_handed_push_wakes_the_loop_only_when_it_leaves_work_due(
    outbox: Outbox, level: Level, script: list[SendResult], wakes: bool
) -> None:
    """After the first pushes of an ingest are recorded, the background loop (not started here, so
    its wake-up flag stays as the handed send left it) reads the outbox again only if a row is still
    queued or the event re-pushes: a lone pushed WARNING costs no dispatcher step."""
    outbox.add_device()
    sender = FakeSender(script=list(script))
    service = outbox.service(sender, lease=120)
    event = event_store.NewEvent(id="e-handed", ts=outbox.clock(), level=level, title="Disk full", push=True)
    with outbox.engine.begin() as conn:
        result = event_store.insert_events(
            conn, [event], key_id=None, now=outbox.clock(), repeat=REPEAT, lease=service.lease
        )
    service.send_claimed(list(result.claimed))
    await asyncio.wait(set(service._handed))  # the handed send and its record
    assert len(sender.sent) == 1
    assert service._wakeup.is_set() is wakes
    await service.aclose()


class GatedSender(FakeSender):
    """Holds every send until the test releases it, and remembers the most it held at once."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[asyncio.Future[None]] = []
        self.most = 0

    async def send(self, target: Any, message: PushMessage) -> SendResult:
        gate = asyncio.get_running_loop().create_future()
        self.held.append(gate)
        self.most = max(self.most, len(self.held))
        result = await super().send(target, message)
        await gate
        return result

    async def holding(self, count: int) -> None:
        while len(self.held) < count:
            self.called.clear()
            await asyncio.wait_for(self.called.wait(), timeout=10)

    def release(self, count: int) -> None:
        for gate in self.held[:count]:
            gate.set_result(None)
        del self.held[:count]


async def test_a_step_claims_the_next_rows_while_its_window_is_still_sending(outbox: Outbox) -> None:
    """The send window (batch_size) is refilled by a claim that starts while earlier sends are still in
    flight, never holding more than batch_size sends at once, and every row is sent once."""
    for _ in range(12):
        outbox.add_device()
    outbox.ingest()
    sender = GatedSender()
    service = outbox.service(sender, batch_size=4, first_claim=2)
    step = asyncio.ensure_future(service.run_once(rows=12))
    await sender.holding(4)  # 2, then a refill of 2 at once: the window is full
    for _ in range(4):
        sender.release(2)  # room for a refill while the other 2 are still held
        await sender.holding(4)  # refilled before those 2 finished
        assert len(sender.sent) <= 12
    sender.release(4)
    report = await asyncio.wait_for(step, timeout=10)
    assert (report.claimed, report.sent) == (12, 12)
    assert sender.most == 4
    ids = [m.delivery_id for _, m in sender.sent]
    assert len(ids) == len(set(ids)) == 12
    assert {r.status for r in outbox.rows()} == {"sent"}


def test_opened_targets_follow_the_stored_values_and_keep_a_bounded_number(outbox: Outbox) -> None:
    first, second, third = (outbox.add_device(endpoint=f"https://push.example.net/{n}") for n in "abc")
    with outbox.engine.connect() as conn:
        rows = {r.id: dict(r._mapping) for r in conn.execute(sa.select(devices))}
    targets = OpenedTargets(VAULT, keep=2)
    opened = targets(rows[first])
    assert isinstance(opened, WebPushTarget) and opened.endpoint == "https://push.example.net/a"
    assert targets(rows[first]) is opened  # kept: not decrypted again
    # The device registered again: new sealed values, so the new endpoint is opened, not the kept one.
    moved = {**rows[first], "endpoint": VAULT.encrypt("webpush:endpoint", "https://push.example.net/moved")}
    assert isinstance(moved_target := targets(moved), WebPushTarget)
    assert moved_target.endpoint == "https://push.example.net/moved"
    # Sealed under a key this hub lacks: no target, and nothing kept for it.
    lost = {**rows[second], "endpoint": DeviceTokenVault(bytes(32)).encrypt("webpush:endpoint", "https://x")}
    assert targets(lost) is None
    # At most ``keep``: the oldest goes first, and is opened again when asked for.
    assert targets(rows[third]) is not None
    assert len(targets._kept) == 2
    assert targets(rows[first]) == opened and targets(rows[first]) is not opened


class Preparing(FakeSender):
    """A fake sender that tells another thread (the one holding the transaction open) when it has
    prepared ``expected`` pushes."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.all_prepared = threading.Event()

    async def prepare(self, target: Any, message: PushMessage) -> Prepared:
        prepared = await super().prepare(target, message)
        if len(self.prepared) >= self.expected:
            self.all_prepared.set()
        return prepared


def _ingest_in(conn: sa.Connection, outbox: Outbox, service: Any, event_id: str) -> Any:
    event = event_store.NewEvent(id=event_id, ts=outbox.clock(), level=Level.ERROR, title=event_id, push=True)
    return event_store.insert_events(
        conn, [event], key_id=None, now=outbox.clock(), repeat=REPEAT, lease=service.lease
    )


async def test_a_handoff_prepares_while_the_transaction_is_open_and_posts_after_the_commit(
    outbox: Outbox,
) -> None:
    """The ingest transaction hands its claimed first pushes over before it commits: the loop builds
    them meanwhile, and nothing is posted until the caller sends them after the commit."""
    outbox.add_device()
    outbox.add_device()
    sender = Preparing(expected=2)
    service = outbox.service(sender, lease=120)
    handoff = service.handoff()

    def transaction() -> tuple[Any, bool, int]:
        with outbox.engine.begin() as conn:
            result = _ingest_in(conn, outbox, service, "e-early")
            handoff.prepare(result.claimed)
            prepared = sender.all_prepared.wait(timeout=10)  # the loop runs while this thread waits
            return result, prepared, len(sender.sent)

    result, prepared_before_commit, posted_before_commit = await asyncio.to_thread(transaction)
    assert prepared_before_commit
    assert posted_before_commit == 0
    handoff.send(result.claimed)
    await asyncio.wait(set(service._handed))
    assert [m for _, m in sender.sent] == [m for _, m in sender.prepared]  # the prepared ones, posted
    assert [r.status for r in outbox.rows("e-early")] == ["sent", "sent"]
    await service.aclose()


async def test_a_transaction_that_fails_after_the_handoff_prepared_sends_nothing(outbox: Outbox) -> None:
    outbox.add_device()
    sender = Preparing(expected=1)
    service = outbox.service(sender, lease=120)
    handoff = service.handoff()

    def transaction() -> None:
        with outbox.engine.begin() as conn:
            handoff.prepare(_ingest_in(conn, outbox, service, "e-failed").claimed)
            assert sender.all_prepared.wait(timeout=10)
            raise RuntimeError("the commit failed")

    with pytest.raises(RuntimeError, match="the commit failed"):
        await asyncio.to_thread(transaction)
    handoff.drop()
    assert len(sender.prepared) == 1
    assert not service._handed  # no post was started
    assert (await service.run_once()).claimed == 0  # nothing of it was stored
    assert sender.sent == []
    await service.aclose()


async def test_a_job_run_again_posts_only_the_claims_of_the_run_that_committed(outbox: Outbox) -> None:
    """A group commit retries a failed group's jobs one by one: the second run's claims replace the
    first's prepared pushes, which are dropped."""
    outbox.add_device()
    sender = Preparing(expected=1)
    service = outbox.service(sender, lease=120)
    handoff = service.handoff()

    def run(event_id: str, *, fail: bool) -> Any:
        sender.all_prepared.clear()
        with outbox.engine.begin() as conn:
            result = _ingest_in(conn, outbox, service, event_id)
            handoff.prepare(result.claimed)
            assert sender.all_prepared.wait(timeout=10)
            if fail:
                conn.rollback()
            return result

    await asyncio.to_thread(run, "e-first-run", fail=True)
    sender.expected = 2
    result = await asyncio.to_thread(run, "e-second-run", fail=False)
    handoff.send(result.claimed)
    await asyncio.wait(set(service._handed))
    assert [m.content.title for _, m in sender.prepared] == ["e-first-run", "e-second-run"]
    assert [m.content.title for _, m in sender.sent] == ["e-second-run"]
    await service.aclose()
