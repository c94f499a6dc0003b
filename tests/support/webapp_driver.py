"""Driving the hub's web app in Firefox through Marionette, as a person would, and an app process
logging through ``PushHandler``: shared by the Firefox end-to-end tests (tests/e2e).

The page is reached at ``base_url``: the hub itself, or a reverse proxy in front of it
(tests/e2e/test_caddy_tls.py).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

import httpx
from marionette_driver.errors import MarionetteException
from marionette_driver.marionette import Marionette
from tests.support.hub_server import RunningHub, wait_until

# What a poll may meet before its condition holds: the page still navigating or a dialog not yet
# open (Marionette), the hub busy (HTTP); anything else fails the test at once.
NOT_YET = (MarionetteException, httpx.HTTPError)


def js(driver: Marionette, script: str, *args: Any) -> Any:
    return driver.execute_script(script, script_args=list(args), sandbox=None)


def js_async(driver: Marionette, body: str) -> Any:
    """Run ``body`` (an async function body, may ``await``) in the page and return its result."""
    return driver.execute_async_script(
        f"const done = arguments[arguments.length - 1];"
        f"(async () => {{ {body} }})().then(done, (e) => done({{error: String(e)}}));",
        sandbox=None,
        script_timeout=30_000,
    )


def wait_js(driver: Marionette, expression: str, *, timeout: float, what: str) -> Any:
    return wait_until(
        lambda: js(driver, f"return ({expression});"),
        timeout=timeout,
        interval=0.2,
        retry_on=NOT_YET,
        what=what,
    )


def shown_notifications(driver: Marionette) -> list[dict[str, Any]]:
    """The notifications the page's service worker shows now (title, body, tag, data...)."""
    found = js_async(
        driver,
        "const r = await navigator.serviceWorker.ready;"
        "const list = await r.getNotifications();"
        "return list.map(n => ({title: n.title, body: n.body, tag: n.tag,"
        " requireInteraction: n.requireInteraction, data: n.data}));",
    )
    assert isinstance(found, list), found
    return found


def enable_push_through_the_ui(driver: Marionette, base_url: str, read_key: str) -> None:
    """Sign in with ``read_key``, open Devices, press "Enable push on this device"; assert it worked."""
    driver.navigate(f"{base_url}/")
    wait_js(driver, "document.querySelector('#key') !== null", timeout=30, what="the sign-in form")
    driver.find_element("css selector", "#key").send_keys(read_key)
    driver.find_element("css selector", "#sign-in-button").click()
    wait_js(driver, "!document.querySelector('#nav').hidden", timeout=30, what="signing in")
    driver.find_element("css selector", "#nav-devices").click()
    wait_js(driver, "document.querySelector('#enable-push') !== null", timeout=30, what="the Devices view")
    wait_js(
        driver,
        "/Push is (on|off)/.test(document.querySelector('#push-status').textContent)",
        timeout=30,
        what="the push status",
    )
    driver.find_element("css selector", "#enable-push").click()
    status = wait_js(
        driver,
        "(() => { const s = document.querySelector('#push-status');"
        " return /push-(ok|error)/.test(s.className) ? s.className + ': ' + s.textContent : null; })()",
        timeout=120,
        what="enabling push",
    )
    assert "push-ok" in status, status


def log_in_separate_process(
    dsn: str,
    level: str,
    title: str,
    body: str,
    *,
    env: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> None:
    """An app process: PushHandler on the root logger, one record (``extra``: more ``extra=`` keys such
    as ``link``), flush, exit 0 (asserted)."""
    fields = {"body": body, "job": "nightly", **(extra or {})}
    script = textwrap.dedent(
        f"""
        import logging, sys
        import pushlog
        logging.getLogger().addHandler(pushlog.PushHandler())
        logging.getLogger("app.jobs").{level}({title!r}, extra={fields!r})
        sys.exit(0 if pushlog.flush(timeout=20.0) is not False else 3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PUSHLOG_DSN": dsn, "PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def event_by_title(hub: RunningHub, title: str) -> dict[str, Any]:
    """The hub's event with this title, once it is there (up to 30 s)."""

    def find() -> dict[str, Any] | None:
        with hub.client(hub.read_key) as client:
            events = client.get("/v1/events", params={"q": title}).json()["events"]
        return next((e for e in events if e["title"] == title), None)

    return wait_until(find, timeout=30, interval=0.1, retry_on=NOT_YET, what=f"event {title!r} in the hub")


def deliveries(hub: RunningHub, event_id: str) -> list[dict[str, Any]]:
    """The event's delivery rows as ``GET /v1/events/{id}/deliveries`` lists them."""
    with hub.client(hub.read_key) as client:
        rows: list[dict[str, Any]] = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    return rows


__all__ = [
    "NOT_YET",
    "deliveries",
    "enable_push_through_the_ui",
    "event_by_title",
    "js",
    "js_async",
    "log_in_separate_process",
    "shown_notifications",
    "wait_js",
]
