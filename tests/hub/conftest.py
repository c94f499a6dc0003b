"""Hub tests use the shared hub fixtures, a loopback RFC 8030 push service per test (``push_service``),
one real PostgreSQL server per test session (``pg_url``: the store tests, the multi-process tests),
and one Chromium per browser test module (``browser``)
with the folder its screenshots go to (``screenshots``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.support.hub_server import hub, hub_factory
from tests.support.postgres import postgres_server
from tests.support.push_service import PushService

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["hub", "hub_factory"]


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A Web Push service stand-in on loopback (VAPID tokens are checked on wall time, whatever the
    hub's clock)."""
    with PushService() as svc:
        yield svc


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module's tests (playwright is loaded only by browser tests)."""
    from tests.support.chromium import chromium_browser

    with chromium_browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/screenshots/ with ``PUSHLOG_UPDATE_SCREENSHOTS=1``, else a tmp dir: an ordinary run never
    rewrites the documentation's pictures."""
    from tests.support.chromium import screenshots_dir

    return screenshots_dir(tmp_path_factory.mktemp("screenshots"))
