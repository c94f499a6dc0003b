"""Hub tests use the shared hub fixtures, and one real PostgreSQL server per test session (``pg_url``:
the store tests, the multi-process tests)."""

from collections.abc import Iterator

import pytest
from tests.support.hub_server import hub, hub_factory
from tests.support.postgres import postgres_server

__all__ = ["hub", "hub_factory"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url
