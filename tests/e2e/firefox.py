"""Debian's firefox-esr, headless, driven over Marionette, pointed at a local push service.

Firefox is the one browser that receives Web Push offline: ``dom.push.serverURL`` sends its push
connection to our stand-in of Mozilla's push server instead of Mozilla's. The profile lives in a
temporary directory; ``user.js`` carries the prefs (FIELD-NOTES, "A real browser receiving Web Push").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from marionette_driver.marionette import Marionette
from tests.e2e.hub_process import free_port

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"


def profile_prefs(push_server_url: str, marionette_port: int) -> dict[str, Any]:
    return {
        # Web Push through the test's push service, over plain ws:// on localhost.
        "dom.push.serverURL": push_server_url,
        "dom.push.testing.allowInsecureServerURL": True,
        "dom.push.enabled": True,
        "dom.push.connection.enabled": True,
        "dom.serviceWorkers.enabled": True,
        "dom.serviceWorkers.testing.enabled": True,
        # Notifications allowed without a prompt, shown by Firefox itself (no D-Bus here).
        "permissions.default.desktop-notification": 1,
        "alerts.useSystemBackend": False,
        "dom.webnotifications.enabled": True,
        "dom.webnotifications.requireinteraction.enabled": True,
        # Quiet, reproducible start: no first-run pages, updates, telemetry or remote settings.
        "marionette.port": marionette_port,
        "browser.shell.checkDefaultBrowser": False,
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.aboutwelcome.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "app.update.disabledForTesting": True,
        "app.normandy.enabled": False,
        "messaging-system.rsexperimentloader.enabled": False,
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "browser.safebrowsing.update.enabled": False,
        "extensions.update.enabled": False,
    }


def _pref_line(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"user_pref({name!r}, {text});".replace("'", '"')


class Firefox:
    """Start with :meth:`start` (or ``with``); :attr:`driver` is a Marionette session."""

    def __init__(self, workdir: Path, *, push_server_url: str, system_access: bool = False) -> None:
        """``system_access`` lets Marionette switch to the chrome context (to act as the user on
        Firefox's own UI, e.g. a notification's action button)."""
        self.profile = workdir / "firefox-profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "firefox.log"
        self.port = free_port()
        prefs = profile_prefs(push_server_url, self.port)
        (self.profile / "user.js").write_text("\n".join(_pref_line(k, v) for k, v in prefs.items()) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.driver: Marionette | None = None
        self.system_access = system_access

    def start(self, timeout: float = 90.0) -> Firefox:
        env = dict(os.environ, MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1", HOME=str(self.profile.parent))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                FIREFOX,
                "-headless",
                "-no-remote",
                "-marionette",
                "-profile",
                str(self.profile),
                *(["-remote-allow-system-access"] if self.system_access else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            self.driver = Marionette(host="127.0.0.1", port=self.port, startup_timeout=int(timeout))
            self.driver.start_session()
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.driver is not None:
            # The browser may already be gone; its process is stopped below either way.
            with contextlib.suppress(Exception):
                self.driver.delete_session()
            self.driver = None
        if self.proc is not None and self.proc.poll() is None:
            # Firefox runs child processes in its own session (start_new_session): end that group.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> Firefox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
