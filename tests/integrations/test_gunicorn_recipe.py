"""integrations/gunicorn: ``gunicorn --preload`` with 2 workers on 127.0.0.1. The master logs before
forking (so the client's thread is live at the fork); events logged in both worker processes arrive,
and the master's event arrives once, not once per process that inherited it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from tests.conftest import StandInHub
from tests.integrations.recipes import RECIPES, recipe_env
from tests.support.hub_server import free_port


def test_preload_workers_events_arrive(hub: StandInHub, tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(gunicorn),
                "--preload",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "-c",
                "gunicorn.conf.py",
                "app:app",
            ],
            cwd=RECIPES / "gunicorn",
            env=recipe_env(hub.dsn),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def ready() -> list[dict[str, object]]:
                return [e for e in hub.accepted_events() if str(e["title"]).startswith("Worker ")]

            hub.wait_for(lambda: len(ready()) >= 2, timeout=30)
            deadline = time.monotonic() + 20
            pause = threading.Event()
            while True:  # a request handled by whichever worker accepts it
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/checkout", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    pause.wait(0.05)
            assert response.status_code == 500
            hub.wait_for(
                lambda: any(str(e["title"]).startswith("Checkout failed") for e in hub.accepted_events())
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 0, log_path.read_text()

    events = hub.accepted_events()
    master = proc.pid
    loaded = [e for e in events if e["title"] == "App loaded"]
    assert len(loaded) == 1 and loaded[0]["source"]["pid"] == master  # not re-sent by the forked workers
    worker_pids = {e["source"]["pid"] for e in events if str(e["title"]).startswith("Worker ")}
    assert len(worker_pids) == 2 and master not in worker_pids
    (checkout,) = [e for e in events if str(e["title"]).startswith("Checkout failed")]
    assert checkout["level"] == "error" and checkout["source"]["pid"] in worker_pids
    assert checkout["metadata"]["worker_pid"] == checkout["source"]["pid"]
