"""The push budget per key: pushes per minute and running CRITICAL re-push series; overflow becomes
one summary push per key and minute, whose feed line counts what was held back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from tests.support.clock import UTCView, utc_clock
from tests.support.devices import subscription
from tests.support.hub_server import ThreadHub, wait_until

from pushlog.hub.store._tables import deliveries, events, fanouts


def start(hub_factory: Callable[..., ThreadHub], **limits: Any) -> tuple[ThreadHub, UTCView]:
    clock = utc_clock()
    running = hub_factory(clock=clock, allow_private_endpoints=True, **limits)
    with running.client(running.read_key) as client:
        made = client.post("/v1/devices", json={"subscription": subscription("http://127.0.0.1:9/push/p")})
    assert made.status_code == 201
    return running, clock


def publish(running: ThreadHub, count: int, level: str = "error") -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    batch = [{"id": i, "title": f"boom {n}", "level": level, "push": True} for n, i in enumerate(ids)]
    with running.client(running.publish_key) as client:
        assert client.post("/v1/events", json={"events": batch}).status_code == 202
    return ids


def rows(running: ThreadHub) -> dict[str, Any]:
    """Per event id: (push, pushed rows, re-push scheduled, count, title, merged), once the dispatcher
    has written every delivery row (ingest writes the first few; the rest of a fan-out follows)."""
    engine = running.app.state.hub.engine

    def expanded() -> bool:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(fanouts)).scalar() == 0

    wait_until(expanded, timeout=15, what="every fan-out written")
    with engine.connect() as conn:
        pushed = dict(
            conn.execute(
                sa.select(deliveries.c.event_id, sa.func.count()).group_by(deliveries.c.event_id)
            ).all()
        )
        found = conn.execute(
            sa.select(
                events.c.id,
                events.c.push,
                events.c.repeat_next_at,
                events.c.count,
                events.c.title,
                events.c.merged_into,
            )
        ).all()
    return {
        r.id: (
            r.push,
            pushed.get(r.id, 0),
            r.repeat_next_at is not None,
            r.count,
            r.title,
            r.merged_into is not None,
        )
        for r in found
    }


def summaries(running: ThreadHub) -> list[tuple[Any, ...]]:
    return [row for row in rows(running).values() if row[4].startswith("Push budget exceeded") and not row[5]]


def test_pushes_past_the_budget_are_stored_unpushed_and_summed_up_in_one_push(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    running, clock = start(hub_factory, push_budget_per_minute=3)
    first = publish(running, 10)
    table = rows(running)
    assert [table[i][:2] for i in first] == [(True, 1)] * 3 + [(False, 0)] * 7
    assert summaries(running) == [
        (True, 1, False, 7, "Push budget exceeded by key 'bootstrap publish'", False)
    ]

    publish(running, 5)  # the same minute: no second summary push, its line counts on
    assert summaries(running) == [
        (True, 1, False, 12, "Push budget exceeded by key 'bootstrap publish'", False)
    ]
    with running.client(running.read_key) as client:
        (line,) = [
            e for e in client.get("/v1/events").json()["events"] if e["title"].startswith("Push budget")
        ]
    assert line["count"] == 12 and "budget of 3 pushes a minute" in line["body"]

    clock.advance(60)  # refilled, and a new minute: pushes again, and a new summary for new overflow
    later = publish(running, 4)
    table = rows(running)
    assert [table[i][:2] for i in later] == [(True, 1)] * 3 + [(False, 0)]
    assert sorted(row[3] for row in summaries(running)) == [1, 12]


def test_critical_events_past_the_series_cap_are_pushed_once_without_re_pushes(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    running, _ = start(hub_factory, push_budget_per_minute=100, max_critical_series=2)
    ids = publish(running, 5, level="critical")
    table = rows(running)
    assert [table[i][:3] for i in ids] == [(True, 1, True)] * 2 + [(True, 1, False)] * 3
    ((push, pushed, repeats, count, _, _),) = summaries(running)
    assert (push, pushed, repeats, count) == (True, 1, False, 3)  # the summary never re-pushes itself


def test_one_key_over_budget_leaves_other_keys_alone(hub_factory: Callable[..., ThreadHub]) -> None:
    running, _ = start(hub_factory, push_budget_per_minute=2)
    publish(running, 5)
    with running.client(running.admin_key) as admin:
        other = admin.post("/v1/keys", json={"name": "other app", "scope": "publish"}).json()["secret"]
    event = {"id": str(uuid.uuid4()), "title": "fine", "level": "error", "push": True}
    with running.client(other) as client:
        assert client.post("/v1/events", json={"events": [event]}).status_code == 202
    assert rows(running)[event["id"]][:2] == (True, 1)


def test_a_retried_batch_spends_no_budget(hub_factory: Callable[..., ThreadHub]) -> None:
    running, _ = start(hub_factory, push_budget_per_minute=2)
    batch = [{"id": str(uuid.uuid4()), "title": "once", "level": "error", "push": True} for _ in range(2)]
    with running.client(running.publish_key) as client:
        for _ in range(3):  # retried twice: duplicates take nothing
            assert client.post("/v1/events", json={"events": batch}).status_code == 202
    assert summaries(running) == []


def test_one_request_with_1000_critical_events_is_bounded_by_the_defaults(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    running, _ = start(hub_factory)  # push_budget_per_minute=60, max_critical_series=10
    ids = publish(running, 1000, level="critical")
    table = rows(running)
    assert sum(table[i][1] for i in ids) == 60  # pushes
    assert sum(table[i][2] for i in ids) == 10  # re-push series
    ((push, pushed, repeats, count, _, _),) = summaries(running)
    assert (push, pushed, repeats, count) == (True, 1, False, 990)  # 940 not pushed + 50 pushed once
