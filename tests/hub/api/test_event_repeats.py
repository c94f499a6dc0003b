"""Dedup follow-ups (wire ``repeat_of``) fold into their first event's feed line.

A storm from the real client through a real hub: one push to the RFC 8030 stand-in, one line counting
every occurrence. Then the hub's rules one by one: a retried follow-up adds nothing, an unknown first
event leaves the follow-up visible, a follow-up in the same request as its first event still merges,
follow-ups are never pushed, and the live stream sends ``event: update`` (also on resume).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.hub_server import ThreadHub
from tests.support.push_service import PushService
from tests.support.stream import open_stream

from pushlog import Client, PushHandler
from pushlog.hub.store._tables import deliveries


def post(hub: ThreadHub, *events: dict[str, Any]) -> dict[str, Any]:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": list(events)})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def feed(hub: ThreadHub, **params: Any) -> list[dict[str, Any]]:
    with hub.client(hub.read_key) as client:
        answer = client.get("/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["events"])


def event(title: str = "db down", **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "title": title, "level": "error", "fingerprint": "fp-db", **fields}


def follow_up(first: dict[str, Any], count: int, **fields: Any) -> dict[str, Any]:
    return {
        **first,
        "id": str(uuid.uuid4()),
        "count": count,
        "push": False,
        "repeat_of": first["id"],
        **fields,
    }


def delivery_rows(hub: ThreadHub) -> int:
    with hub.app.state.hub.require_engine().connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one())


def test_a_storm_of_1000_errors_is_one_push_and_one_line_counting_1000(
    hub: ThreadHub, push_service: PushService
) -> None:
    phone = push_service.subscribe()
    with hub.client(hub.read_key) as client:
        registered = client.post(
            "/v1/devices", json={"kind": "webpush", "subscription": phone.subscription()}
        )
    assert registered.status_code == 201, registered.text

    client = Client(hub.dsn, linger=0.0)
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.storm.e2e")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(1000):
            try:
                raise ConnectionError(f"db down #{i}")
            except ConnectionError:
                logger.exception("query failed for %s", f"user{i}")
        assert client.flush(10)
    finally:
        logger.removeHandler(handler)
        client.close()

    (line,) = feed(hub)
    assert (line["count"], line["level"], line["push"]) == (1000, "error", True)
    assert line["repeat_of"] is None and line["last_seen_at"] is not None
    pushes = push_service.wait_for(1, status=201)
    assert [p.payload["event_id"] for p in pushes] == [line["id"]]
    assert delivery_rows(hub) == 1


def test_a_retried_follow_up_adds_nothing(hub: ThreadHub) -> None:
    first = event()
    assert post(hub, first) == {"accepted": 1, "duplicates": 0}
    repeat = follow_up(first, 41, ts="2030-01-01T00:00:00Z")
    assert post(hub, repeat) == {"accepted": 1, "duplicates": 0}
    assert post(hub, repeat) == {"accepted": 0, "duplicates": 1}
    assert post(hub, repeat, repeat) == {"accepted": 0, "duplicates": 2}
    (line,) = feed(hub)
    assert (line["id"], line["count"], line["last_seen_at"]) == (
        first["id"],
        42,
        "2030-01-01T00:00:00.000000Z",
    )


def test_follow_ups_accumulate_and_a_follow_up_of_a_follow_up_reaches_the_line(hub: ThreadHub) -> None:
    first = event()
    second = follow_up(first, 10)
    post(hub, first, second)  # same request: the first is stored before the follow-up looks for it
    post(hub, follow_up(second, 5), follow_up(first, 1))
    (line,) = feed(hub)
    assert (line["id"], line["count"]) == (first["id"], 17)
    with hub.client(hub.read_key) as client:
        hidden = client.get(f"/v1/events/{second['id']}").json()
    assert (hidden["repeat_of"], hidden["count"]) == (first["id"], 10)  # still readable by its id


def test_an_unknown_first_event_leaves_the_follow_up_a_line_of_its_own(hub: ThreadHub) -> None:
    lost = event()
    orphan = follow_up(lost, 999, push=True)
    post(hub, orphan)
    (line,) = feed(hub)
    assert (line["id"], line["count"], line["repeat_of"], line["push"]) == (
        orphan["id"],
        999,
        lost["id"],
        False,
    )
    post(hub, lost)  # the first one arriving late is a line too: nothing is merged backwards
    assert [(e["id"], e["count"]) for e in feed(hub)] == [(lost["id"], 1), (orphan["id"], 999)]


def test_follow_ups_are_never_pushed(hub: ThreadHub, push_service: PushService) -> None:
    phone = push_service.subscribe()
    with hub.client(hub.read_key) as client:
        assert client.post(
            "/v1/devices", json={"kind": "webpush", "subscription": phone.subscription()}
        ).is_success
    first = event()
    post(hub, first, follow_up(first, 3, push=True), follow_up(event(), 3, push=True))
    push_service.wait_for(1, status=201)
    assert delivery_rows(hub) == 1


def test_filters_see_the_merged_line_only(hub: ThreadHub) -> None:
    first = event(tags=["db"], metadata={"shard": "7"})
    post(hub, first, follow_up(first, 2))
    assert [(e["id"], e["count"]) for e in feed(hub, tag="db")] == [(first["id"], 3)]
    assert [(e["id"], e["count"]) for e in feed(hub, **{"meta.shard": "7"})] == [(first["id"], 3)]
    assert feed(hub, q="db down", limit=1)[0]["count"] == 3


@pytest.mark.parametrize(
    ("repeat_of", "message"),
    [(42, "events[0].repeat_of: must be a string or null"), ("", "events[0].repeat_of: must not be empty")],
)
def test_a_bad_repeat_of_is_rejected_naming_it(hub: ThreadHub, repeat_of: Any, message: str) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [{"title": "x", "repeat_of": repeat_of}]})
    assert answer.status_code == 202
    [rejected] = answer.json()["rejected"]
    assert rejected["error"]["message"].startswith(message)


def test_a_follow_up_naming_itself_is_rejected(hub: ThreadHub) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [{"id": "a", "title": "x", "repeat_of": "a"}]})
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 0
    [rejected] = answer.json()["rejected"]
    assert (rejected["index"], rejected["id"]) == (0, "a")
    assert "own id" in rejected["error"]["message"]


def test_the_stream_sends_an_update_with_the_grown_line_and_replays_it_on_resume(hub: ThreadHub) -> None:
    first = event()
    with open_stream(hub) as reader:
        post(hub, first)
        created = reader.next(kinds=("event",))
        assert created.data is not None and created.data["count"] == 1
        post(hub, follow_up(first, 9))
        update = reader.next(kinds=("event", "update"))
        assert update.event == "update"
        assert update.data is not None
        assert (update.data["id"], update.data["seq"], update.data["count"]) == (
            first["id"],
            created.data["seq"],
            10,
        )
        assert update.id is not None and int(update.id) > created.data["seq"]
        post(hub, event("marker", fingerprint=None))
        assert reader.next().data["title"] == "marker"  # type: ignore[index]
    with open_stream(hub, headers={"Last-Event-ID": created.id or ""}) as reader:
        replayed = reader.next(kinds=("event", "update"))
        assert (replayed.event, replayed.id, replayed.data) == ("update", update.id, update.data)
        assert reader.next().data["title"] == "marker"  # type: ignore[index]


def test_the_stream_applies_filters_to_the_line_an_update_belongs_to(hub: ThreadHub) -> None:
    quiet, loud = event("quiet", level="info", fingerprint="q"), event("loud", fingerprint="l")
    post(hub, quiet, loud)
    with open_stream(hub, {"level": "error"}) as reader:
        post(hub, follow_up(quiet, 4), follow_up(loud, 4), follow_up(loud, 1))
        update = reader.next(kinds=("event", "update"))
        assert update.event == "update" and update.data is not None
        assert (update.data["title"], update.data["count"]) == ("loud", 6)  # one update for both follow-ups
        post(hub, event("marker", fingerprint=None))
        assert reader.next(kinds=("event", "update")).data["title"] == "marker"  # type: ignore[index]
    assert {e["title"]: e["count"] for e in feed(hub, level="info")} == {"marker": 1, "loud": 6, "quiet": 5}
