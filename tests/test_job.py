"""``pushlog.job(...)`` against the real hub: check-ins, success/failure events, never in the way."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.hub_server import ThreadHub, start_hub_thread

from pushlog import Client, job
from pushlog._client import close_all
from pushlog.testing import capture_events


@pytest.fixture(autouse=True)
def _close_job_clients() -> Iterator[None]:
    """A job made with ``dsn=`` keeps its client for later runs, and the process's exit closes it; a
    test closes it itself, so what it could not deliver is said (captured) here, not after the run."""
    yield
    close_all()


@pytest.fixture
def real_hub(tmp_path: Path) -> Iterator[ThreadHub]:
    """The real hub under uvicorn on 127.0.0.1 with a temp SQLite database."""
    running = start_hub_thread(tmp_path / "hub", allow_private_endpoints=True)
    yield running
    running.stop()


def _ticks(*values: float) -> Any:
    it: Iterator[float] = iter(values)
    return lambda: next(it)


def _events(h: ThreadHub) -> list[dict[str, Any]]:
    r = httpx.get(f"{h.base_url}/v1/events", headers={"Authorization": f"Bearer {h.read_key}"})
    return list(r.json()["events"])


def _beat(h: ThreadHub, name: str) -> dict[str, Any]:
    r = httpx.get(f"{h.base_url}/v1/heartbeats/{name}", headers={"Authorization": f"Bearer {h.read_key}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_success_checks_in_and_logs_info(real_hub: ThreadHub) -> None:
    with job(
        "backup", every="1d", grace="1h", dsn=real_hub.dsn, channel="ops", clock=_ticks(100.0, 104.25)
    ) as j:
        started = _beat(real_hub, "backup")
        assert started["last_start_at"] is not None and started["last_success_at"] is None
    assert (j.outcome, j.duration) == ("success", 4.25)
    beat = _beat(real_hub, "backup")
    assert (beat["every_s"], beat["grace_s"], beat["status"]) == (86400, 3600, "up")
    assert beat["last_success_at"] is not None and beat["last_duration_s"] == 4.25
    (event,) = _events(real_hub)
    assert (event["level"], event["title"], event["channel"]) == ("info", "backup succeeded in 4.2s", "ops")
    assert event["metadata"] == {"job": "backup", "duration_s": 4.25}


def test_failure_reports_the_exception_and_reraises(real_hub: ThreadHub) -> None:
    def inner() -> None:
        raise ValueError("disk full on /backups")

    with pytest.raises(ValueError, match="disk full"), job("backup", every="1d", dsn=real_hub.dsn):
        inner()
    (event,) = _events(real_hub)
    assert event["level"] == "error"
    assert event["title"] == "backup failed: ValueError: disk full on /backups"
    assert "Traceback" in event["body"] and "in inner" in event["body"]
    assert event["metadata"]["exception"] == "ValueError"
    beat = _beat(real_hub, "backup")
    assert beat["last_failure_at"] is not None and beat["last_success_at"] is None
    assert beat["last_message"] == "ValueError: disk full on /backups"


def test_critical_quiet_and_decorator(real_hub: ThreadHub) -> None:
    @job("sync", dsn=real_hub.dsn, critical=True, quiet=True)
    def sync(fail: bool) -> str:
        if fail:
            raise RuntimeError("upstream 502")
        return "ok"

    assert sync(False) == "ok"
    assert _events(real_hub) == [], "quiet: no feed entry on success"
    with pytest.raises(RuntimeError):
        sync(True)
    (event,) = _events(real_hub)
    assert event["level"] == "critical"
    assert _beat(real_hub, "sync")["status"] == "unmonitored"


def test_system_exit_zero_is_success(real_hub: ThreadHub) -> None:
    with pytest.raises(SystemExit), job("cli-task", dsn=real_hub.dsn) as j:
        raise SystemExit(0)
    assert j.outcome == "success"
    assert _events(real_hub)[0]["level"] == "info"


def test_without_a_dsn_the_job_runs_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PUSHLOG_DSN", raising=False)
    ran = []
    with job("quiet-job", every="1h"):
        ran.append(1)
    assert ran == [1]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not reported" in err and "PUSHLOG_DSN" in err


def test_unreachable_hub_never_masks_the_jobs_exception(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(KeyError), job("x", dsn=f"http://k@127.0.0.1:{port}", timeout=0.5):
        raise KeyError("boom")
    err = capsys.readouterr().err
    assert "heartbeat start not delivered" in err and "could not report to the hub" in err
    assert "Traceback" not in err
    close_all()  # what the process's exit does: one line says the failure report was not delivered
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("pushlog: 1 event(s) ") and "connection refused" in line, line


def test_bad_arguments_fail_at_once() -> None:
    with pytest.raises(ValueError, match="bad every"):
        job("x", every="soon")
    with pytest.raises(ValueError, match="grace needs every"):
        job("x", grace="1h")
    with pytest.raises(ValueError, match="name"):
        job(" ")


def test_job_events_go_through_the_client_path_captured_and_redacted() -> None:
    requests: list[httpx.Request] = []
    client = Client(
        "http://pl_k@hub.invalid",
        transport=httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(202, json={})),
    )
    try:
        with (
            capture_events() as events,
            pytest.raises(RuntimeError),
            job("deploy", client=client, every="1h"),
        ):
            raise RuntimeError("login failed with password=hunter2")
    finally:
        client.close()
    (event,) = events
    assert event.title.startswith("deploy failed: RuntimeError: login failed with ")
    assert "hunter2" not in event.title + (event.body or "") and "[redacted]" in event.title
    assert requests == [], "inside capture_events() nothing is sent, check-ins included"


def test_job_checkins_and_events_use_the_clients_transport() -> None:
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(202 if request.url.path == "/v1/events" else 200, json={})

    client = Client("http://pl_k@hub.invalid", transport=httpx.MockTransport(answer), linger=0.0)
    try:
        with job("sync", client=client, timeout=5.0) as j:
            pass
    finally:
        client.close()
    assert j.outcome == "success"
    assert sorted(paths) == ["/v1/events", "/v1/heartbeats/sync", "/v1/heartbeats/sync"]
