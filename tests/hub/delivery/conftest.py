"""Fixtures for the delivery tests (helpers live in outbox_support.py; the FCM and APNs stand-ins and
the hub configuration for them come from tests/support/native_services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hub.delivery.outbox_support import T0, Outbox
from tests.support.clock import UTCView, utc_clock
from tests.support.native_services import apns, fcm, native

from pushlog.hub.store import create_engine, migrate

__all__ = ["apns", "fcm", "native"]


@pytest.fixture
def clock() -> UTCView:
    return utc_clock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
def outbox(db_path: Path, clock: UTCView) -> Iterator[Outbox]:
    engine = create_engine(f"sqlite:///{db_path}")
    migrate(engine)
    yield Outbox(engine=engine, clock=clock)
    engine.dispose()
