"""``pushlog.push_to`` against a real hub: the notification is made once (retries carry one
idempotency key), ``data`` is redacted like metadata and the user-facing text is not."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.hub_server import ThreadHub, start_hub_thread

import pushlog
from pushlog._push_to import notification_request, users_dsn


@pytest.fixture
def real_hub(tmp_path: Path) -> Iterator[ThreadHub]:
    with start_hub_thread(tmp_path / "hub") as running:
        yield running


def _admin_dsn(hub: ThreadHub) -> str:
    scheme, _, rest = hub.base_url.partition("://")
    return f"{scheme}://{hub.admin_key}@{rest}"


def test_push_to_creates_a_notification_the_hub_lists(real_hub: ThreadHub) -> None:
    hub = real_hub
    dsn = _admin_dsn(hub)
    made = pushlog.push_to(
        users=[42, "43"],
        title="Your token: hunter2",
        body="password=hunter2 stays: it is the user's own text",
        data={"order": "A-1", "api_key": "sk_live_abcdefghijklmnop"},
        delay="1h",
        dsn=dsn,
    )
    assert made["status"] == "scheduled" and made["audience"] == {"users": ["42", "43"]}
    with hub.client(hub.admin_key) as http:
        listed = http.get("/v1/notifications").json()["notifications"]
    assert [n["id"] for n in listed] == [made["id"]]
    again = pushlog.push_to(users=[42], title="x", idempotency_key=made["idempotency_key"], dsn=dsn)
    assert again["id"] == made["id"]


def test_the_request_redacts_data_and_keeps_the_text() -> None:
    request = notification_request(
        segment="pro",
        title="password=hunter2",
        data={"token": "abc123secret", "order": "A-1"},
        local_time="09:00",
        date=_dt.date(2027, 1, 4),
    )
    assert request["title"] == "password=hunter2"
    assert request["data"]["order"] == "A-1" and request["data"]["token"] != "abc123secret"
    assert request["schedule"] == {"local_time": "09:00", "date": "2027-01-04"}
    assert len(request["idempotency_key"]) == 36


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "x"}, "name an audience"),
        ({"users": [1]}, "either template= or title="),
        ({"users": [1], "title": "x", "template": "t"}, "either template= or title="),
        ({"users": [1], "title": "x", "at": _dt.datetime(2027, 1, 1)}, "aware datetime"),
    ],
)
def test_bad_calls_raise_send_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(pushlog.SendError, match=message):
        pushlog.push_to(dsn="http://pl_users_x@127.0.0.1:9", **fields)


def test_the_users_dsn_comes_first() -> None:
    env = {
        "PUSHLOG_USERS_DSN": "http://pl_users_a@hub.example",
        "PUSHLOG_DSN": "http://pl_publish_b@hub.example",
    }
    assert users_dsn(None, env).key == "pl_users_a"
