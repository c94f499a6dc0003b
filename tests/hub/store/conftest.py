"""Store fixtures: an ``engine`` fixture that runs each test once on SQLite and once on PostgreSQL (a
clean, freshly migrated schema every time; the server is tests/hub/conftest.py's ``pg_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pushlog.hub.store import create_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    made = create_engine(url)
    if request.param == "postgresql":
        with made.begin() as conn:  # a clean schema per test
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    migrate(made)
    yield made
    made.dispose()
