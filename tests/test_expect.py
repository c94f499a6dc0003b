"""``pushlog.expect()`` and the ``resolves`` reserved keyword on the client side: the declaration is
one PUT through the client's transport (off the calling thread), idempotent to repeat, and never
raises; ``resolves=`` is an event field (the three calls and ``extra=``), not metadata."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

import pushlog
from pushlog import Client
from pushlog.testing import capture_events


def test_expect_declares_the_rule_with_one_put_off_the_calling_thread() -> None:
    seen: list[tuple[str, str, dict[str, object], str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(
            (request.method, request.url.path, json.loads(request.content), threading.current_thread().name)
        )
        return httpx.Response(200, json={})

    client = Client("http://pl_k@hub.invalid", transport=httpx.MockTransport(answer), linger=0.0)
    try:
        registration = pushlog.expect(
            "nightly backup finished",
            every="1d",
            grace="1h",
            channel="backup",
            meta={"job": "backup"},
            client=client,
        )
        assert registration.wait(5) and registration.error is None
    finally:
        client.close()
    ((method, path, body, thread),) = seen
    assert (method, path) == ("PUT", "/v1/rules/nightly backup finished")
    assert body == {
        "kind": "expect",
        "match": {"text": "nightly backup finished", "channel": "backup", "meta": {"job": "backup"}},
        "every": 86400.0,
        "grace": 3600.0,
        "level": "error",
    }
    assert thread == "pushlog-expect"


def test_expect_never_raises(capsys: pytest.CaptureFixture[str]) -> None:
    refused = Client(
        "http://pl_k@hub.invalid",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(403, json={"error": {"code": "forbidden", "message": "no"}})
        ),
        linger=0.0,
    )
    try:
        assert not pushlog.expect("x", every="1h", client=refused).wait(5)
        assert not pushlog.expect("x", every="soon", client=refused).wait(5)
        assert not pushlog.expect("", every="1h", client=refused).wait(5)
    finally:
        refused.close()
    err = capsys.readouterr().err
    assert "hub refused the request (403" in err and "every" in err and "text must be" in err
    with capture_events():  # in users' tests nothing is declared
        assert pushlog.expect("x", every="1h", client=Client(None)).wait(1) is False


def test_resolves_is_an_event_field_of_the_calls_and_of_extra() -> None:
    logger = logging.getLogger("test_expect.resolves")
    logger.propagate = False
    client = Client(None)
    handler = pushlog.PushHandler(client=client)
    logger.addHandler(handler)
    try:
        with capture_events() as events:
            pushlog.log("Payments back", resolves="payments-gateway", region="eu")
            logger.warning("Gateway back", extra={"resolves": "gw"})
            logger.warning("Gateway slow")  # the logging thread's fast path: no resolves, still a wire form
    finally:
        logger.removeHandler(handler)
    first, second, third = events
    assert third.resolves is None and "resolves" not in third.to_wire()
    assert (first.resolves, first.metadata) == ("payments-gateway", {"region": "eu"})
    assert first.to_wire()["resolves"] == "payments-gateway"
    assert second.resolves == "gw" and "resolves" not in second.metadata
    assert "resolves" not in pushlog.Event(title="plain").to_wire(), (
        "absent unless set: the wire stays as it was"
    )
