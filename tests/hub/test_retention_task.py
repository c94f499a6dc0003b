"""The hub runs retention itself: with its injected clock moved past the retention age, a pass
deletes the old events (and their deliveries) while younger ones and the feed keep working."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, publish, wait_until

DAY = 86400.0


def _titles(hub: ThreadHub) -> set[str]:
    with hub.client(hub.read_key) as client:
        response = client.get("/v1/events", params={"limit": 200})
    assert response.status_code == 200, response.text
    return {event["title"] for event in response.json()["events"]}


def test_hub_deletes_expired_events_on_its_clock(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = FakeClock()
    hub = hub_factory(clock=clock.as_utc(), retention=7 * DAY, retention_channels={"audit": 30 * DAY})
    task: Any = hub.app.state.retention
    publish(
        hub, {"title": "old", "level": "info"}, {"title": "old audit", "level": "info", "channel": "audit"}
    )
    clock.advance(5 * DAY)
    publish(hub, {"title": "young", "level": "info"})
    clock.advance(3 * DAY)  # "old" is 8 days old now, "young" 3
    done = task.passes
    task.request_pass()
    wait_until(lambda: task.passes > done, timeout=10, what="a retention pass")
    assert _titles(hub) == {"young", "old audit"}
