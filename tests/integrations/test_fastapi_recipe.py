"""integrations/fastapi: the app run by a real uvicorn on 127.0.0.1; a signup and a 500 arrive."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import StandInHub
from tests.integrations.recipes import RECIPES, recipe_env
from tests.support.hub_server import free_port


@pytest.fixture
def server(hub: StandInHub, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=RECIPES / "fastapi",
        env=recipe_env(hub.dsn),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    pause = threading.Event()
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not start:\n{(tmp_path / 'uvicorn.log').read_text()}")
            pause.wait(0.05)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_signup_and_unhandled_error_arrive(hub: StandInHub, server: str) -> None:
    assert httpx.post(f"{server}/signup", params={"plan": "pro"}).json() == {"ok": True}
    crash = httpx.get(f"{server}/checkout")
    assert crash.status_code == 500
    assert crash.json()["error"]["code"] == "internal"
    events = {e["title"]: e for e in hub.wait_events(2)}
    signup = events["New signup"]
    assert (signup["level"], signup["body"], signup["channel"]) == ("warning", "plan pro", "signups")
    assert signup["metadata"] == {"plan": "pro"}
    error = events["Unhandled RuntimeError on GET /checkout"]
    assert error["level"] == "error" and error["metadata"] == {"method": "GET", "path": "/checkout"}
    assert error["body"].startswith("RuntimeError: payment gateway timed out\n  at ")
    assert error["source"]["logger"] == "shop"
