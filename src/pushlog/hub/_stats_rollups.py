"""The ``delivery_rollups`` duty: folds the hours of deliveries that are old enough into the hourly
delivery rollups, and refolds the hours whose deliveries changed since
(:func:`pushlog.hub.store.delivery_rollups.fold`, idempotent and safe in several processes), so that
``GET /v1/stats`` reads a few hours of delivery rows at most whatever its window. One run goes on
until caught up, one short transaction per slice of hours, so the first run on an upgraded hub
(everything stored to fold) lets ingest through between slices."""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Final

import sqlalchemy as sa

from ._duties import Duty
from .store.delivery_rollups import Folded, fold

NAME: Final = "delivery_rollups"
#: Seconds of the hub's clock between folds: the live rows a stats answer reads are at most the
#: fold's lag plus this.
INTERVAL: Final = 300.0


def duty(engine: sa.Engine, *, interval: float = INTERVAL) -> Duty:
    """The fold as a periodic duty of the hub (``hub/_duties.py``)."""

    def run(now: _dt.datetime) -> Folded:
        return fold(engine, now)

    async def run_due(now: _dt.datetime) -> Folded:
        return await asyncio.to_thread(run, now)

    return Duty(NAME, interval, run_due)
