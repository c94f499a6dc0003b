"""``GET /v1/stream``: the feed as Server-Sent Events, with the list's filters.

Each matching event is sent as ``event: event`` with ``id: <seq>`` and the StoredEvent as data;
acknowledgements as ``event: ack`` (no id), a resolved alert line as ``event: resolved`` (no id,
``{"id", "seq", "resolved_at", "resolved_by", "resolved_after_s"}``, sent to every stream like acks).
When a dedup follow-up is folded into a line the stream sends ``event: update`` with ``id: <the
follow-up's seq>`` and the line's StoredEvent as it is now (its ``count`` grown), so live views
replace the line's count in place; resuming with ``Last-Event-ID`` replays those updates too. A
client that reconnects with ``Last-Event-ID`` (header, or ``last_event_id`` query parameter) gets
every matching event after that ``seq`` first; without it the stream starts at the newest event (also
when ``Last-Event-ID`` is beyond it). A ``: keepalive`` comment goes out when nothing happened for
``keepalive_interval`` seconds. Live streams are capped in total and per key
(:mod:`pushlog.hub._streams`: 429 ``too_many_streams`` beyond them).

Fan-out: streams with the same filter share one tail (:class:`pushlog.hub._broker.Tail`): a change is
read from the database once for all of them (the unfiltered streams take a publishing request's new
lines from memory, :func:`fresh`), each event is serialized to SSE bytes once, and the
streams at one position share one joined chunk; a stream behind the tail's window (a resume far back,
a slow client) reads from the database on its own until it reaches the window. Per stream, what is
left is one write: the response is a plain ASGI app (:class:`EventStream`) that hands each chunk to
the server as it is, and whatever is due at once (several events, acks) goes out as one chunk.

Correctness: every read (the shared one and a stream's own) records the broker's generation first, reads
everything after the last position, and only then does the stream wait for the generation to move (see
:mod:`pushlog.hub._broker`), so an event committed during the read is picked up by the next read. After
a quiet keepalive interval the tail is read again, which covers writes from other processes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._auth import authenticate
from .._broker import Broker, Fresh, Item
from .._json import encode
from .._models import StreamQuery, bad_query
from .._state import hub_state
from ..store import events as event_store
from ._filters import parse_feed_query

BATCH = 200


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\nevent: {event}\ndata: " if event_id is not None else f"event: {event}\ndata: "
    return b"".join((head.encode(), encode(data), b"\n\n"))


RETRY = b"retry: 2000\n\n"
KEEPALIVE = b": keepalive\n\n"


def _last_event_id(request: Request, query: StreamQuery) -> int | None:
    """The header wins over the ``last_event_id`` parameter (already checked by the query model)."""
    raw = request.headers.get("last-event-id", "").strip()
    if not raw:
        return query.last_event_id
    if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) >= 2**63:
        raise bad_query("Last-Event-ID", "must be an event seq (a non-negative integer)")
    return int(raw)


def _item(row: dict[str, Any] | event_store.Update) -> Item:
    if isinstance(row, event_store.Update):
        return row.position, _sse("update", row.event, row.position)
    return row["seq"], _sse("event", row, row["seq"])


#: The filter of streams that ask for no filter: their shared tail takes a publishing request's new
#: lines from memory (:func:`fresh`).
UNFILTERED = event_store.EventFilter()


def fresh(broker: Broker, lines: Sequence[event_store.NewLine]) -> Fresh | None:
    """What a request that just committed ``lines`` (``IngestResult.lines``) hands the unfiltered
    streams' tail with :meth:`Broker.changed`, so they send the lines without reading them back;
    ``None`` when no such stream is open (nothing to build or serialize)."""
    if not lines or not broker.following(UNFILTERED):
        return None
    return UNFILTERED, lines[0][0] - 1, [_item(event_store.line_event(line)) for line in lines]


async def follow(
    read: Callable[[int], Awaitable[Sequence[dict[str, Any] | event_store.Update]]],
    broker: Broker,
    *,
    position: int,
    keepalive: float,
    batch: int = BATCH,
    share: Hashable | None = None,
) -> AsyncGenerator[bytes, None]:
    """The SSE bytes of a stream: events after ``position`` as ``read(after_seq)`` returns them, acks,
    and keepalives, until the broker closes; everything due at once goes out as one chunk. Streams
    with the same ``share`` key (their filter) read through one tail; ``None`` gives the stream a tail
    of its own. See the module docstring for why nothing is missed."""

    async def read_items(after: int) -> list[Item]:
        return [_item(row) for row in await read(after)]

    key = object() if share is None else share
    tail = broker.tail(key, read_items, position=position, batch=batch, keepalive=keepalive)
    note_position = broker.note_position
    yield RETRY
    while not broker.closed:
        shared = await tail.after(position)
        position, text, seen = shared if shared is not None else await tail.catch_up(position)
        if note_position != broker.note_position:
            notes = broker.notes_after(note_position)
            note_position = notes[-1][0] if notes else broker.note_position
            text += b"".join(_sse(name, payload) for _, name, payload in notes)
        if text:
            yield text
        if seen is None:  # more are waiting
            continue
        # a stream in the window waits for the tail's read (woken once, its items in memory); one
        # catching up for itself waits for the change
        woken = await (tail.wait(seen) if shared is not None else broker.wait(seen, keepalive))
        if not woken:
            tail.expire(keepalive)
            yield KEEPALIVE


async def stream(request: Request) -> EventStream:
    state = hub_state(request)
    key = await authenticate(request, "read")
    query, flt = parse_feed_query(request.query_params, StreamQuery)
    requested = _last_event_id(request, query)
    newest = await state.db_read(event_store.max_seq)
    # Without Last-Event-ID: only new events. An id beyond the newest (a hub whose database was
    # replaced) would silence the stream until seq caught up, so it resumes from the newest instead.
    last = newest if requested is None else min(requested, newest)

    async def read(after: int) -> list[dict[str, Any] | event_store.Update]:
        return await state.db_read(event_store.events_after, flt, after_seq=after, limit=BATCH)

    body = follow(read, state.broker, position=last, keepalive=state.config.keepalive_interval, share=flt)
    release = state.streams.acquire(key.id)  # no await between here and the response owning it
    return EventStream(body, release=release)


class EventStream:
    """The stream's response as a plain ASGI app: each chunk of ``body`` goes to ``send`` as it is
    (bytes made once per event, no per-chunk re-encoding or iterator layers), and the stream ends
    when ``body`` ends or the client disconnects. Its slot is given back however it ends."""

    HEADERS = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),  # a proxy in front (nginx) must not buffer the stream
    ]

    def __init__(self, body: AsyncIterator[bytes], *, release: Callable[[], None]) -> None:
        self._body = body
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": list(self.HEADERS)})
            # uvicorn's send stays silent once the client is gone, so a second task watches receive()
            # for the disconnect; whichever finishes first ends the other.
            writer = asyncio.ensure_future(self._write(send))
            watcher = asyncio.ensure_future(_disconnect(receive))
            try:
                await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
                writer.cancel()
            if writer.done() and not writer.cancelled():
                writer.result()  # a failure of the stream is the request's failure
        finally:
            self._release()

    async def _write(self, send: Send) -> None:
        async for chunk in self._body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


routes = [Route("/v1/stream", stream, methods=["GET"])]
