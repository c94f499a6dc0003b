"""Inputs that broke the hub (issue 8): each one gets a JSON 4xx naming the field, or is stored as
valid JSON; none is a 5xx, and the same keep-alive connection keeps serving afterwards."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import httpx
import pytest
from tests.support.hub_server import ThreadHub


def event(title: str = "t", **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "title": title, **fields}


def raw_post(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_4xx(answer: httpx.Response, status: int, *, mentions: str = "") -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] and error["message"] and "\n" not in error["message"]
    assert mentions in error["message"], error
    return error


def still_serving(client: httpx.Client, hub: ThreadHub) -> None:
    """The same connection answers the next request (no 500 closed it)."""
    answer = client.post(
        "/v1/events",
        json={"events": [event("alive")]},
        headers={"Authorization": f"Bearer {hub.publish_key}"},
    )
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"events": [{"title": "t", "metadata": {"x": NaN}}]}', "NaN"),
        (b'{"events": [{"title": "t", "metadata": {"x": Infinity}}]}', "Infinity"),
        (b'{"events": [{"title": "t", "metadata": {"x": "\\ud800"}}]}', "surrogate"),
        (b'{"events": [{"title": "\\udcff"}]}', "surrogate"),
        (b'{"events": [{"title": "t", "metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}]}", "nest"),
        (b'{"events": [{"title": "t", "metadata": {"x": ' + b"9" * 5000 + b"}}]}", "metadata.x"),
        (b'{"events": [{"title": "t", "count": ' + b"9" * 5000 + b"}]}", "count"),
        (b'{"events": [{"title": "t", "count": 9223372036854775808}]}', "count"),
        (b'{"events": [{"title": "t", "metadata": {"x": 1e400}}]}', "metadata.x"),
        (b'{"events": [{"title": "t"}], "client": {"dropped": 9223372036854775808}}', "client.dropped"),
        (b'{"events": [{"title": "t"}], "client": {"dropped": 1e400}}', "client.dropped"),
    ],
)
def test_publish_bodies_json_cannot_hold_are_4xx(hub: ThreadHub, body: bytes, mentions: str) -> None:
    with hub.client(hub.publish_key) as client:
        answer = raw_post(client, "/v1/events", body)
        assert answer.status_code in (400, 422, 202), answer.text
        if answer.status_code == 202:  # rejected per event: the answer names it
            [rejected] = answer.json()["rejected"]
            assert mentions in rejected["error"]["message"], rejected
        else:
            assert_4xx(answer, answer.status_code, mentions=mentions)
        still_serving(client, hub)
        page = client.get("/v1/events", headers={"Authorization": f"Bearer {hub.read_key}"})
        assert page.status_code == 200, page.text
        assert [e["title"] for e in page.json()["events"]] == ["alive"]


@pytest.mark.parametrize(
    "ts",
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01",
        "2026-W01",
    ],
)
def test_timestamps_outside_the_calendar_or_rfc_3339_are_refused(hub: ThreadHub, ts: str) -> None:
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [event(ts=ts), event("kept")]})
        assert answer.status_code == 202, answer.text
        result = answer.json()
        assert result["accepted"] == 1
        [rejected] = result["rejected"]
        assert rejected["index"] == 0
        assert "ts" in rejected["error"]["message"]
        still_serving(client, hub)
    with hub.client(hub.read_key) as client:
        for name in ("since", "until"):
            assert_4xx(client.get("/v1/events", params={name: ts}), 400, mentions=name)
        if ts != "2026-01-01":
            assert_4xx(client.get("/v1/stats", params={"until": ts}), 400, mentions="until")


@pytest.mark.parametrize(
    ("path", "params", "mentions"),
    [
        ("/v1/events", {"limit": "²"}, "limit"),
        ("/v1/events", {"limit": "٣"}, "limit"),
        ("/v1/events", {"limit": "9" * 5000}, "limit"),
        ("/v1/events", {"cursor": "x" * 10_000}, "cursor"),
        ("/v1/events", {"cursor": "czk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "cursor"),
        ("/v1/stats", {"since": "1000000d"}, "since"),
        ("/v1/stats", {"since": "99999999999999999999w"}, "since"),
        ("/v1/stats", {"since": "1e308s"}, "since"),
        ("/v1/stream", {"last_event_id": "²"}, "Last-Event-ID"),
        ("/v1/stream", {"last_event_id": "9" * 30}, "Last-Event-ID"),
    ],
)
def test_query_parameters_that_broke_the_hub_are_400(
    hub: ThreadHub, path: str, params: dict[str, str], mentions: str
) -> None:
    with hub.client(hub.read_key) as client:
        assert_4xx(client.get(path, params=params), 400, mentions=mentions)
        still_serving(client, hub)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"status": "success", "exit_code": 9223372036854775808}', "exit_code"),
        (b'{"status": "success", "exit_code": ' + b"9" * 5000 + b"}", "exit_code"),
        (b'{"status": "success", "duration_s": 1e400}', "duration_s"),
        (b'{"status": "success", "every_s": 1e400}', "every"),
        (b'{"status": "success", "message": "\\ud800"}', "surrogate"),
    ],
)
def test_heartbeat_check_ins_the_store_cannot_hold_are_4xx(
    hub: ThreadHub, body: bytes, mentions: str
) -> None:
    with hub.client(hub.publish_key) as client:
        answer = raw_post(client, "/v1/heartbeats/nightly", body)
        assert_4xx(answer, answer.status_code, mentions=mentions)
        assert answer.status_code in (400, 422)
        assert client.post("/v1/heartbeats/nightly?exit_code=99999999999999999999").status_code == 422
        still_serving(client, hub)


def test_a_non_ascii_receipt_token_is_401_not_500(hub: ThreadHub) -> None:
    with hub.client() as client:
        answer = client.post("/v1/deliveries/some-id/receipt", json={"token": "é" * 10, "status": "opened"})
        assert_4xx(answer, 401)
        answer = client.post("/v1/events/some-id/ack", json={"token": "é" * 10})
        assert_4xx(answer, 401)
        still_serving(client, hub)


def test_values_stored_before_validation_existed_are_served_as_valid_json(hub: ThreadHub) -> None:
    """A NaN or a lone surrogate already in the database (written by an older hub) must not make
    every read a 500: it is served as null / U+FFFD."""
    with hub.client(hub.publish_key) as client:
        assert client.post("/v1/events", json={"events": [event("old row")]}).status_code == 202
    with sqlite3.connect(hub.data_dir / "pushlog.db") as db:
        db.execute("""UPDATE events SET metadata = '{"x": NaN, "y": "a\\udcffb"}'""")
    with hub.client(hub.read_key) as client:
        answer = client.get("/v1/events")
        assert answer.status_code == 200, answer.text
        [stored] = answer.json()["events"]
        assert stored["metadata"] == {"x": None, "y": "a\ufffdb"}
        assert client.get(f"/v1/events/{stored['id']}").status_code == 200


def test_one_bad_event_costs_only_itself(hub: ThreadHub) -> None:
    """The client cuts a 5 MB ``extra`` value to MAX_METADATA_VALUE characters; the hub measures it
    the same way, and a genuinely bad event is reported in the 202 answer, not a 422 for all."""
    from pushlog._event import MAX_METADATA_VALUE, TRUNCATION_MARKER, truncate

    cut = truncate("x" * 5_000_000, MAX_METADATA_VALUE)
    assert cut.endswith(TRUNCATION_MARKER)
    good = event("client-cut value", metadata={"blob": cut, "quote": '"' * MAX_METADATA_VALUE})
    bad = event("", level="warning")
    also_good = event("after the bad one")
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [good, bad, also_good]})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [
            {
                "index": 1,
                "id": bad["id"],
                "error": {"code": "invalid", "message": answer.json()["rejected"][0]["error"]["message"]},
            }
        ],
    }
    assert "events[1].title" in answer.json()["rejected"][0]["error"]["message"]
    with hub.client(hub.read_key) as client:
        titles = [e["title"] for e in client.get("/v1/events").json()["events"]]
    assert titles == ["after the bad one", "client-cut value"]
