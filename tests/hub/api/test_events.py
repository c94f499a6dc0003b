"""POST/GET /v1/events against a real hub: ingest, idempotency, filters, pagination, ack, deliveries."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
from tests.support.clock import utc_clock
from tests.support.hub_server import ThreadHub

P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"


def event(title: str, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "title": title, **fields}


def publish(hub: ThreadHub, *events: dict[str, Any]) -> httpx.Response:
    with hub.client(hub.publish_key) as client:
        return client.post("/v1/events", json={"events": list(events)})


def feed(hub: ThreadHub, **params: Any) -> dict[str, Any]:
    with hub.client(hub.read_key) as client:
        answer = client.get("/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def titles(page: dict[str, Any]) -> list[str]:
    return [e["title"] for e in page["events"]]


def test_publish_answers_202_and_the_event_is_in_the_feed_with_every_field(hub: ThreadHub) -> None:
    sent = event(
        "Payment failed",
        ts="2026-03-01T10:00:00Z",
        level="error",
        body="card declined",
        channel="payments",
        tags=["billing", "stripe"],
        link="https://example.com/p/1",
        actions=[{"action": "retry", "title": "Retry", "url": "https://example.com/r"}],
        metadata={"user_id": 42, "plan": "pro"},
        fingerprint="fp-1",
        count=3,
        source={"logger": "app.pay", "host": "web-1"},
    )
    answer = publish(hub, sent)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 1, "duplicates": 0}
    [stored] = feed(hub)["events"]
    for key in (
        "id",
        "level",
        "title",
        "body",
        "channel",
        "tags",
        "link",
        "metadata",
        "fingerprint",
        "count",
    ):
        assert stored[key] == sent[key], key
    assert stored["ts"] == "2026-03-01T10:00:00.000000Z"
    assert stored["actions"] == sent["actions"]
    assert stored["source"] == sent["source"]
    assert stored["push"] is True
    assert isinstance(stored["seq"], int)
    assert stored["acknowledged_at"] is None


def test_same_event_id_is_stored_once_and_counted_as_duplicate(hub: ThreadHub) -> None:
    first = event("once")
    assert publish(hub, first).json() == {"accepted": 1, "duplicates": 0}
    again = publish(hub, first, dict(first), event("other"))
    assert again.status_code == 202
    assert again.json() == {"accepted": 1, "duplicates": 2}
    assert sorted(titles(feed(hub))) == ["once", "other"]


def test_filters_level_channel_tag_meta_text_and_time(hub: ThreadHub) -> None:
    publish(
        hub,
        event(
            "deploy done",
            level="info",
            channel="ops",
            tags=["deploy"],
            metadata={"env": "prod"},
            ts="2026-01-01T00:00:00Z",
        ),
        event(
            "disk almost full",
            level="warning",
            channel="ops",
            tags=["disk", "prod"],
            metadata={"env": "prod", "host": "db-1"},
            ts="2026-01-02T00:00:00Z",
        ),
        event(
            "Payment FAILED",
            level="error",
            channel="payments",
            tags=["billing"],
            metadata={"env": "staging", "user_id": 7},
            body="card declined",
            ts="2026-01-03T00:00:00Z",
        ),
    )
    assert titles(feed(hub, level="warning")) == ["Payment FAILED", "disk almost full"]
    assert titles(feed(hub, channel="ops")) == ["disk almost full", "deploy done"]
    assert titles(feed(hub, tag="disk")) == ["disk almost full"]
    assert titles(feed(hub, **{"meta.env": "prod"})) == ["disk almost full", "deploy done"]
    assert titles(feed(hub, **{"meta.env": "prod", "meta.host": "db-1"})) == ["disk almost full"]
    assert titles(feed(hub, **{"meta.user_id": "7"})) == ["Payment FAILED"]
    assert titles(feed(hub, q="failed")) == ["Payment FAILED"]
    assert titles(feed(hub, q="DECLINED")) == ["Payment FAILED"]
    assert titles(feed(hub, q="100%")) == []
    assert titles(feed(hub, since="2026-01-02T00:00:00Z")) == ["Payment FAILED", "disk almost full"]
    assert titles(feed(hub, until="2026-01-02T00:00:00Z")) == ["deploy done"]


def test_bad_query_parameters_are_400(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client:
        for params in (
            {"level": "loud"},
            {"since": "yesterday"},
            {"limit": "0"},
            {"limit": "500"},
            {"cursor": "not-a-cursor"},
        ):
            answer = client.get("/v1/events", params=params)
            assert answer.status_code == 400, params
            assert answer.json()["error"]["code"] == "invalid_query"


def test_cursor_pagination_stays_correct_while_events_arrive(hub: ThreadHub) -> None:
    publish(hub, *[event(f"old {i:03d}") for i in range(45)])
    stop = threading.Event()
    inserted: list[str] = []

    def keep_inserting() -> None:
        n = 0
        while not stop.is_set():
            assert publish(hub, event(f"new {n:03d}")).status_code == 202
            inserted.append(f"new {n:03d}")
            n += 1

    writer = threading.Thread(target=keep_inserting)
    first = feed(hub, limit=10)
    writer.start()
    try:
        seen = titles(first)
        cursor = first["next_cursor"]
        while cursor:
            page = feed(hub, limit=10, cursor=cursor)
            seen += titles(page)
            cursor = page["next_cursor"]
    finally:
        stop.set()
        writer.join()
    old_seen = [t for t in seen if t.startswith("old")]
    assert old_seen == [f"old {i:03d}" for i in reversed(range(45))]
    assert len(seen) == len(set(seen)), "a page repeated an event"
    assert inserted, "the writer never ran"


def test_get_one_event_and_404(hub: ThreadHub) -> None:
    sent = event("just one", level="warning")
    publish(hub, sent)
    with hub.client(hub.read_key) as client:
        one = client.get(f"/v1/events/{sent['id']}")
        assert one.status_code == 200
        assert one.json()["title"] == "just one"
        assert one.json()["deliveries"] == []
        missing = client.get("/v1/events/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


def _register(hub: ThreadHub, endpoint: str, **prefs: Any) -> dict[str, Any]:
    with hub.client(hub.read_key) as client:
        answer = client.post(
            "/v1/devices",
            json={
                "subscription": {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}},
                "preferences": prefs,
            },
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_ingest_creates_round0_deliveries_for_devices_whose_preferences_match(hub: ThreadHub) -> None:
    everything = _register(hub, "http://127.0.0.1:9/push/a", min_level="warning")
    errors_only = _register(hub, "http://127.0.0.1:9/push/b", min_level="error")
    ops_only = _register(hub, "http://127.0.0.1:9/push/c", min_level="warning", channels=["ops"])
    warn = event("warn", level="warning", channel="payments")
    err = event("err", level="error", channel="ops")
    info = event("info", level="info")
    muted = event("muted", level="error", push=False)
    publish(hub, warn, err, info, muted)
    with hub.client(hub.read_key) as client:

        def devices_for(sent: dict[str, Any]) -> set[str]:
            rows = client.get(f"/v1/events/{sent['id']}/deliveries").json()["deliveries"]
            assert all(r["round"] == 0 for r in rows)
            return {r["device_id"] for r in rows}

        assert devices_for(warn) == {everything["id"]}
        assert devices_for(err) == {everything["id"], errors_only["id"], ops_only["id"]}
        assert devices_for(info) == set()
        assert devices_for(muted) == set()


def test_critical_gets_a_repush_schedule_from_the_injected_clock(hub_factory: Any) -> None:
    import sqlalchemy as sa

    clock = utc_clock()
    running = hub_factory(clock=clock, critical_repeat_interval=120, critical_expiry=600)
    sent = event("db down", level="critical")
    assert publish(running, sent).status_code == 202
    engine = sa.create_engine(f"sqlite:///{running.data_dir / 'pushlog.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT received_at, repeat_next_at, repeat_until FROM events WHERE id = :id"),
                {"id": sent["id"]},
            ).one()
    finally:
        engine.dispose()
    assert row.received_at.startswith("2026-01-01 12:00:00")
    assert row.repeat_next_at.startswith("2026-01-01 12:02:00")
    assert row.repeat_until.startswith("2026-01-01 12:10:00")


def test_acknowledge_with_read_key_is_idempotent(hub: ThreadHub) -> None:
    sent = event("ack me", level="critical")
    publish(hub, sent)
    with hub.client(hub.read_key) as client:
        first = client.post(f"/v1/events/{sent['id']}/ack")
        assert first.status_code == 200
        acked_at = first.json()["acknowledged_at"]
        assert acked_at is not None
        assert first.json()["acknowledged_by"] == "key:bootstrap read"
        second = client.post(f"/v1/events/{sent['id']}/ack")
        assert second.json()["acknowledged_at"] == acked_at
        assert client.post("/v1/events/missing/ack").status_code == 404


def test_concurrent_publishers_all_get_202_and_every_event_is_stored(hub: ThreadHub) -> None:
    """Writers queue on SQLite's write lock (BEGIN IMMEDIATE) instead of failing with "locked"."""
    import concurrent.futures

    def one_client(n: int) -> list[int]:
        with hub.client(hub.publish_key) as client:
            return [
                client.post(
                    "/v1/events", json={"events": [event(f"c{n} #{i}"), event(f"c{n} #{i}b")]}
                ).status_code
                for i in range(10)
            ]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = [code for codes in pool.map(one_client, range(8)) for code in codes]
    assert codes == [202] * 80
    seen = 0
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = feed(hub, **params)
        seen += len(page["events"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == 160


def test_a_database_locked_past_the_busy_timeout_is_503_with_retry_after(hub_factory: Any) -> None:
    import sqlite3

    running = hub_factory(busy_timeout=0.2)
    body = {"events": [event("while locked")]}
    with running.client(running.publish_key) as client:
        assert client.post("/v1/events", json={"events": [event("warm-up")]}).status_code == 202
        blocker = sqlite3.connect(running.data_dir / "pushlog.db", isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")  # e.g. a long maintenance job holding the write lock
            locked = client.post("/v1/events", json=body)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert locked.status_code == 503
        assert locked.headers["Retry-After"] == "1"
        assert locked.json()["error"]["code"] == "unavailable"
        retried = client.post("/v1/events", json=body)
        assert retried.status_code == 202
        assert retried.json() == {"accepted": 1, "duplicates": 0}  # nothing was half-written
