"""Graceful shutdown: in-flight requests finish, live streams end, the process exits promptly."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.hub_server import start_hub_process, start_hub_thread, wait_until

P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"


def test_a_request_in_flight_when_shutdown_begins_still_gets_its_answer(tmp_path: Path) -> None:
    in_handler = threading.Event()
    release = threading.Event()

    def slow_resolver(host: str, port: int) -> list[str]:
        in_handler.set()  # the request is inside the hub now
        release.wait(30)
        return ["93.184.216.34"]

    running = start_hub_thread(tmp_path / "data", resolver=slow_resolver)
    body = {
        "subscription": {
            "endpoint": "https://push.example.com/w/1",
            "keys": {"p256dh": P256DH, "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
        }
    }
    with concurrent.futures.ThreadPoolExecutor(1) as pool, running.client(running.read_key) as client:
        pending = pool.submit(client.post, "/v1/devices", json=body)
        assert in_handler.wait(10)
        running.server.should_exit = True  # what SIGTERM/Ctrl-C do
        release.set()
        answer = pending.result(timeout=20)
    running.stop()
    assert answer.status_code == 201
    assert not running.thread.is_alive()


def test_sigterm_ends_live_streams_and_the_process_exits(tmp_path: Path) -> None:
    running = start_hub_process(tmp_path / "data")
    lines: list[str] = []
    opened = threading.Event()
    ended: dict[str, Any] = {}

    def listen() -> None:
        try:
            with httpx.stream(
                "GET",
                f"{running.base_url}/v1/stream",
                headers={"Authorization": f"Bearer {running.read_key}"},
                timeout=httpx.Timeout(10, read=60),
            ) as response:
                opened.set()
                for line in response.iter_lines():
                    lines.append(line)
            ended["clean"] = True
        except httpx.HTTPError as exc:  # pragma: no cover - reported below
            ended["error"] = repr(exc)

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    wait_until(lambda: any(line.startswith("retry:") for line in lines), timeout=10, what="stream start")
    code = running.terminate(timeout=15)  # far below the 10 s graceful timeout + a 15 s keepalive
    listener.join(10)
    assert not listener.is_alive()
    assert ended == {"clean": True}
    assert any("Application shutdown complete" in line for line in running.output)
    assert code == 0, "\n".join(running.output)  # a graceful shutdown is a success, not death by SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_graceful_shutdown_by_signal_exits_0(tmp_path: Path, signum: int) -> None:
    running = start_hub_process(tmp_path / "data")
    with running.client(running.publish_key) as client:
        answer = client.post("/v1/events", json={"events": [{"title": "before shutdown"}]})
    assert answer.status_code == 202
    running.process.send_signal(signum)
    code = running.process.wait(timeout=20)
    running.stop()
    assert code == 0, "\n".join(running.output)
    assert any("Application shutdown complete" in line for line in running.output)
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in running.output)
