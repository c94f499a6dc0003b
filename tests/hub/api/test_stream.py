"""GET /v1/stream: live events, filters, Last-Event-ID resume, acks, resolved alerts, keepalive, no
event missed."""

from __future__ import annotations

import datetime as _dt
import threading
import uuid
from typing import Any

from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.stream import open_stream


def publish(hub: ThreadHub, *titles: str, **fields: Any) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in titles]
    with hub.client(hub.publish_key) as client:
        answer = client.post(
            "/v1/events",
            json={"events": [{"id": i, "title": t, **fields} for i, t in zip(ids, titles, strict=True)]},
        )
    assert answer.status_code == 202
    return ids


def test_new_events_arrive_live_with_seq_ids_and_filters_apply(hub: ThreadHub) -> None:
    with open_stream(hub, {"level": "warning"}) as reader:
        publish(hub, "quiet info", level="info")
        publish(hub, "loud warning", level="warning")
        message = reader.next()
        assert message.event == "event"
        assert message.data is not None and message.data["title"] == "loud warning"
        assert message.id == str(message.data["seq"])


def test_resume_with_last_event_id_replays_only_later_matching_events(hub: ThreadHub) -> None:
    publish(hub, "one", "two", "three", "four", level="warning")
    with hub.client(hub.read_key) as client:
        listed = client.get("/v1/events").json()["events"]
    seq_of = {e["title"]: e["seq"] for e in listed}
    with open_stream(hub, headers={"Last-Event-ID": str(seq_of["two"])}) as reader:
        got = [m.data["title"] for m in reader.events(2) if m.data]
    assert got == ["three", "four"]
    with open_stream(hub, params={"last_event_id": str(seq_of["one"]), "q": "t"}) as reader:
        got = [m.data["title"] for m in reader.events(2) if m.data]
    assert got == ["two", "three"]


def test_no_event_is_missed_between_catch_up_and_live(hub_factory: Any) -> None:
    """A stream opened while a writer publishes sees every event exactly once, in order.

    The keepalive (which also triggers a re-read) is set far beyond the wait, so a lost wake-up
    between the catch-up read and the wait would show up as a timeout here.
    """
    hub = hub_factory(keepalive_interval=600)
    total = 60
    published: list[str] = []
    writer_done = threading.Event()

    def writer() -> None:
        for n in range(total):
            published.extend(publish(hub, f"e{n:03d}", level="warning"))
        writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with open_stream(hub, headers={"Last-Event-ID": "0"}) as reader:
            got = [m.data["id"] for m in reader.events(total, timeout=20) if m.data]
    finally:
        thread.join()
    assert writer_done.is_set()
    assert got == published


def test_a_last_event_id_beyond_the_newest_event_does_not_silence_the_stream(hub: ThreadHub) -> None:
    publish(hub, "old", level="warning")
    with open_stream(hub, headers={"Last-Event-ID": "999999"}) as reader:
        publish(hub, "new", level="warning")
        message = reader.next()
    assert message.data is not None and message.data["title"] == "new"


def test_ack_is_streamed_to_listeners(hub: ThreadHub) -> None:
    [event_id] = publish(hub, "page me", level="critical")
    with open_stream(hub) as reader:
        with hub.client(hub.read_key) as client:
            assert client.post(f"/v1/events/{event_id}/ack").status_code == 200
        message = reader.next(kinds=("ack",))
    assert message.data is not None
    assert message.data["id"] == event_id
    assert message.data["acknowledged_at"]
    assert message.id is None


def test_a_recovery_streams_the_resolved_alert_line(hub: ThreadHub) -> None:
    [alert_id] = publish(hub, "Payments failing", level="error", push=True, fingerprint="payments-gateway")
    with open_stream(hub) as reader:
        [recovery_id] = publish(hub, "Payments back", level="info", resolves="payments-gateway")
        message = reader.next(kinds=("resolved",))
    assert message.data is not None and message.id is None
    assert (message.data["id"], message.data["resolved_by"]) == (alert_id, f"event:{recovery_id}")
    with hub.client(hub.read_key) as client:
        line = client.get(f"/v1/events/{alert_id}").json()
    assert message.data["seq"] == line["seq"]
    assert message.data["resolved_at"] == line["resolved_at"]
    assert message.data["resolved_after_s"] == line["resolved_after_s"]


