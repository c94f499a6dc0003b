"""Several real ``pushlog serve`` processes on one real PostgreSQL (docs/deploy.md, "Several hubs on one
database"): live streams see each other's events, acknowledgements and resolutions, a ``kill -9`` at
any moment loses no delivery and runs no CRITICAL round twice, the periodic duties move to a
surviving process, and ``--workers N`` runs N processes on one port."""

from __future__ import annotations

import collections
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.support.hub_server import ProcessHub, RunningHub, publish, start_hub_process, wait_until
from tests.support.postgres import new_database
from tests.support.push_service import PushService
from tests.support.stream import open_stream

pytestmark = pytest.mark.slow

#: How many times the kill -9 scenario runs (each kills the process that leads the duties).
KILL_ROUNDS = 3


def _hub(data: Path, url: str, *extra: str) -> ProcessHub:
    return start_hub_process(data, args=("--allow-private-endpoints", "--db", url, *extra))


def _clean_log(hub: ProcessHub) -> None:
    log = hub.log(10_000)
    for sign in ("Traceback", "UniqueViolation", "IntegrityError", "ERROR"):
        assert sign not in log, f"{sign} in the log of hub {hub.process.pid}:\n{log}"


def _leader(engine: sa.Engine) -> int | None:
    """The pid of the hub process holding the duties' advisory lock (hub/_duties.py)."""
    with engine.connect() as conn:
        name = conn.execute(
            sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'pushlog-duties-%'"
            )
        ).scalar()
    return int(name.rsplit("-", 1)[1]) if name else None


@pytest.mark.timeout(300)
def test_a_stream_on_one_process_sees_events_acks_and_resolutions_of_another(
    pg_url: str, tmp_path: Path
) -> None:
    url = new_database(pg_url)
    data = tmp_path / "data"
    with _hub(data, url) as a, _hub(data, url) as b:
        # A's stream must be woken by B's commit: a missed wake-up would wait for the 15 s keep-alive
        with open_stream(a) as reader:  # type: ignore[arg-type]
            latencies = []
            for n in range(5):
                published = publish(b, {"title": f"from B #{n}", "level": "warning"})
                answered = time.perf_counter()  # B has committed: from here on it is the relay's time
                assert published["accepted"] == 1
                message = reader.next(kinds=("event",), timeout=10)
                latencies.append(time.perf_counter() - answered)
                assert message.data["title"] == f"from B #{n}"
            with b.client(b.read_key) as client:
                acked = client.post(f"/v1/events/{message.data['id']}/ack")
                assert acked.status_code == 200, acked.text
            ack = reader.next(kinds=("ack",), timeout=10)
            assert ack.data["id"] == message.data["id"]
            # an alert resolved by B's recovery is resolved in A's stream too
            publish(b, {"title": "gateway down", "level": "error", "push": True, "fingerprint": "gw"})
            alert = reader.next(kinds=("event",), timeout=10)
            publish(b, {"title": "gateway back", "level": "info", "resolves": "gw"})
            resolved = reader.next(kinds=("resolved",), timeout=10)
            assert (resolved.data["id"], resolved.data["seq"]) == (alert.data["id"], alert.data["seq"])
        print(f"B's 202 -> A's stream: {[round(s * 1000, 1) for s in latencies]} ms")
    _clean_log(a)
    _clean_log(b)


def _register(hub: RunningHub, subscription: dict[str, Any]) -> None:
    body = {"kind": "webpush", "subscription": subscription, "preferences": {"min_level": "warning"}}
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json=body)
    assert answer.status_code in (200, 201), answer.text


def _publish_batch(hub: RunningHub, tag: str, errors: int, criticals: int) -> list[str]:
    events = [{"id": str(uuid.uuid4()), "title": f"{tag} error {n}", "level": "error"} for n in range(errors)]
    events += [
        {"id": str(uuid.uuid4()), "title": f"{tag} critical {n}", "level": "critical"}
        for n in range(criticals)
    ]
    with hub.client(hub.publish_key) as client:
        answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == len(events)
    return [e["id"] for e in events]


