"""Rules over the event stream end to end: the real client, a real hub under uvicorn with an injected
clock, and the RFC 8030 Web Push stand-in that decrypts what the phone would show.

Each rule kind: a recovery (``resolves=``), a heartbeat's return and a quiet time replace the alert's
notification in place (same ``Topic``); ``pushlog.expect`` declares an expectation whose miss is
pushed and whose return resolves it; a threshold holds its matching events back from the phones,
survives a hub restart in the middle of its window, pushes once and re-arms.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.clock import FakeClock
from tests.support.hub_server import ThreadHub, start_hub_thread, wait_until
from tests.support.push_service import PushService, ReceivedPush

import pushlog
from pushlog import Client
from pushlog.hub.store import rules as rule_store
from pushlog.hub.store._tables import deliveries, events

MIN = 60.0
START = _dt.datetime(2026, 11, 21, 6, 0, tzinfo=_dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


class Rig:
    """A hub on the fake clock with one subscribed phone; restartable on the same data directory."""

    def __init__(self, data_dir: Path, clock: FakeClock, push_service: PushService) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.push_service = push_service
        self.phone = push_service.subscribe()
        self.hub = self._start()
        with self.hub.client(self.hub.read_key) as http:
            answer = http.post(
                "/v1/devices", json={"kind": "webpush", "subscription": self.phone.subscription()}
            )
        assert answer.status_code == 201, answer.text

    def _start(self) -> ThreadHub:
        hub = start_hub_thread(
            self.data_dir,
            clock=self.clock.as_utc(),
            allow_private_endpoints=True,
            rules_interval=86400.0,  # passes run when a test asks (rules_pass)
            critical_repeat_interval=3600.0,  # no re-push round falls inside a test's steps
            critical_expiry=7200.0,
        )
        task = hub.app.state.rules
        wait_until(lambda: task.passes >= 1, timeout=10, what="the rules' first pass")
        return hub

    def restart(self) -> None:
        self.hub.stop()
        self.hub = self._start()

    def client(self) -> Client:
        return Client(self.hub.dsn, linger=0.0)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def rules_pass(self) -> None:
        task = self.hub.app.state.rules
        before = task.passes
        task.request_run()
        wait_until(lambda: task.passes > before, timeout=10, what="a rules pass")

    def pushes(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` accepted pushes (waits for them), as the phone decrypted them."""
        received: list[ReceivedPush] = self.push_service.wait_for(count, status=201)
        self.received = received
        return [push.payload for push in received[:count]]

    def topics(self) -> list[str | None]:
        return [push.headers.get("topic") for push in self.received]

    def put_rule(self, name: str, rule: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        with self.hub.client(key or self.hub.admin_key) as http:
            answer = http.put(f"/v1/rules/{name}", json=rule)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def rule(self, name: str) -> dict[str, Any]:
        with self.hub.client(self.hub.read_key) as http:
            answer = http.get(f"/v1/rules/{name}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def feed(self) -> list[dict[str, Any]]:
        with self.hub.client(self.hub.read_key) as http:
            answer = http.get("/v1/events")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["events"])

    def db_write(self) -> Any:
        return self.hub.app.state.hub.require_engine().begin()

    def db(self, query: Callable[[sa.Connection], Any]) -> Any:
        with self.hub.app.state.hub.require_engine().connect() as conn:
            return query(conn)

    def stop(self) -> None:
        self.hub.stop()


@pytest.fixture
def rig(tmp_path: Path, clock: FakeClock, push_service: PushService) -> Iterator[Rig]:
    running = Rig(tmp_path / "hub", clock, push_service)
    yield running
    running.stop()


def send(client: Client, call: Callable[..., str | None], title: str, **fields: Any) -> str:
    """``pushlog.log/notify/critical`` through ``client`` (the default client for the call), flushed."""
    pushlog.set_default_client(client)
    try:
        event_id = call(title, **fields)
        assert client.flush(10)
    finally:
        pushlog.set_default_client(None)
    assert event_id is not None
    return event_id


def test_a_recovery_naming_the_alert_replaces_its_push_in_place_and_stops_critical_repeats(rig: Rig) -> None:
    client = rig.client()
    try:
        alert_id = send(
            client, pushlog.critical, "Payments failing", body="gateway 502", fingerprint="payments-gateway"
        )
        (first,) = rig.pushes(1)
        assert (first["event_id"], first["title"], first["level"]) == (
            alert_id,
            "Payments failing",
            "critical",
        )
        rig.advance(14 * MIN)
        recovery_id = send(client, pushlog.log, "Payments back", resolves="payments-gateway")
    finally:
        client.close()

    first, second = rig.pushes(2)
    assert second["event_id"] == alert_id, "the alert's own notification, not a new one"
    assert (second["title"], second["body"], second["data"]["resolved"]) == (
        "Resolved: Payments failing",
        "resolved after 14 min",
        True,
    )
    assert second["tag"] == first["tag"] == "payments-gateway"
    assert rig.topics() == ["payments-gateway", "payments-gateway"], "same Web Push Topic: replaced in place"
    assert (second["require_interaction"], second["level"]) == (False, "info"), "informational, not sticky"
    assert [a["action"] for a in second["actions"]] == ["open"], "nothing left to acknowledge"

    lines = {line["id"]: line for line in rig.feed()}
    alert, recovery = lines[alert_id], lines[recovery_id]
    assert alert["resolved_at"] == "2026-11-21T06:14:00.000000Z"
    assert (alert["resolved_after_s"], alert["resolved_by"]) == (840.0, f"event:{recovery_id}")
    assert recovery["resolves"] == "payments-gateway" and recovery["push"] is False
    repeat_next_at = rig.db(
        lambda c: c.execute(sa.select(events.c.repeat_next_at).where(events.c.id == alert_id)).scalar()
    )
    assert repeat_next_at is None, "a resolved CRITICAL is not re-pushed"
    # a second recovery finds nothing open: no third push
    rounds = rig.db(lambda c: c.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar())
    assert rounds == 2


def test_a_heartbeat_checking_in_again_replaces_the_overdue_push(rig: Rig) -> None:
    with rig.hub.client(rig.hub.publish_key) as http:
        assert http.post("/v1/heartbeats/backup", json={"every": "1m", "grace": "1m"}).status_code == 200
        rig.advance(3 * MIN)
        monitor = rig.hub.app.state.heartbeat_monitor
        before = monitor.checks
        monitor.request_check()
        wait_until(lambda: monitor.checks > before, timeout=10, what="a heartbeat check")
        (overdue,) = rig.pushes(1)
        assert overdue["title"] == "backup is overdue"
        rig.advance(2 * MIN)
        assert http.post("/v1/heartbeats/backup").status_code == 200
    overdue, resolved = rig.pushes(2)
    assert resolved["event_id"] == overdue["event_id"]
    assert (resolved["title"], resolved["body"]) == ("Resolved: backup is overdue", "resolved after 2 min")
    assert rig.topics()[0] == rig.topics()[1] is not None


def test_a_resolve_rule_resolves_alerts_after_their_quiet_time(rig: Rig) -> None:
    rule = rig.put_rule(
        "payments quiet", {"kind": "resolve", "match": {"channel": "payments"}, "quiet": "10m"}
    )
    assert (rule["state"], rule["quiet_s"], rule["source"]) == ("active", 600.0, "api")
    client = rig.client()
    try:
        alert_id = send(
            client, pushlog.notify, "Card gateway slow", channel="payments", fingerprint="gw-slow"
        )
        other_id = send(client, pushlog.notify, "Disk 91%", channel="ops", fingerprint="disk")
        rig.pushes(2)
        rig.advance(5 * MIN)
        rig.rules_pass()
        assert all(line["resolved_at"] is None for line in rig.feed())
        rig.advance(5 * MIN)
        rig.rules_pass()
    finally:
        client.close()
    pushes = rig.pushes(3)
    assert (pushes[2]["event_id"], pushes[2]["body"]) == (alert_id, "resolved after 10 min")
    lines = {line["id"]: line for line in rig.feed()}
    assert lines[alert_id]["resolved_by"] == "quiet:payments quiet"
    assert lines[other_id]["resolved_at"] is None, "another channel's alert is not the rule's"


def test_an_expectation_declared_from_python_is_pushed_when_missed_and_resolved_when_back(rig: Rig) -> None:
    client = rig.client()
    try:
        declared = pushlog.expect(
            "nightly backup finished", every="1d", grace="1h", channel="backup", client=client
        )
        assert declared.wait(10), declared.error
        again = pushlog.expect(
            "nightly backup finished", every="1d", grace="1h", channel="backup", client=client
        )
        assert again.wait(10), again.error
        rule = rig.rule("nightly backup finished")
        assert (rule["kind"], rule["source"], rule["state"], rule["level"]) == (
            "expect",
            "client",
            "waiting",
            "error",
        )
        assert rule["due_at"] == "2026-11-22T07:00:00.000000Z"
        assert len(rule["history"]) == 1, "declaring the same expectation again changes nothing"

        rig.advance(25 * 3600 - 1)
        rig.rules_pass()
        assert rig.rule("nightly backup finished")["state"] == "waiting"
        rig.advance(1)
        rig.rules_pass()
        (missed,) = rig.pushes(1)
        assert (missed["title"], missed["level"]) == ("nightly backup finished: not seen for 25 h", "error")
        rig.rules_pass()  # idempotent: still one alert

        rig.advance(2 * 3600)
        back_id = send(client, pushlog.log, "nightly backup finished in 42s", channel="backup")
    finally:
        client.close()
    missed, resolved = rig.pushes(2)
    assert resolved["event_id"] == missed["event_id"]
    assert (resolved["title"], resolved["body"]) == (
        "Resolved: nightly backup finished: not seen for 25 h",
        "resolved after 2 h",
    )
    assert rig.topics()[0] == rig.topics()[1]
    rule = rig.rule("nightly backup finished")
    assert (rule["state"], rule["alert_event_id"]) == ("ok", None)
    assert [(h["previous"], h["state"]) for h in rule["history"]] == [
        ("missed", "ok"),
        ("waiting", "missed"),
        (None, "waiting"),
    ]
    assert rule["due_at"] == "2026-11-23T10:00:00.000000Z", "the next deadline counts from the line"
    assert (rule["history"][0]["detail"], rule["history"][0]["event_id"]) == ("seen again", back_id)


def test_a_threshold_survives_a_restart_in_its_window_pushes_once_and_rearms(rig: Rig) -> None:
    rig.put_rule(
        "declines",
        {
            "kind": "threshold",
            "match": {"text": "payment declined", "level": "warning"},
            "count": 5,
            "within": "5m",
            "level": "error",
        },
    )
    client = rig.client()
    try:
        for n in range(3):
            send(client, pushlog.notify, f"payment declined for order {n}")
    finally:
        client.close()
    assert all(line["push"] is False for line in rig.feed()), "below the threshold: feed only"

    rig.restart()
    rig.advance(2 * MIN)
    client = rig.client()
    try:
        ids = [send(client, pushlog.notify, f"payment declined for order {n}") for n in range(3, 6)]
    finally:
        client.close()
    (alert,) = rig.pushes(1)
    assert (alert["title"], alert["level"]) == ("payment declined \u00d75 in 5 min", "error")
    stored = {line["id"]: line for line in rig.feed()}[alert["event_id"]]
    assert len(stored["metadata"]["linked"]) == 5 and ids[:2] == stored["metadata"]["linked"][3:]
    rule = rig.rule("declines")
    assert (rule["state"], rule["alert_event_id"]) == ("firing", alert["event_id"])

    rig.advance(4 * MIN)  # the first three leave the window; three remain: below 5, re-armed
    rig.rules_pass()
    alert, resolved = rig.pushes(2)
    assert (resolved["event_id"], resolved["body"]) == (alert["event_id"], "resolved after 4 min")
    assert rig.rule("declines")["state"] == "ok"
    pushed = rig.db(lambda c: c.execute(sa.select(deliveries.c.event_id).distinct()).scalars().all())
    assert pushed == [alert["event_id"]], "only the threshold's alert reached the phone"


def test_a_threshold_with_a_rate_fires_only_at_that_multiple_of_the_usual_count(rig: Rig) -> None:
    client = rig.client()
    try:  # yesterday at this time: 14 in the window, so over the 7 days before, 2 on average
        for n in range(14):
            send(client, pushlog.log, f"payment declined for order y{n}")
        rig.advance(24 * 3600)
        rig.put_rule(
            "declines",
            {
                "kind": "threshold",
                "match": {"text": "payment declined"},
                "count": 3,
                "within": "5m",
                "rate": 3,
            },
        )
        assert rig.rule("declines")["rate"] == 3.0
        for n in range(5):  # above count, below 3 x 2
            send(client, pushlog.log, f"payment declined for order {n}")
        assert rig.rule("declines")["state"] == "ok"
        send(client, pushlog.log, "payment declined for order 5")
    finally:
        client.close()
    (alert,) = rig.pushes(1)
    assert alert["title"] == "payment declined \u00d76 in 5 min"
    stored = {line["id"]: line for line in rig.feed()}[alert["event_id"]]
    assert "(threshold 3, 3x the usual 2)" in stored["body"] and stored["metadata"]["usual"] == 2.0
    assert rig.rule("declines")["state"] == "firing"


def test_an_unacknowledged_critical_escalates_group_by_group_until_acknowledged(rig: Rig) -> None:
    oncall, managers = rig.push_service.subscribe(), rig.push_service.subscribe()
    with rig.hub.client(rig.hub.read_key) as http:
        for name, phone in (("bob-phone", oncall), ("carol-phone", managers)):
            answer = http.post(
                "/v1/devices",
                json={
                    "kind": "webpush",
                    "name": name,
                    "subscription": phone.subscription(),
                    "preferences": {"channels": ["nothing-by-default"]},  # only what escalation sends
                },
            )
            assert answer.status_code == 201, answer.text
    with rig.db_write() as conn:
        rule_store.set_group(conn, "oncall-2", ["bob-phone"])
        rule_store.set_group(conn, "managers", ["carol-phone"])
    rig.put_rule(
        "oncall",
        {
            "kind": "escalate",
            "match": {"level": "critical"},
            "steps": [{"after": "10m", "group": "oncall-2"}, {"after": "30m", "group": "managers"}],
        },
    )
    client = rig.client()
    try:
        first = send(client, pushlog.critical, "Payments failing", fingerprint="pay")
        second = send(client, pushlog.critical, "Disk full", fingerprint="disk")
    finally:
        client.close()
    rig.pushes(2)  # the team's phone, round 0 of each

    rig.advance(10 * MIN)
    rig.rules_pass()
    pushes = rig.push_service.wait_for(4, status=201)
    step_one = [(p.subscription_id, p.payload["event_id"]) for p in pushes[2:]]
    bob = oncall.endpoint.rsplit("/", 1)[1]
    assert sorted(step_one) == sorted([(bob, first), (bob, second)]), "step 1: both to oncall-2"

    with rig.hub.client(rig.hub.read_key) as http:  # acknowledged anywhere: every step stops
        assert http.post(f"/v1/events/{first}/ack").status_code == 200
    rig.advance(20 * MIN)
    rig.rules_pass()
    pushes = rig.push_service.wait_for(5, status=201)
    carol = managers.endpoint.rsplit("/", 1)[1]
    assert [(p.subscription_id, p.payload["event_id"]) for p in pushes[4:]] == [(carol, second)]
    rig.rules_pass()
    history = [(h["state"], h["event_id"], (h["detail"] or "")[:22]) for h in rig.rule("oncall")["history"]]
    assert sorted(history, key=str) == sorted(
        [
            ("active", None, "declared (api)"),
            ("escalated", first, "step 1: group oncall-2"),
            ("escalated", second, "step 1: group oncall-2"),
            ("stopped", first, "acknowledged (key:boot"),
            ("escalated", second, "step 2: group managers"),
        ],
        key=str,
    ), "each step recorded once, the acknowledged one stopped"
    assert len(rig.push_service.wait_for(5, status=201)) == 5


def test_a_paused_rule_is_not_evaluated_and_an_expectation_resumes_afresh(rig: Rig) -> None:
    expect_rule = {"kind": "expect", "every": "1h", "grace": "10m", "match": {"text": "import done"}}
    threshold = {"kind": "threshold", "count": 2, "within": "10m", "match": {"text": "declined"}}
    rig.put_rule("import", {**expect_rule, "paused": True})
    rig.put_rule("declines", {**threshold, "paused": True})
    assert rig.rule("import")["paused"] is True

    client = rig.client()
    try:
        send(client, pushlog.log, "import done: 12 rows")
        for _ in range(3):
            send(client, pushlog.notify, "card declined")
    finally:
        client.close()
    rig.advance(3 * 3600)  # far past the expectation's deadline
    rig.rules_pass()
    assert (rig.rule("import")["state"], rig.rule("declines")["state"]) == ("waiting", "ok")
    assert rig.rule("declines")["alert_event_id"] is None, "three matches of two-in-10m, yet not firing"

    resumed = rig.put_rule("import", expect_rule)
    assert resumed["paused"] is False
    assert resumed["due_at"] == "2026-11-21T10:10:00.000000Z", "a fresh deadline from the resume"
    rig.rules_pass()
    assert rig.rule("import")["state"] == "waiting", "a pause is no reason to call it missed"
    assert [(h["state"], h["detail"]) for h in rig.rule("import")["history"]] == [
        ("waiting", "resumed (api)"),
        ("waiting", "declared (api)"),
    ]
