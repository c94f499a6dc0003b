"""Debian's Caddy as the TLS reverse proxy in front of a test hub, as an unprivileged process.

:class:`Caddy` runs ``caddy run`` on a shipped Caddyfile (integrations/caddy/) unchanged: the file's
``{$VAR:default}`` placeholders take free high ports, the hub's address as upstream and ``admin off``
(no admin endpoint on the shared port 2019), and ``HOME``/``XDG_DATA_HOME`` put Caddy's storage,
its local CA included, in a temporary directory removed on :meth:`Caddy.stop`. A test run as root
starts Caddy as ``nobody`` (``setpriv``), so it never has more rights than a deployment's own user.
The Caddyfile's ``skip_install_trust`` keeps Caddy away from the system's trust store; whoever
should trust the CA is given :attr:`Caddy.root_ca` (a Firefox profile:
``tests.support.firefox.Firefox(root_cas=...)``; httpx: :meth:`Caddy.ssl_context`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import httpx
from tests.support.hub_server import free_port, wait_until

#: Where Caddy's internal issuer keeps its root certificate, under the data directory.
ROOT_CA = Path("caddy", "pki", "authorities", "local", "root.crt")
#: The user and group ``nobody``/``nogroup`` Caddy runs as when the tests run as root.
NOBODY = 65534


class Caddy:
    """``caddy run --adapter caddyfile --config CADDYFILE`` proxying to ``upstream`` (host:port)."""

    def __init__(self, caddyfile: Path, *, upstream: str, https_port: int | None = None) -> None:
        found = shutil.which("caddy")
        if found is None:
            raise RuntimeError("caddy is not installed; run `make system-deps`")
        self.binary = found
        self.caddyfile = caddyfile
        self.upstream = upstream
        # Not under pytest's tmp_path: its directories are private to the user running the tests.
        self._tmp = tempfile.TemporaryDirectory(prefix="pushlog-caddy-")
        self.workdir = Path(self._tmp.name)
        self.drop_to_nobody = os.geteuid() == 0
        self.https_port = https_port or free_port()
        self.http_port = free_port()  # the HTTP->HTTPS redirect server
        self.base_url = f"https://127.0.0.1:{self.https_port}"
        self.root_ca = self.workdir / "data" / ROOT_CA
        self.log_path = self.workdir / "caddy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "CADDY_ADMIN": "off",
            "CADDY_HTTP_PORT": str(self.http_port),
            "CADDY_HTTPS_PORT": str(self.https_port),
            "PUSHLOG_UPSTREAM": self.upstream,
        }

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts Caddy's local CA and nothing else."""
        return ssl.create_default_context(cafile=str(self.root_ca))

    def start(self, timeout: float = 30.0) -> Self:
        """Start Caddy; return once its local CA exists and ``/healthz`` answers 200 through it."""
        command = [self.binary, "run", "--adapter", "caddyfile", "--config", str(self.caddyfile)]
        if self.drop_to_nobody:
            os.chown(self.workdir, NOBODY, NOBODY)
            setpriv = shutil.which("setpriv") or "setpriv"
            command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        try:
            wait_until(
                lambda: self.process is None or self.process.poll() is not None or self._healthy(),
                timeout=timeout,
                interval=0.1,
                what=f"Caddy on {self.base_url} proxying /healthz",
            )
            if self.process.poll() is not None:
                raise AssertionError(f"caddy exited:\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        if not self.root_ca.exists():
            return False
        try:
            response = httpx.get(f"{self.base_url}/healthz", verify=self.ssl_context(), timeout=2.0)
        except (httpx.HTTPError, ssl.SSLError, OSError):
            return False
        return response.status_code == 200

    def log(self) -> str:
        """The end of Caddy's log, for failure messages."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-6000:]
        return ""

    def uid(self) -> int:
        """The real user id the running Caddy process has (from ``/proc``)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        return int(line.split()[1])

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ROOT_CA", "Caddy"]
