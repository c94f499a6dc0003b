"""Start the real hub for tests: under uvicorn on 127.0.0.1, a free port, a temp data directory.

Two ways, same surface (:class:`RunningHub`: ``base_url``, ``admin_key``, ``publish_key``,
``read_key``, ``dsn``, ``data_dir``, ``stop()``, ``client(key)``):

- :func:`start_hub_thread` runs ``create_app`` in this process (a uvicorn server in a thread) and
  accepts test doubles: ``senders=``, ``clock=``, ``resolver=`` and any ``HubConfig`` field.
- :func:`start_hub_process` runs ``python -m pushlog serve`` in a subprocess, exactly as a user
  does (needed for ``kill -9`` tests and the browser end-to-end). ``kill()`` sends SIGKILL.

Both wait until ``/healthz`` answers (polling with a deadline, never sleeping blindly). Both are
context managers (``with start_hub_process(...) as hub:`` stops it on exit).

Also the one polling helper of the test tree, :func:`wait_until`, plus :func:`free_port` and
:func:`publish` (POST events with the publish key).

Fixtures (use with ``pytest_plugins = ["tests.support.hub_server"]`` in the rootdir conftest, or
import them into a test module): ``hub`` (thread, development mode: private/http push endpoints
allowed, so local push stand-ins work) and ``hub_factory`` (thread, any overrides). Subprocess hubs
(for kill -9, signals and the browser end-to-end test) come from :func:`start_hub_process`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import pytest

from pushlog.hub._server import HubServer, bind, build_server, with_bound_port
from pushlog.hub.config import HubConfig

START_TIMEOUT = 30.0

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.02,
    retry_on: tuple[type[Exception], ...] = (),
) -> T:
    """Poll ``probe`` until it returns something truthy and return that value; raise
    ``AssertionError`` naming ``what`` after ``timeout`` seconds.

    Exceptions of the types in ``retry_on`` count as "not yet" (e.g. a browser page still
    navigating; the last one is named in the timeout message); any other exception propagates at
    once. Between attempts it waits on an Event nobody sets: a bounded poll interval, not a sleep
    standing in for synchronisation.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except retry_on as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        pause.wait(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs that need a fixed port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _read_credentials(data_dir: Path) -> dict[str, str]:
    return dict(json.loads((data_dir / "credentials.json").read_text()))


@dataclass(kw_only=True)
class RunningHub:
    """A started hub. ``stop()`` is idempotent."""

    base_url: str
    data_dir: Path
    admin_key: str
    publish_key: str
    read_key: str
    _stop: Callable[[], None] = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def dsn(self) -> str:
        scheme, _, rest = self.base_url.partition("://")
        return f"{scheme}://{self.publish_key}@{rest}"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on ``base_url``, authenticated with ``key`` when given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(
            base_url=self.base_url, headers=headers, timeout=kwargs.pop("timeout", 10.0), **kwargs
        )

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(kw_only=True)
class ThreadHub(RunningHub):
    server: HubServer
    app: Any
    thread: threading.Thread


@dataclass(kw_only=True)
class ProcessHub(RunningHub):
    process: subprocess.Popen[str]
    output: list[str]

    def log(self, lines: int = 80) -> str:
        """The last ``lines`` lines the process printed (stdout and stderr), for failure messages."""
        return "\n".join(self.output[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self._stopped = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit code."""
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_hub_thread(
    data_dir: Path,
    *,
    senders: Mapping[str, Any] | None = None,
    clock: Any = None,
    resolver: Any = None,
    **overrides: Any,
) -> ThreadHub:
    """Run the hub in this process. ``overrides`` are :class:`HubConfig` fields."""
    sock = bind("127.0.0.1", 0)
    config = with_bound_port(HubConfig(data_dir=data_dir, host="127.0.0.1", port=0, **overrides), sock)
    extra = {"resolver": resolver} if resolver is not None else {}
    server, app = build_server(
        config, clock=clock, senders=senders, log_config=None, access_log=False, **extra
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="hub-uvicorn", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if thread.is_alive():
            raise AssertionError("hub thread did not stop within 30 s")

    try:
        wait_until(
            lambda: server.started or not thread.is_alive(), timeout=START_TIMEOUT, what="hub thread to start"
        )
        if not server.started:
            raise AssertionError("hub thread exited during start (see captured log)")
        wait_until(lambda: _healthy(config.base_url), timeout=START_TIMEOUT, what="/healthz")
    except BaseException:
        stop()
        raise
    creds = _read_credentials(data_dir)
    return ThreadHub(
        base_url=config.base_url,
        data_dir=data_dir,
        admin_key=creds["admin"],
        publish_key=creds["publish"],
        read_key=creds["read"],
        server=server,
        app=app,
        thread=thread,
        _stop=stop,
    )


_URL_LINE = re.compile(r"listening on (http://\S+)")


def start_hub_process(
    data_dir: Path,
    *,
    args: Sequence[str] = ("--allow-private-endpoints",),
    env: Mapping[str, str] | None = None,
    port: int = 0,
    quiet: bool = True,
    timeout: float = START_TIMEOUT,
    prefix: Sequence[str] = (),
) -> ProcessHub:
    """Run ``python -m pushlog serve`` on 127.0.0.1 (``port=0``: a free port) with ``data_dir``.

    ``args`` are further ``serve`` flags (the default allows private/http push endpoints so local
    stand-ins work; pass e.g. ``("--critical-repeat", "2")`` or ``()`` for production defaults).
    ``PUSHLOG_*`` variables of this process are not inherited (a developer's ``PUSHLOG_DSN`` must
    not leak into the hub); ``env`` adds variables. ``quiet=False`` keeps the access log in
    :meth:`ProcessHub.log`. ``prefix`` goes before the command (e.g. ``("prlimit", "--nofile=256:256",
    "--")`` to run the hub under a descriptor limit).
    """
    command = [
        *prefix,
        sys.executable,
        "-m",
        "pushlog",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(["--quiet"] if quiet else []),
        *args,
    ]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**inherited, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    found: dict[str, str] = {}
    seen_url = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            match = _URL_LINE.search(line)
            if match and "url" not in found:
                found["url"] = match.group(1)
                seen_url.set()
        seen_url.set()

    threading.Thread(target=pump, name="hub-output", daemon=True).start()

    def stop() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    try:
        if not seen_url.wait(timeout) or "url" not in found:
            raise AssertionError("hub process did not print its URL:\n" + "\n".join(output))
        base_url = found["url"]
        wait_until(lambda: process.poll() is not None or _healthy(base_url), timeout=timeout, what="/healthz")
        if process.poll() is not None:
            raise AssertionError("hub process exited:\n" + "\n".join(output))
    except BaseException:
        stop()
        raise
    creds = _read_credentials(data_dir)
    return ProcessHub(
        base_url=base_url,
        data_dir=data_dir,
        admin_key=creds["admin"],
        publish_key=creds["publish"],
        read_key=creds["read"],
        process=process,
        output=output,
        _stop=stop,
    )


def publish(hub: RunningHub, *events: dict[str, Any]) -> dict[str, Any]:
    """POST ``events`` to ``/v1/events`` with the publish key (``id`` and ``ts`` filled in when
    missing); asserts the 202 and returns the answer."""
    body = {"events": [{"id": str(uuid.uuid4()), "ts": _now_iso(), **event} for event in events]}
    with hub.client(hub.publish_key) as client:
        response = client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[Callable[..., ThreadHub]]:
    """``hub_factory(**overrides)`` starts in-process hubs (each its own data dir unless given)."""
    started: list[ThreadHub] = []

    def make(*, data_dir: Path | None = None, **overrides: Any) -> ThreadHub:
        directory = data_dir or tmp_path / f"hub{len(started)}"
        running = start_hub_thread(directory, **overrides)
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        running.stop()


@pytest.fixture
def hub(hub_factory: Callable[..., ThreadHub]) -> ThreadHub:
    """An in-process hub in development mode (private/http push endpoints allowed)."""
    return hub_factory(allow_private_endpoints=True)
