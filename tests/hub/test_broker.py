"""The live stream's fan-out: streams with one filter share one database read per change, a stream
behind the shared window catches up on its own and then joins it, and no stream misses or repeats an
event. Driven through ``follow`` with an in-memory table standing in for the database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pushlog.hub._broker import Broker
from pushlog.hub.api.stream import _item, follow

ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)


class Table:
    """Rows ``{"seq", "title"}`` and a count of the reads the streams made."""

    def __init__(self, seqs: Sequence[int] = ()) -> None:
        self.rows: list[dict[str, Any]] = [{"seq": s, "title": f"e{s}"} for s in seqs]
        self.reads = 0

    async def read(self, after: int, limit: int = 3) -> list[dict[str, Any]]:
        self.reads += 1
        return [row for row in self.rows if row["seq"] > after][:limit]

    async def add(self, broker: Broker, seq: int) -> None:
        self.rows.append({"seq": seq, "title": f"e{seq}"})
        await broker.changed()


async def ids_until(body: AsyncIterator[bytes], last: int) -> list[int]:
    """The event ids a stream sends, up to and including ``last``."""
    got: list[int] = []
    while not got or got[-1] < last:
        chunk = await asyncio.wait_for(anext(body), 5)
        got.extend(int(match) for match in ID.findall(chunk))
    return got


async def test_streams_with_one_filter_share_one_read_per_change() -> None:
    broker, table = Broker(), Table()
    bodies = [follow(table.read, broker, position=0, keepalive=600, batch=3, share="all") for _ in range(50)]
    for body in bodies:
        assert await anext(body) == b"retry: 2000\n\n"
    for seq in (1, 2):
        await table.add(broker, seq)
        before = table.reads
        chunks = await asyncio.gather(*(asyncio.wait_for(anext(body), 5) for body in bodies))
        assert all(ID.findall(chunk) == [str(seq).encode()] for chunk in chunks)
        assert table.reads == before + 1  # one read for fifty streams
        assert all(chunk is chunks[0] for chunk in chunks)  # and one chunk: joined once, not per stream
    for body in bodies:
        await body.aclose()


async def test_a_stream_behind_the_window_catches_up_alone_and_misses_nothing() -> None:
    broker, table = Broker(window=4), Table(range(1, 41))
    head = follow(table.read, broker, position=40, keepalive=600, batch=3, share="all")
    behind = follow(table.read, broker, position=0, keepalive=600, batch=3, share="all")
    assert await anext(head) == await anext(behind) == b"retry: 2000\n\n"

    async def writer() -> None:
        for seq in range(41, 61):
            await table.add(broker, seq)
            await asyncio.sleep(0)  # let the streams interleave with the writes

    results = await asyncio.gather(ids_until(head, 60), ids_until(behind, 60), writer())
    assert results[0] == list(range(41, 61))
    assert results[1] == list(range(1, 61))
    await head.aclose()
    await behind.aclose()


async def test_a_resumed_stream_joins_the_shared_read_once_caught_up() -> None:
    """Its catch-up read finds nothing between its last item (6) and the window's start (10): it
    still joins the window instead of reading on its own at every change."""
    broker, table = Broker(), Table([1, 2, 6])
    head = follow(table.read, broker, position=10, keepalive=600, batch=3, share="all")
    resumed = follow(table.read, broker, position=5, keepalive=600, batch=3, share="all")
    await anext(head)
    await anext(resumed)
    assert ID.findall(await asyncio.wait_for(anext(resumed), 5)) == [b"6"]
    for seq in (11, 12):
        await table.add(broker, seq)
        before = table.reads
        chunks = await asyncio.gather(asyncio.wait_for(anext(head), 5), asyncio.wait_for(anext(resumed), 5))
        assert [ID.findall(chunk) for chunk in chunks] == [[str(seq).encode()]] * 2
        assert table.reads == before + 1
    await head.aclose()
    await resumed.aclose()


async def test_the_tails_keepalive_reaches_every_stream_and_comes_again() -> None:
    """One timer per tail, not one per stream: each of its streams still gets a keepalive after every
    quiet interval, and an event in between is sent as itself."""
    broker, table = Broker(), Table()
    bodies = [follow(table.read, broker, position=0, keepalive=0.05, batch=3, share="all") for _ in range(3)]
    for body in bodies:
        assert await anext(body) == b"retry: 2000\n\n"
    for _ in range(2):
        chunks = await asyncio.gather(*(asyncio.wait_for(anext(body), 5) for body in bodies))
        assert chunks == [b": keepalive\n\n"] * 3
    await table.add(broker, 1)
    chunks = await asyncio.gather(*(asyncio.wait_for(anext(body), 5) for body in bodies))
    assert [ID.findall(chunk) for chunk in chunks] == [[b"1"]] * 3
    for body in bodies:
        await body.aclose()


async def test_events_and_an_ack_due_together_go_out_as_one_chunk() -> None:
    broker, table = Broker(), Table()
    body = follow(table.read, broker, position=0, keepalive=600, batch=3, share="all")
    assert await anext(body) == b"retry: 2000\n\n"
    table.rows.extend({"seq": seq, "title": f"e{seq}"} for seq in (1, 2))
    await broker.acknowledged({"id": "e1", "acknowledged_at": "2026-01-01T00:00:00Z"})  # also a change
    chunk = await asyncio.wait_for(anext(body), 5)
    assert ID.findall(chunk) == [b"1", b"2"]
    assert chunk.endswith(b'event: ack\ndata: {"id":"e1","acknowledged_at":"2026-01-01T00:00:00Z"}\n\n')
    await body.aclose()


async def offer(broker: Broker, table: Table, seq: int, *, after: int | None = None) -> None:
    """Commit ``seq`` and hand it to the ``"all"`` tail as the committing request holds it."""
    row = {"seq": seq, "title": f"e{seq}"}
    table.rows.append(row)
    await broker.changed(("all", seq - 1 if after is None else after, [_item(row)]))


async def test_a_tail_takes_the_committed_lines_without_a_read_when_they_continue_its_window() -> None:
    broker, table = Broker(), Table()
    bodies = [follow(table.read, broker, position=0, keepalive=600, batch=3, share="all") for _ in range(3)]
    for body in bodies:
        await anext(body)
    await table.add(broker, 1)  # the first change is read: the tail's window starts complete
    for body in bodies:
        assert await ids_until(body, 1) == [1]
    before = table.reads
    for seq in (2, 3):
        await offer(broker, table, seq)
        chunks = await asyncio.gather(*(asyncio.wait_for(anext(body), 5) for body in bodies))
        assert all(ID.findall(chunk) == [str(seq).encode()] for chunk in chunks)
    assert table.reads == before  # sent from memory
    for body in bodies:
        await body.aclose()


async def test_lines_that_do_not_continue_the_window_are_read_instead() -> None:
    broker, table = Broker(), Table()
    body = follow(table.read, broker, position=0, keepalive=600, batch=3, share="all")
    await anext(body)
    await table.add(broker, 1)
    assert ID.findall(await asyncio.wait_for(anext(body), 5)) == [b"1"]
    table.rows.append({"seq": 2, "title": "e2"})  # committed by another process, not announced here
    before = table.reads
    await offer(broker, table, 3)  # follows 2, which the tail never saw
    assert await ids_until(body, 3) == [2, 3]
    assert table.reads > before
    other = follow(table.read, broker, position=3, keepalive=600, batch=3, share="filtered")
    await anext(other)
    before = table.reads
    await offer(broker, table, 4)  # for the "all" tail only: the filtered one reads
    assert await ids_until(body, 4) == [4]
    assert await ids_until(other, 4) == [4]
    assert table.reads == before + 1
    await body.aclose()
    await other.aclose()


async def test_streams_write_the_lines_handed_to_them_before_the_committer_goes_on() -> None:
    """A publish request answers its client and starts its pushes after ``changed`` returns: the
    streams woken with the lines in memory have written them by then (they are not behind the answer)."""
    broker, table = Broker(), Table()
    written: list[list[int]] = [[], []]
    arrived = [asyncio.Event(), asyncio.Event()]

    async def write(n: int) -> None:  # as EventStream._write: each chunk goes to the socket as it comes
        async for chunk in follow(table.read, broker, position=0, keepalive=600, batch=3, share="all"):
            written[n].extend(int(match) for match in ID.findall(chunk))
            arrived[n].set()

    writers = [asyncio.ensure_future(write(n)) for n in range(2)]
    await table.add(broker, 1)  # read from the table: the tail's window starts complete
    for event in arrived:
        await asyncio.wait_for(event.wait(), 5)
    await offer(broker, table, 2)
    assert written == [[1, 2], [1, 2]]  # no await between: written during changed()
    for writer in writers:
        writer.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
