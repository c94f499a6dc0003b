"""JSON columns are written by msgspec and read back as json.dumps/json.loads would, with the stdlib
as the fallback for what msgspec refuses."""

from __future__ import annotations

import json
import math

import sqlalchemy as sa

from pushlog.hub.store._engine import json_text, json_value


def test_json_text_round_trips_what_ingest_stores() -> None:
    value = {
        "user_id": 42,
        "plan": "pro · annual",
        "amount": 29.5,
        "ok": True,
        "none": None,
        "list": [1, "a"],
    }
    assert json.loads(json_text(value)) == value
    assert json_value(json_text(value)) == value


def test_what_msgspec_refuses_goes_through_the_stdlib() -> None:
    assert json.loads(json_text({"big": 2**70})) == {"big": 2**70}
    assert json_value(json.dumps("\ud800")) == "\ud800"
    assert math.isnan(json_value('{"x": NaN}')["x"])  # an older hub may have stored it


def test_engine_writes_and_reads_json_columns_with_them(engine: sa.Engine) -> None:
    table = sa.Table(
        "json_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.JSON)
    )
    table.create(engine)
    value = {"k": [1, 2.5, "é", None], "big": 2**70}
    with engine.begin() as conn:
        conn.execute(table.insert(), {"id": 1, "v": value})
    with engine.connect() as conn:
        assert conn.execute(sa.select(table.c.v)).scalar_one() == value
