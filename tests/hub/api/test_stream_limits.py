"""Live streams are capped per key and in total: 429 too_many_streams with Retry-After, and a slot
comes back when its stream ends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import httpx
from tests.support.hub_server import ThreadHub, wait_until


@contextlib.contextmanager
def streaming(hub: ThreadHub, key: str) -> Iterator[httpx.Response]:
    with (
        hub.client(key, timeout=httpx.Timeout(10.0, read=30.0)) as client,
        client.stream("GET", "/v1/stream") as response,
    ):
        assert response.status_code == 200
        yield response


def refused(hub: ThreadHub, key: str) -> httpx.Response:
    with hub.client(key) as client:
        return client.get("/v1/stream")


def new_read_key(hub: ThreadHub) -> str:
    with hub.client(hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": f"r-{uuid.uuid4().hex[:6]}", "scope": "read"})
    return str(made.json()["secret"])


def test_streams_per_key_and_in_total_are_capped_and_slots_come_back(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    running = hub_factory(max_streams=3, max_streams_per_key=2)
    other, third = new_read_key(running), new_read_key(running)
    slots = running.app.state.hub.streams
    with contextlib.ExitStack() as stack:
        stack.enter_context(streaming(running, running.read_key))
        stack.enter_context(streaming(running, running.read_key))
        per_key = refused(running, running.read_key)
        assert per_key.status_code == 429
        assert per_key.headers["Retry-After"] == "30"
        assert per_key.json()["error"]["code"] == "too_many_streams"
        assert "this key already has 2 live streams" in per_key.json()["error"]["message"]

        stack.enter_context(streaming(running, other))  # another key still gets one: 3 in total
        total = refused(running, third)
        assert total.status_code == 429
        assert "the hub already serves 3 live streams" in total.json()["error"]["message"]
        with running.client(running.publish_key) as client:  # publishing is not affected
            assert client.post("/v1/events", json={"events": [{"title": "still in"}]}).status_code == 202

    wait_until(lambda: slots.live == 0, timeout=10, what="slots released after the streams closed")
    with streaming(running, third):
        pass