@pytest.mark.timeout(900)
def test_kill_9_loses_no_delivery_doubles_none_it_had_not_sent_and_runs_no_round_twice(
    pg_url: str, tmp_path: Path
) -> None:
    url = new_database(pg_url)
    data = tmp_path / "data"
    args = ("--critical-repeat", "2", "--delivery-lease", "3", "--push-budget", "100000")
    engine = sa.create_engine(url)
    with PushService(delay=0.02) as service:
        hubs = [_hub(data, url, *args) for _ in range(3)]
        try:
            phones = [service.subscribe() for _ in range(4)]
            for n, phone in enumerate(phones):
                _register(hubs[n % len(hubs)], phone.subscription())
            errors: list[str] = []
            criticals: list[str] = []
            for repetition in range(KILL_ROUNDS):
                for n, hub in enumerate(hubs):
                    ids = _publish_batch(hub, f"r{repetition}h{n}", errors=10, criticals=1)
                    errors += ids[:-1]
                    criticals.append(ids[-1])
                leader = wait_until(lambda: _leader(engine), timeout=20, what="a duties leader")
                victim = next(h for h in hubs if h.process.pid == leader)
                victim.kill()  # kill -9 of the leader while its dispatcher is sending
                hubs.remove(victim)
                survivors = {h.process.pid for h in hubs}
                wait_until(lambda: _leader(engine) in survivors, timeout=20, what="a new leader")  # noqa: B023
                hubs.append(_hub(data, url, *args))
            # every round-0 push of every event reached every phone
            expected = len(errors + criticals) * len(phones)
            wait_until(lambda: _round_zero_received(service) >= expected, timeout=60, what="every first push")
            # let every CRITICAL run a few rounds across leaders, then acknowledge them all
            wait_until(
                lambda: _min_round(engine, criticals) >= 3, timeout=60, what="three re-push rounds each"
            )
            with hubs[0].client(hubs[0].read_key) as client:
                for event_id in criticals:
                    assert client.post(f"/v1/events/{event_id}/ack").status_code == 200
            wait_until(lambda: _queued(engine) == 0, timeout=60, what="the outbox to drain")
            for hub in hubs:
                _clean_log(hub)
        finally:
            for hub in hubs:
                hub.stop()
        rows = _deliveries(engine)
        received = collections.Counter(p.payload["delivery_id"] for p in service.received if p.status == 201)
    engine.dispose()

    assert set(received) <= set(rows), "the phones got pushes the outbox does not know"
    statuses = collections.Counter(row["status"] for row in rows.values())
    assert set(statuses) <= {"sent", "acknowledged"}, statuses
    for delivery_id, row in rows.items():
        if row["status"] == "sent":
            assert received[delivery_id] >= 1, f"lost: {row}"  # none lost
        # a push is sent again only when the process that claimed it died before recording it
        assert received[delivery_id] <= row["attempts"], row
        if row["attempts"] == 1:
            assert received[delivery_id] <= 1, row
    rounds: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for row in rows.values():
        rounds[row["event_id"]][row["round"]] += 1
    for event_id in criticals:
        made = rounds[event_id]
        assert sorted(made) == list(range(len(made))), made  # rounds 0..k, none skipped
        assert set(made.values()) == {len(phones)}, made  # each round created once, for every phone
    resent = sum(1 for row in rows.values() if row["attempts"] > 1)
    doubled = sum(1 for count in received.values() if count > 1)
    print(
        f"kill -9 x{KILL_ROUNDS}: {len(rows)} deliveries, {resent} re-claimed after a kill, "
        f"{doubled} reached a phone twice (claimed by the killed process, sent before it died)"
    )


def _round_zero_received(service: PushService) -> int:
    return len(
        {p.payload["delivery_id"] for p in service.received if p.status == 201 and p.payload["round"] == 0}
    )


def _min_round(engine: sa.Engine, event_ids: list[str]) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT event_id, max(round) FROM deliveries WHERE event_id = ANY(:ids) GROUP BY event_id"
            ),
            {"ids": event_ids},
        ).all()
    return min((r[1] for r in found), default=0) if len(found) == len(event_ids) else 0


def _queued(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE status = 'queued'")).scalar_one()
        )


def _deliveries(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT id, event_id, device_id, round, status, attempts FROM deliveries")
        )
        return {row.id: dict(row._mapping) for row in found}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found |= {int(p) for p in text.split()}
    return found


def _is_hub_worker(pid: int) -> bool:
    try:
        return "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.timeout(300)
def test_workers_share_the_port_and_a_killed_worker_is_replaced(pg_url: str, tmp_path: Path) -> None:
    url = new_database(pg_url)
    hub = _hub(tmp_path / "data", url, "--workers", "2")
    try:
        workers = wait_until(
            lambda: (w := {p for p in _children(hub.process.pid) if _is_hub_worker(p)}) and len(w) == 2 and w,
            timeout=30,
            what="two workers",
        )
        with open_stream(hub) as reader:  # type: ignore[arg-type]
            for n in range(6):  # new connections each: the kernel spreads them over both workers
                with httpx.Client(base_url=hub.base_url) as client:
                    body = {"events": [{"id": str(uuid.uuid4()), "title": f"w{n}", "level": "info"}]}
                    sent = client.post(
                        "/v1/events", json=body, headers={"Authorization": f"Bearer {hub.publish_key}"}
                    )
                    assert sent.status_code == 202
            titles = [m.data["title"] for m in reader.events(6, timeout=10)]
        assert titles == [f"w{n}" for n in range(6)]

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                (w := {p for p in _children(hub.process.pid) if _is_hub_worker(p)})
                and len(w) == 2
                and victim not in w
            ),
            timeout=30,
            what="a replacement worker",
        )
        wait_until(lambda: publish(hub, {"title": "after", "level": "info"}), timeout=30, what="a publish")
    finally:
        code = hub.terminate(timeout=40)
    assert code == 0, hub.log()
    assert "Traceback" not in hub.log(10_000), hub.log(10_000)
