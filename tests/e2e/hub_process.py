"""Run the real hub as ``python -m pushlog serve`` in a subprocess, the way a user starts it.

The browser tests (Chromium in tests/hub/test_webapp*.py, Firefox in tests/e2e/) talk to this hub over
real HTTP on 127.0.0.1. A fresh data directory per hub; the bootstrap keys are read from its
``credentials.json``. Start-up is awaited by polling ``/healthz`` with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Fatal(Exception):
    """Raised by a probe to stop :func:`wait_until` at once (e.g. the server process died)."""


def wait_until(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; AssertionError after ``timeout`` seconds.

    Exceptions from the probe count as "not yet" (a server may still be starting), except
    :class:`Fatal`, which is re-raised. Between attempts it waits on an Event that nobody sets: a
    bounded poll interval, not a sleep standing in for synchronisation.
    """
    deadline = time.monotonic() + timeout
    idle = threading.Event()
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Fatal:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error!r})")
        idle.wait(interval)


@dataclass
class HubKeys:
    admin: str
    publish: str
    read: str


class HubProcess:
    """``pushlog serve`` on a free port; ``extra_args`` adds flags (e.g. ``--allow-private-endpoints``)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.log_path = log_path or data_dir.parent / f"hub-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.keys: HubKeys | None = None

    def start(self, timeout: float = 60.0) -> HubProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
        env.update(self.env)
        args = [
            sys.executable, "-m", "pushlog", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            *self.extra_args,
        ]  # fmt: skip
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise Fatal(f"pushlog serve exited with {self.proc.returncode}:\n{self.log()}")
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200

        try:
            wait_until(healthy, timeout=timeout, interval=0.1, what=f"the hub on {self.url}")
        except BaseException:
            self.stop()
            raise
        creds = json.loads((self.data_dir / "credentials.json").read_text())
        self.keys = HubKeys(admin=creds["admin"], publish=creds["publish"], read=creds["read"])
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def dsn(self) -> str:
        assert self.keys is not None
        return f"http://{self.keys.publish}@127.0.0.1:{self.port}"

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_hub(data_dir: Path, **kwargs: Any) -> Iterator[HubProcess]:
    hub = HubProcess(data_dir, **kwargs)
    with hub:
        yield hub


def publish(hub: HubProcess, *events: dict[str, Any]) -> dict[str, Any]:
    """POST events with the publish key; fills in ``id`` and ``ts`` when missing."""
    import datetime as dt
    import uuid

    assert hub.keys is not None
    body = {
        "events": [
            {"id": str(uuid.uuid4()), "ts": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"), **e}
            for e in events
        ]
    }
    with hub.client(hub.keys.publish) as client:
        response = client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer
