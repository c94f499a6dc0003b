"""Debian's firefox-esr, headless, with its push service pointed at a local stand-in.

Firefox is the one browser that receives Web Push offline: ``dom.push.serverURL`` sends its push
connection to :class:`tests.support.mozpush.MozPushServer` instead of Mozilla's (FIELD-NOTES, "A real
browser receiving Web Push offline"). Two ways to use it, one class:

* ``Firefox(push_server_url=..., url=page)`` opens ``page`` and is left alone; the page reports back
  to the test itself (``tests/hub/delivery/webpush/test_webpush_firefox.py``).
* ``Firefox(push_server_url=..., marionette=True)`` starts with ``-marionette`` on a free port and
  :attr:`Firefox.driver` is a Marionette session that drives the browser like a user
  (``tests/e2e/test_firefox_push.py``); ``system_access=True`` also lets it switch to the chrome
  context (Firefox's own UI, e.g. a notification window).

The profile is a throwaway directory (``workdir``, or a temporary one removed on :meth:`Firefox.stop`)
whose ``user.js`` carries :data:`FIREFOX_PREFS`; ``root_cas`` are certificates the profile trusts as
certificate authorities for https (:func:`trust_root_ca`, e.g. Caddy's local CA). Firefox runs in its
own session (process group) so that stopping it also stops its content processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from marionette_driver.marionette import Marionette
from tests.support.hub_server import free_port

FIREFOX_PREFS: Mapping[str, object] = {
    # Web Push through the test's push service over plain ws:// on 127.0.0.1 (dom.push.serverURL is
    # added per browser); without allowInsecureServerURL Firefox refuses a non-wss push server.
    "dom.push.testing.allowInsecureServerURL": True,
    "dom.push.enabled": True,
    "dom.push.connection.enabled": True,
    # Service workers receive the pushes; the testing pref allows them on http://127.0.0.1 origins.
    "dom.serviceWorkers.enabled": True,
    "dom.serviceWorkers.testing.enabled": True,
    # Notifications allowed without a permission prompt (nobody is there to click it), shown by
    # Firefox's own XUL alert window since there is no D-Bus notification daemon here; the e2e test
    # clicks that window, and checks a CRITICAL notification keeps requireInteraction.
    "permissions.default.desktop-notification": 1,
    "alerts.useSystemBackend": False,
    "dom.webnotifications.enabled": True,
    "dom.webnotifications.requireinteraction.enabled": True,
    # A quiet, reproducible start: no default-browser check, first-run or what's-new pages.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    # No outbound traffic the machine cannot make anyway (offline): telemetry, updates, Normandy and
    # remote-settings experiments, captive-portal/connectivity probes, Safe Browsing lists.
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


def write_user_js(profile: Path, prefs: Mapping[str, object]) -> None:
    """Write ``prefs`` as the profile's ``user.js`` (JSON literals are valid pref values)."""
    lines = [f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


def trust_root_ca(profile: Path, certificate: Path, *, name: str = "test root CA") -> None:
    """Add ``certificate`` (PEM) to the profile's NSS database (cert9.db) as a CA trusted for TLS
    servers, creating the database if needed (``certutil``, Debian's libnss3-tools)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise RuntimeError("certutil is not installed (libnss3-tools); run `make system-deps`")
    database = f"sql:{profile}"
    if not (profile / "cert9.db").exists():
        subprocess.run([certutil, "-N", "-d", database, "--empty-password"], check=True, timeout=30)
    subprocess.run(
        [certutil, "-A", "-d", database, "-n", name, "-t", "C,,", "-i", str(certificate)],
        check=True,
        timeout=30,
    )


class Firefox:
    """``firefox-esr -headless -no-remote -profile <dir> [-marionette] [url]``; stopped on exit."""

    def __init__(
        self,
        *,
        push_server_url: str,
        url: str | None = None,
        marionette: bool = False,
        system_access: bool = False,
        workdir: Path | None = None,
        binary: str | None = None,
        prefs: Mapping[str, object] | None = None,
        root_cas: Sequence[Path] = (),
    ) -> None:
        """``prefs`` add to (or override) :data:`FIREFOX_PREFS`; ``root_cas`` are trusted for https."""
        if system_access and not marionette:
            raise ValueError("system_access is a Marionette capability: pass marionette=True")
        found = binary or shutil.which("firefox-esr") or shutil.which("firefox")
        if not found:
            raise RuntimeError("firefox-esr is not installed; run `make system-deps`")
        self.binary = found
        self.url = url
        self.marionette = marionette
        self.system_access = system_access
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pushlog-firefox-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.profile = self.workdir / "firefox-profile"
        self.log_path = self.workdir / "firefox.log"
        self.marionette_port = free_port() if marionette else None
        self.prefs: dict[str, object] = {"dom.push.serverURL": push_server_url, **FIREFOX_PREFS}
        if self.marionette_port is not None:
            self.prefs["marionette.port"] = self.marionette_port
        self.prefs.update(prefs or {})
        self.root_cas = tuple(root_cas)
        self.process: subprocess.Popen[bytes] | None = None
        self.driver: Marionette | None = None

    def start(self, timeout: float = 90.0) -> Firefox:
        """Launch; with ``marionette`` also wait (up to ``timeout`` s) for a Marionette session."""
        self.profile.mkdir(parents=True, exist_ok=True)
        write_user_js(self.profile, self.prefs)
        for number, certificate in enumerate(self.root_cas):
            trust_root_ca(self.profile, certificate, name=f"test root CA {number}")
        env = {
            **os.environ,
            "MOZ_HEADLESS": "1",
            "MOZ_CRASHREPORTER_DISABLE": "1",
            "HOME": str(self.workdir),  # nothing written to the real ~/.mozilla
        }
        command = [self.binary, "-headless", "-no-remote", "-profile", str(self.profile)]
        if self.marionette:
            command.append("-marionette")
        if self.system_access:
            command.append("-remote-allow-system-access")
        if self.url is not None:
            command.append(self.url)
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        if self.marionette_port is not None:
            try:
                self.driver = Marionette(
                    host="127.0.0.1", port=self.marionette_port, startup_timeout=int(timeout)
                )
                self.driver.start_session()
            except BaseException:
                self.stop()
                raise
        return self

    def log(self) -> str:
        """The end of Firefox's stdout/stderr, for failure messages."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-6000:]
        return ""

    def stop(self) -> None:
        if self.driver is not None:
            # The browser may already be gone; its process is stopped below either way.
            with contextlib.suppress(Exception):
                self.driver.delete_session()
            self.driver = None
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
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Firefox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["FIREFOX_PREFS", "Firefox", "trust_root_ca", "write_user_js"]
