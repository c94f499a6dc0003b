"""The PostgreSQL relay (hub/_relay.py): a change, an acknowledgement or a resolved alert line in one
hub process wakes the live streams of another on the same database; a process ignores its own
notifications."""

from __future__ import annotations

import asyncio

from tests.support.postgres import new_database

from pushlog.hub._broker import Broker
from pushlog.hub._relay import PgRelay


async def _moved(broker: Broker, generation: int) -> None:
    async with asyncio.timeout(10):
        while not await broker.wait(generation, 10):
            pass


async def test_changes_and_acks_reach_the_other_process(pg_url: str) -> None:
    url = new_database(pg_url)
    here, there = Broker(), Broker()
    relays = [PgRelay(url, here), PgRelay(url, there)]
    for broker, relay in zip((here, there), relays, strict=True):
        await relay.start()
        broker.relay = relay
    try:
        generation = there.generation
        await here.changed()
        await _moved(there, generation)

        ack = {"id": "ev-1", "acknowledged_at": "2026-01-01T12:00:00.000000Z"}
        resolved = [
            {
                "id": f"ev-{n}",
                "seq": n,
                "resolved_at": "2026-01-01T12:01:00.000000Z",
                "resolved_by": "rule:r",
                "resolved_after_s": 60.0,
            }
            for n in (2, 3)
        ]
        position = there.note_position
        await here.acknowledged(ack)
        await here.resolved(resolved)
        async with asyncio.timeout(10):
            while len(there.notes_after(position)) < 3:
                await there.wait(there.generation, 10)
        assert [(name, payload) for _, name, payload in there.notes_after(position)] == [
            ("ack", ack),
            ("resolved", resolved[0]),
            ("resolved", resolved[1]),
        ]

        # the sender heard only the other's notifications, never its own
        await there.changed()
        async with asyncio.timeout(10):
            while relays[0].received == 0:
                await here.wait(here.generation, 10)
        assert relays[0].received == 1
        assert relays[1].received == 4
        # its own notes once each, not echoed back
        assert [name for _, name, _ in here.notes_after(0)] == ["ack", "resolved", "resolved"]
    finally:
        for relay in relays:
            await relay.aclose()
