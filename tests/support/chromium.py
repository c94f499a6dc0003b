"""The one Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright (nothing is
downloaded), with the flags a headless CI run needs, and the web app's sign-in step.

Firefox (for real Web Push through Mozilla's push service) is tests/support/firefox.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

CHROMIUM: Final = "/usr/bin/chromium"
#: The pictures docs/webapp.md shows.
DOC_SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: Headless, sandbox off (containers), no background traffic, and no host but loopback resolvable.
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # No name resolution at all: a page or notification naming an outside host (an event's image on
    # cdn.example.com) fails at once instead of waiting on whatever DNS the machine has (showNotification
    # waits for its image, so a resolver that hangs stalls the notification past a test's timeout).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def launch_chromium(playwright: Playwright) -> Browser:
    """Start Chromium; a missing binary fails the test with how to install it."""
    if not os.path.exists(CHROMIUM):  # pragma: no cover - `make system-deps` installs it
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps`", pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def chromium_browser() -> Iterator[Browser]:
    """Playwright with one Chromium, closed on exit (what a test module's ``browser`` fixture yields)."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def screenshots_dir(otherwise: Path) -> Path:
    """Where a test's screenshots go: docs/screenshots/ with ``PUSHLOG_UPDATE_SCREENSHOTS=1``, else
    ``otherwise`` (a tmp dir), so an ordinary run never rewrites the documentation's pictures."""
    return DOC_SCREENSHOTS if os.environ.get("PUSHLOG_UPDATE_SCREENSHOTS") == "1" else otherwise


def sign_in(page: Page, key: str, path: str = "/") -> None:
    """Open the web app at ``path`` and sign in with ``key`` (waits for the navigation bar)."""
    page.goto(path)
    page.fill("#key", key)
    page.click("#sign-in-button")
    expect(page.locator("#nav")).to_be_visible()


def watched_page(context: BrowserContext) -> tuple[Page, list[str]]:
    """A new page of ``context`` and the list its uncaught JavaScript errors are collected in (a test
    asserts it empty at the end: a screen that works but threw is still broken)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors
