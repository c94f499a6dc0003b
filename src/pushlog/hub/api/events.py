"""``/v1/events``: publish (ingest), list the feed, read one event, acknowledge, its deliveries."""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import receipts
from .._auth import authenticate, bearer_secret
from .._errors import ApiError
from .._json import JSONResponse
from .._models import AckRequest, ListQuery, PublishResult, bad_query, decode_body, decode_publish
from .._state import hub_state
from ..store import deliveries as delivery_store
from ..store import events as event_store
from ..store import stats as stats_store
from ..store.events import IngestResult
from . import stream
from ._filters import parse_feed_query


async def publish(request: Request) -> Response:
    """Store a batch of events (idempotent on id) and their round-0 deliveries; 202 when on disk.
    Events that fail validation are listed in ``rejected`` and cost none of the others."""
    state = hub_state(request)
    key = await authenticate(request, "publish")
    now = state.clock()
    parsed = decode_publish(await request.body(), now=now, max_events=state.config.max_batch_events)
    batch, client = parsed.events, parsed.client
    repeat = event_store.Repeat(
        interval=_dt.timedelta(seconds=state.config.critical_repeat_interval),
        expiry=_dt.timedelta(seconds=state.config.critical_expiry),
    )
    # With a dispatcher in this process, the first pushes are claimed in the ingest transaction and
    # handed to it: prepared (built, encrypted) on the loop while the transaction commits, posted once
    # it has; they leave without a claim transaction (store/outbox.py). A failed commit sends nothing.
    delivery = state.delivery
    handoff = delivery.handoff() if delivery is not None else None
    ingest = state.rules.ingest_job(
        batch,
        now=now,
        then=lambda screened: state.push_budget.ingest_job(
            batch=screened,
            key_id=key.id,
            key_name=key.name,
            now=now,
            repeat=repeat,
            lease=delivery.lease if delivery is not None else None,
        ),
    )

    def job(conn: sa.Connection) -> IngestResult:
        ran = ingest(conn)
        if handoff is not None:
            handoff.prepare(ran.claimed)  # the loop prepares while this thread commits
        return ran

    try:
        result = await state.ingest(job)
        # First the pushes: one loop turn lets their requests go out (a prepared push is written in
        # its task's first step) before the streams' chunks and this 202, each of which would
        # otherwise cost the push about a millisecond of this loop (docs/performance.md, Latency).
        if handoff is not None and handoff.send(result.claimed):
            await asyncio.sleep(0)
        if result.accepted:
            state.metrics.ingested(result.levels)
            # then the streams take the new lines from memory
            await state.broker.changed(stream.fresh(state.broker, result.lines))
    finally:
        if handoff is not None:
            handoff.drop()  # nothing left after send; else what was prepared for a failed commit
    if (client.dropped or client.recovered) and result.accepted:  # a retried batch counted already
        await state.db(
            stats_store.record_client_report,
            dropped=client.dropped,
            recovered=client.recovered,
            key_id=key.id,
            sdk=client.sdk,
            now=now,
        )
    # rows nobody claimed yet (rules, resolved alerts), or audiences still to expand past the first chunk
    if result.deliveries > len(result.claimed) or result.expanding:
        state.wake_delivery()
    answer = PublishResult(accepted=result.accepted, duplicates=result.duplicates, rejected=parsed.rejected)
    return JSONResponse(answer, status_code=202)


async def list_events(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    query, flt = parse_feed_query(request.query_params, ListQuery)
    before = None
    if query.cursor:
        try:
            before = event_store.decode_cursor(query.cursor)
        except ValueError:
            before = None
        if before is None or not 0 <= before < 2**63:
            raise bad_query("cursor", "not a cursor this hub gave")
    page, next_cursor = await state.db_read(
        event_store.list_events, flt, limit=query.limit, before_seq=before
    )
    return JSONResponse({"events": page, "next_cursor": next_cursor})


async def get_event(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    event_id = request.path_params["event_id"]

    def read(conn: Any) -> dict[str, Any] | None:
        found = event_store.get_event(conn, event_id)
        if found is not None:
            found["deliveries"] = delivery_store.deliveries_for_event(conn, event_id)
        return found

    found = await state.db_read(read)
    if found is None:
        raise ApiError(404, "not_found", f"no event with id {event_id}")
    return JSONResponse(found)


async def event_deliveries(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    event_id = request.path_params["event_id"]

    def read(conn: Any) -> list[dict[str, Any]] | None:
        if event_store.get_event(conn, event_id) is None:
            return None
        return delivery_store.deliveries_for_event(conn, event_id)

    rows = await state.db_read(read)
    if rows is None:
        raise ApiError(404, "not_found", f"no event with id {event_id}")
    return JSONResponse({"deliveries": rows})


async def acknowledge(request: Request) -> Response:
    """Acknowledge with a read key, or with the receipt token of one of the event's deliveries."""
    state = hub_state(request)
    event_id = request.path_params["event_id"]
    body = decode_body(await request.body(), AckRequest, optional=True)
    token = body.token
    if bearer_secret(request) is not None or token is None:
        key = await authenticate(request, "read")
        by = f"key:{key.name}"
    else:
        secret = state.require_secrets().receipt_secret
        wanted = body.delivery_id
        ids = await state.db_read(delivery_store.delivery_ids_for_event, event_id)
        candidates = [d for d in ids if wanted is None or d == wanted]
        matched = next((d for d in candidates if receipts.verify_token(secret, d, token)), None)
        if matched is None:
            raise ApiError(401, "unauthorized", "receipt token does not match a delivery of this event")
        by = f"device:{matched}"
    found = await state.db(event_store.acknowledge, event_id, by=by, now=state.clock())
    if found is None:
        raise ApiError(404, "not_found", f"no event with id {event_id}")
    await state.broker.acknowledged({"id": found["id"], "acknowledged_at": found["acknowledged_at"]})
    return JSONResponse(found)


routes = [
    Route("/v1/events", publish, methods=["POST"]),
    Route("/v1/events", list_events, methods=["GET"]),
    Route("/v1/events/{event_id}", get_event, methods=["GET"]),
    Route("/v1/events/{event_id}/ack", acknowledge, methods=["POST"]),
    Route("/v1/events/{event_id}/deliveries", event_deliveries, methods=["GET"]),
]
