"""Heartbeats through the real hub: the API, ``pushlog run --every`` check-ins, the overdue monitor
driven by an injected clock, and persistence across a hub restart."""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.cli.pushlog_cli import run_cli
from tests.support.clock import utc_clock
from tests.support.hub_server import ThreadHub, start_hub_thread, wait_until

PY = sys.executable


def _post(hub: ThreadHub, name: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or hub.publish_key}"}
    return httpx.post(f"{hub.base_url}/v1/heartbeats/{name}", headers=headers, timeout=10, **kwargs)


def _get(hub: ThreadHub, path: str, key: str | None = None) -> httpx.Response:
    return httpx.get(f"{hub.base_url}{path}", headers={"Authorization": f"Bearer {key or hub.read_key}"})


def test_check_in_list_read_and_delete(hub: ThreadHub) -> None:
    response = _post(hub, "backup", json={"every": "1d", "grace": "1h", "status": "start"})
    assert response.status_code == 200, response.text
    assert response.json()["every_s"] == 86400 and response.json()["grace_s"] == 3600
    assert response.json()["last_start_at"] is not None
    assert _post(hub, "report?every=15m").status_code == 200  # query parameters, no body
    listing = _get(hub, "/v1/heartbeats")
    assert listing.status_code == 200
    assert [(h["name"], h["status"], h["every_s"]) for h in listing.json()["heartbeats"]] == [
        ("backup", "up", 86400.0),
        ("report", "up", 900.0),
    ]
    assert _get(hub, "/v1/heartbeats/backup").json()["name"] == "backup"
    assert _get(hub, "/v1/heartbeats", key=hub.publish_key).status_code == 403
    assert _get(hub, "/v1/heartbeats/nope").status_code == 404
    forbidden = httpx.delete(
        f"{hub.base_url}/v1/heartbeats/backup", headers={"Authorization": f"Bearer {hub.read_key}"}
    )
    assert forbidden.status_code == 403
    deleted = httpx.delete(
        f"{hub.base_url}/v1/heartbeats/backup", headers={"Authorization": f"Bearer {hub.admin_key}"}
    )
    assert deleted.status_code == 204
    assert [h["name"] for h in _get(hub, "/v1/heartbeats").json()["heartbeats"]] == ["report"]


def test_bad_check_ins_are_clear_json_errors(hub: ThreadHub) -> None:
    cases = [
        (_post(hub, "x", json={"status": "done"}), 422, "status"),
        (_post(hub, "x", json={"grace": "1h"}), 422, "grace: needs every"),
        (_post(hub, "x", json={"every": "soon"}), 422, "bad every"),
        (_post(hub, "x", json={"every": -5}), 422, "every must be positive"),
        (_post(hub, "x", json={"exit_code": "two"}), 422, "exit_code"),
        (_post(hub, "x", json=[1]), 422, "body"),
        (_post(hub, "x", content=b"{nope"), 400, "malformed JSON"),
        (_post(hub, "-bad"), 400, "heartbeat name"),
        (httpx.post(f"{hub.base_url}/v1/heartbeats/x"), 401, "missing API key"),
    ]
    for response, status, needle in cases:
        assert response.status_code == status, (needle, response.text)
        assert needle in response.json()["error"]["message"], response.text
    assert _get(hub, "/v1/heartbeats").json() == {"heartbeats": []}


def test_openapi_documents_heartbeats(hub: ThreadHub) -> None:
    spec = httpx.get(f"{hub.base_url}/openapi.json").json()
    assert set(spec["paths"]["/v1/heartbeats/{name}"]) == {"post", "get", "delete"}
    assert "Heartbeat" in spec["components"]["schemas"]


def _feed(hub: ThreadHub) -> list[dict[str, Any]]:
    return list(_get(hub, "/v1/events?channel=heartbeats").json()["events"])


def test_run_every_goes_overdue_then_recovers(tmp_path: Path) -> None:
    clock = utc_clock(_dt.datetime(2026, 11, 21, 6, 0, tzinfo=_dt.UTC))
    hub = start_hub_thread(tmp_path / "hub", clock=clock, allow_private_endpoints=True)
    try:
        env = {"PUSHLOG_DSN": hub.dsn}
        ok = run_cli(
            [
                "run",
                "--name",
                "nightly",
                "--every",
                "1m",
                "--grace",
                "30s",
                "--quiet",
                "--",
                PY,
                "-c",
                "pass",
            ],
            env=env,
        )
        assert ok.returncode == 0, ok.stderr
        (beat,) = _get(hub, "/v1/heartbeats").json()["heartbeats"]
        assert (beat["name"], beat["status"], beat["every_s"], beat["grace_s"]) == ("nightly", "up", 60, 30)
        assert beat["last_exit_code"] == 0

        monitor = hub.app.state.heartbeat_monitor
        clock.advance(_dt.timedelta(seconds=89))
        before = monitor.checks
        monitor.request_check()
        wait_until(lambda: monitor.checks > before, timeout=10, what="a monitor check")
        assert _feed(hub) == [], "not overdue one second before the deadline"

        clock.advance(_dt.timedelta(seconds=1))
        monitor.request_check()
        wait_until(lambda: len(_feed(hub)) == 1, timeout=10, what="the overdue alert in the feed")
        (alert,) = _feed(hub)
        assert (alert["level"], alert["title"], alert["push"]) == ("error", "nightly is overdue", True)
        assert _get(hub, "/v1/heartbeats/nightly").json()["status"] == "overdue"

        # the next successful run recovers it
        clock.advance(_dt.timedelta(minutes=10))
        again = run_cli(
            ["run", "--name", "nightly", "--every", "1m", "--quiet", "--", PY, "-c", "pass"], env=env
        )
        assert again.returncode == 0, again.stderr
        titles = [e["title"] for e in _feed(hub)]
        assert titles == ["nightly recovered", "nightly is overdue"]
        assert _get(hub, "/v1/heartbeats/nightly").json()["status"] == "up"

        # the CLI's own view of it
        tail = run_cli(
            ["tail", "--plain", "--no-follow", "-c", "heartbeats"],
            env={"PUSHLOG_URL": hub.base_url, "PUSHLOG_READ_KEY": hub.read_key},
        )
        assert "nightly is overdue" in tail.stdout and "nightly recovered" in tail.stdout
    finally:
        hub.stop()


def test_state_survives_a_hub_restart(tmp_path: Path) -> None:
    clock = utc_clock(_dt.datetime(2026, 11, 21, 6, 0, tzinfo=_dt.UTC))
    data = tmp_path / "hub"
    first = start_hub_thread(data, clock=clock, allow_private_endpoints=True)
    try:
        assert _post(first, "backup", json={"every_s": 60, "grace_s": 60}).status_code == 200
        clock.advance(_dt.timedelta(minutes=5))
        first.app.state.heartbeat_monitor.request_check()
        wait_until(lambda: len(_feed(first)) == 1, timeout=10, what="the overdue alert")
    finally:
        first.stop()
    second = start_hub_thread(data, clock=clock, allow_private_endpoints=True)
    try:
        assert _get(second, "/v1/heartbeats/backup").json()["status"] == "overdue"
        monitor = second.app.state.heartbeat_monitor
        before = monitor.checks
        monitor.request_check()
        wait_until(lambda: monitor.checks > before, timeout=10, what="a monitor check")
        assert len(_feed(second)) == 1, "the restarted hub does not alert twice for the same outage"
        assert _post(second, "backup").json()["status"] == "up"
        assert _feed(second)[0]["title"] == "backup recovered"
    finally:
        second.stop()
