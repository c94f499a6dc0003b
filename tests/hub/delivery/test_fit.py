"""One cutting rule for every transport: the body goes first; title, link and actions stay.

Each transport's rendering of the same oversize push is checked against its own limit: Web Push
(3993 bytes of plaintext, 4096 once encrypted), FCM (4096-byte message) and APNs (4096-byte payload).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.push_service import Subscriber

from pushlog._event import TRUNCATION_MARKER
from pushlog._levels import Level
from pushlog.hub.delivery import Action, PushContent, PushMessage
from pushlog.hub.delivery._fit import Spliced, dumps, fit
from pushlog.hub.delivery.apns._payload import MAX_PAYLOAD_BYTES
from pushlog.hub.delivery.apns._payload import render as apns_render
from pushlog.hub.delivery.fcm._message import MAX_MESSAGE_BYTES
from pushlog.hub.delivery.fcm._message import render as fcm_render
from pushlog.hub.delivery.webpush import MAX_PLAINTEXT, encrypt
from pushlog.hub.delivery.webpush import render as webpush_render
from pushlog.hub.delivery.webpush._payload import Renderer

URL = "https://hub.example/#/events/e1"
LINK = "https://example.com/runbook"
ACTIONS = (
    Action(id="retry", title="Retry", url="https://example.com/retry"),
    Action(id="ack", title="Acknowledge"),
)


def content(body: str, **fields: Any) -> PushContent:
    values: dict[str, Any] = {
        "title": "Payments failing",
        "body": body,
        "level": Level.CRITICAL,
        "url": URL,
        "link": LINK,
        "actions": ACTIONS,
        "refs": {"event_id": "e1"},
    }
    values.update(fields)
    return PushContent(**values)


def message(c: PushContent) -> PushMessage:
    return PushMessage(delivery_id="d1", content=c, ttl=600, receipt="r" * 43)


def webpush_doc(m: PushMessage) -> tuple[int, dict[str, Any]]:
    data = webpush_render(m)
    ua = Subscriber(endpoint="https://push.example.net/x")
    assert len(encrypt(data, p256dh=ua.p256dh, auth=ua.auth)) <= 4096  # what the push service measures
    return len(data), json.loads(data)


JSON_VALUES = ("actions", "data", "truncated")


def fcm_doc(m: PushMessage) -> tuple[int, dict[str, Any]]:
    data = fcm_render("tok", m)
    message_ = json.loads(data)["message"]
    assert len(data) <= MAX_MESSAGE_BYTES
    doc = {
        k: json.loads(v) if k in ("actions", "data", "truncated") else v for k, v in message_["data"].items()
    }
    return len(data), {**doc, **message_["notification"]}


def apns_doc(m: PushMessage) -> tuple[int, dict[str, Any]]:
    data = apns_render(m, critical_entitled=False)
    assert len(data) <= MAX_PAYLOAD_BYTES
    payload = json.loads(data)
    return len(data), {**payload, **payload["aps"]["alert"]}


TRANSPORTS: dict[str, tuple[Callable[[PushMessage], tuple[int, dict[str, Any]]], int]] = {
    "webpush": (webpush_doc, MAX_PLAINTEXT),
    "fcm": (fcm_doc, MAX_MESSAGE_BYTES),
    "apns": (apns_doc, MAX_PAYLOAD_BYTES),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_small_push_is_sent_whole(transport: str) -> None:
    render, _ = TRANSPORTS[transport]
    _, doc = render(message(content("short", image="https://example.com/i.png", data={"order": "A-1"})))
    assert doc["body"] == "short" and "truncated" not in doc
    assert doc["image"] == "https://example.com/i.png" and doc["data"] == {"order": "A-1"}


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_long_body_is_cut_keeping_title_link_and_actions(transport: str, char: str) -> None:
    render, limit = TRANSPORTS[transport]
    size, doc = render(message(content(char * 8000, image="https://example.com/i.png")))
    assert size > limit - 8 - len(json.dumps(char)) * 2  # the body was cut no shorter than needed
    assert doc["title"] == "Payments failing" and doc["url"] == URL and doc["link"] == LINK
    assert [a["action"] for a in doc["actions"]] == ["retry", "ack"]
    assert doc["image"] == "https://example.com/i.png"
    assert doc["truncated"] is True
    assert doc["body"].endswith(TRUNCATION_MARKER) and doc["body"].startswith(char * 100)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_when_no_body_fits_image_then_data_then_actions_go_and_title_and_link_stay(transport: str) -> None:
    render, _ = TRANSPORTS[transport]
    big_data = {"blob": "d" * 2000}
    image = "https://example.com/" + "i" * 2000
    link = "https://example.com/" + "l" * 2000
    _, doc = render(message(content("b" * 100, image=image, data=big_data, link=link)))
    assert "image" not in doc and "data" not in doc
    assert doc["title"] == "Payments failing" and doc["link"] == link and doc["url"] == URL
    assert doc["body"] == "" and doc["truncated"] is True


def test_the_rule_drops_image_data_actions_link_in_that_order_and_the_url_always_stays() -> None:
    title = "Payments failing at checkout for every customer in the EU"
    base = content("x" * 50, title=title, image="https://i.example/" + "i" * 500, data={"k": "v" * 500})

    def render(c: PushContent) -> bytes:
        return dumps(message(c).document(c))

    no_image = dataclasses.replace(base, body="", truncated=True, image=None)
    no_data = dataclasses.replace(no_image, data={})
    no_actions = dataclasses.replace(no_data, actions=())
    no_link = dataclasses.replace(no_actions, link=None)
    steps = [
        json.loads(fit(base, limit=len(render(step)), render=render))
        for step in (no_image, no_data, no_actions, no_link)
    ]
    assert ["image" in s for s in steps] == [False] * 4
    assert ["data" in s for s in steps] == [True, False, False, False]
    assert [len(s["actions"]) for s in steps] == [2, 2, 0, 0]
    assert [s["link"] for s in steps] == [LINK, LINK, LINK, None]
    assert all(s["title"] == title and s["url"] == URL for s in steps)
    tight = json.loads(fit(base, limit=len(render(no_link)) - 10, render=render))
    assert (
        tight["title"] == title[: len(title) - 10 - len(TRUNCATION_MARKER.encode())] + TRUNCATION_MARKER
        and tight["url"] == URL
    )
    with pytest.raises(ValueError, match="does not fit"):
        fit(base, limit=100, render=render)


FAN_OUT = [
    content("short"),
    content('quotes " and \\ backslashes, é and 😀 in the body', title="Ünïcode \u2028 title"),
    content("with everything", image="https://example.com/i.png", data={"order": "A-1"}, truncated=True),
    content("x" * 3500),  # fits whole only with a short receipt: the Renderer falls back to fitting
    content("no refs", refs={}),
]


@pytest.mark.parametrize("pushed", FAN_OUT)
def test_a_fan_outs_renderer_gives_render_s_bytes_for_every_delivery(pushed: PushContent) -> None:
    renderer = Renderer()
    messages = [
        PushMessage(delivery_id=f"dl_{i:020x}", content=pushed, ttl=600, receipt=receipt, round=round_)
        for i, (receipt, round_) in enumerate([("r" * 43, 0), ("s" * 43, 2), (None, 0), ("t" * 300, 1)])
    ]
    for m in messages * 2:  # the second time from the kept encoding
        assert renderer(m) == webpush_render(m)
    assert len({renderer(m) for m in messages}) == len(messages)


def test_spliced_fills_exactly_what_dumps_gives_and_refuses_values_it_lacks() -> None:
    document = {"v": 1, "delivery_id": "x", "title": 'a "b" \\ é', "round": 0, "data": {"k": [1, 2]}}
    spliced = Spliced.build(document, ("delivery_id", "round"))
    assert spliced is not None
    values = {"delivery_id": 'dl_é"1', "round": 3}
    assert spliced.fill(values) == dumps({**document, **values})
    assert Spliced.build(document, ("receipt",)) is None