def test_a_quiet_time_resolved_by_the_rules_duty_reaches_open_streams(hub_factory: Any) -> None:
    clock = FakeClock(_dt.datetime(2026, 11, 21, 6, 0, tzinfo=_dt.UTC))
    running = hub_factory(clock=clock.as_utc(), rules_interval=86400.0, allow_private_endpoints=True)
    task = running.app.state.rules
    wait_until(lambda: task.passes >= 1, timeout=10, what="the rules' first pass")
    with running.client(running.admin_key) as client:
        rule = {"kind": "resolve", "match": {"channel": "payments"}, "quiet": "10m"}
        assert client.put("/v1/rules/payments-quiet", json=rule).status_code == 200
    [alert_id] = publish(
        running, "Card gateway slow", level="warning", push=True, channel="payments", fingerprint="gw"
    )
    with open_stream(running) as reader:
        clock.advance(10 * 60)
        before = task.passes
        task.request_run()
        wait_until(lambda: task.passes > before, timeout=10, what="a rules pass")
        message = reader.next(kinds=("resolved",))
    assert message.data is not None and isinstance(message.data.pop("seq"), int)
    assert message.data == {
        "id": alert_id,
        "resolved_at": "2026-11-21T06:10:00.000000Z",
        "resolved_by": "quiet:payments-quiet",
        "resolved_after_s": 600.0,
    }


def test_keepalive_comment_when_idle(hub_factory: Any) -> None:
    running = hub_factory(keepalive_interval=0.2)
    with open_stream(running) as reader:
        message = reader.next(kinds=("comment",))
    assert message.comment == "keepalive"


def test_bad_last_event_id_is_400_and_publish_key_is_403(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client:
        answer = client.get("/v1/stream", headers={"Last-Event-ID": "abc"})
        assert answer.status_code == 400
    with hub.client(hub.publish_key) as client:
        answer = client.get("/v1/stream")
        assert answer.status_code == 403


async def test_follow_picks_up_an_event_committed_during_the_catch_up_read() -> None:
    """Deterministic form of the race: the first read's snapshot misses an event whose commit (and
    broker notification) lands while the read is running. The keepalive is far away, so only a
    correct generation check makes the second read happen."""
    import asyncio

    from pushlog.hub._broker import Broker
    from pushlog.hub.api.stream import follow

    broker = Broker()
    table: list[dict[str, Any]] = [{"seq": 1, "title": "before"}]
    reads = 0

    async def read(after: int) -> list[dict[str, Any]]:
        nonlocal reads
        reads += 1
        snapshot = [row for row in table if row["seq"] > after]
        if reads == 1:  # a writer commits after our snapshot, before we wait
            table.append({"seq": 2, "title": "during"})
            await broker.changed()
        return snapshot

    body = follow(read, broker, position=0, keepalive=600)
    chunks = [await asyncio.wait_for(anext(body), 5)]
    while b"id: 2\n" not in chunks[-1]:  # the second read may come before or after the first is sent
        chunks.append(await asyncio.wait_for(anext(body), 5))
    await broker.close()
    await body.aclose()
    sent = b"".join(chunks[1:])
    assert chunks[0].startswith(b"retry:")
    assert reads == 2
    assert b"id: 1\n" in chunks[1] and b'"before"' in chunks[1]
    assert sent.index(b"id: 1\n") < sent.index(b"id: 2\n") and b'"during"' in sent


async def test_follow_ends_when_the_broker_closes() -> None:
    import asyncio

    from pushlog.hub._broker import Broker
    from pushlog.hub.api.stream import follow

    broker = Broker()

    async def read(after: int) -> list[dict[str, Any]]:
        return []

    async def drain() -> list[bytes]:
        return [chunk async for chunk in follow(read, broker, position=0, keepalive=600)]

    task = asyncio.create_task(drain())
    await asyncio.sleep(0)  # let the stream reach its wait
    await broker.close()
    assert await asyncio.wait_for(task, 5) == [b"retry: 2000\n\n"]
