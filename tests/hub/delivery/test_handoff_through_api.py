"""The first pushes of an ingest, through a whole hub: prepared while the ingest commits, posted only
once it has. A commit that fails sends nothing to the push service."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from tests.hub.delivery.outbox_support import FakeSender
from tests.support.hub_server import ThreadHub, wait_until
from tests.support.push_service import PushService, Subscriber

from pushlog.hub.delivery._base import Prepared, PushMessage

_INSERT_EVENTS = re.compile(r"\s*INSERT\s+INTO\s+\"?events\"?\s", re.IGNORECASE)


def register(hub: ThreadHub, phone: Subscriber) -> None:
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json={"kind": "webpush", "subscription": phone.subscription()})
    assert answer.status_code == 201, answer.text


def publish(hub: ThreadHub, title: str) -> int:
    event = {"id": str(uuid.uuid4()), "ts": "2026-01-01T12:00:00Z", "level": "error", "title": title}
    with hub.client(hub.publish_key) as client:
        return client.post("/v1/events", json={"events": [event]}).status_code


def on_ingest_commit(hub: ThreadHub, action: Callable[[], None]) -> None:
    """Run ``action`` in the writer thread when a transaction that inserted events commits, before
    the database commits it (raising from it fails the commit)."""
    engine: sa.Engine = hub.app.state.hub.engine

    def mark(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if _INSERT_EVENTS.match(statement):
            conn.info["ingest"] = True

    def commit(conn: sa.Connection) -> None:
        if conn.info.pop("ingest", False):
            action()

    sa.event.listen(engine, "before_cursor_execute", mark)
    sa.event.listen(engine, "commit", commit)


def test_a_failed_ingest_commit_sends_nothing(
    hub_factory: Callable[..., ThreadHub], push_service: PushService
) -> None:
    hub = hub_factory(allow_private_endpoints=True)
    register(hub, push_service.subscribe())
    fail = {"next": True}

    def fail_once() -> None:
        if fail.pop("next", False):
            raise sa.exc.OperationalError("COMMIT", None, Exception("disk I/O error"))

    on_ingest_commit(hub, fail_once)
    assert publish(hub, "never committed") >= 500
    assert publish(hub, "marker") == 202
    pushes = push_service.wait_for(1)
    assert [p.payload["title"] for p in pushes] == ["marker"]  # the marker went; the other never


class Preparing(FakeSender):
    """Tells the writer thread when the loop has prepared a push."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared_now = threading.Event()

    async def prepare(self, target: Any, message: PushMessage) -> Prepared:
        prepared = await super().prepare(target, message)
        self.prepared_now.set()
        return prepared


def test_the_first_push_is_prepared_while_the_ingest_commits(hub_factory: Callable[..., ThreadHub]) -> None:
    sender = Preparing()
    hub = hub_factory(allow_private_endpoints=True, senders={"webpush": sender})
    register(hub, Subscriber(endpoint="http://127.0.0.1:9/push/never-reached"))  # a fake sender posts
    seen: list[tuple[bool, int]] = []

    def wait_for_the_prepare() -> None:  # the commit waits: the loop prepares meanwhile
        seen.append((sender.prepared_now.wait(timeout=10), len(sender.sent)))

    on_ingest_commit(hub, wait_for_the_prepare)
    assert publish(hub, "Disk full") == 202
    assert seen == [(True, 0)]  # prepared before the commit, posted only after it
    wait_until(lambda: len(sender.sent) == 1, timeout=10, what="the push to be posted")


class Ordering(FakeSender):
    """Notes, when a push is posted, whether the streams were already told of its event (the
    broker's generation moves when they are)."""

    def __init__(self, hub_state: Callable[[], Any]) -> None:
        super().__init__()
        self.hub_state = hub_state
        self.generations: list[int] = []

    async def send(self, target: Any, message: PushMessage) -> Any:
        self.generations.append(self.hub_state().broker.generation)
        return await super().send(target, message)


def test_the_first_push_leaves_before_the_streams_are_told_and_the_202(
    hub_factory: Callable[..., ThreadHub],
) -> None:
    holder: dict[str, ThreadHub] = {}
    sender = Ordering(lambda: holder["hub"].app.state.hub)
    hub = holder["hub"] = hub_factory(allow_private_endpoints=True, senders={"webpush": sender})
    register(hub, Subscriber(endpoint="http://127.0.0.1:9/push/never-reached"))  # a fake sender posts
    before = hub.app.state.hub.broker.generation
    assert publish(hub, "Disk full") == 202
    wait_until(lambda: len(sender.sent) == 1, timeout=10, what="the push to be posted")
    assert sender.generations == [before]  # posted while the streams had not yet been told
    assert hub.app.state.hub.broker.generation > before  # and told since
