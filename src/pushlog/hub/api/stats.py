"""``GET /v1/stats`` (read scope): exact counts for a time window, for the dashboard and scripts.

Query parameters:

* ``since``: an RFC 3339 timestamp, or a duration back from now (``24h``, ``7d``, ``90m``);
  default ``24h``.
* ``until``: an RFC 3339 timestamp (exclusive). Without it the window is open-ended: buckets run
  to now (the hub's clock), and rows stamped later (a client clock running ahead) still count.
* ``bucket``: ``hour`` (default) or ``day``; at most :data:`MAX_BUCKETS` buckets per answer.

The answer's sections (events, deliveries, pushes, clients) are described in
:mod:`pushlog.hub.store.stats`; the query's shape is :class:`pushlog.hub._models.StatsQuery`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._duration import parse_seconds
from .._auth import authenticate
from .._json import JSONResponse
from .._models import MIN_TIME, StatsQuery, bad_query, check_time, parse_query
from .._state import hub_state
from ..store import stats as stats_store

DEFAULT_SINCE: Final = _dt.timedelta(hours=24)
MAX_BUCKETS: Final = 24 * 62


def _since(raw: str, now: _dt.datetime) -> _dt.datetime:
    """An RFC 3339 timestamp, or a duration back from ``now`` that stays after :data:`MIN_TIME`."""
    try:
        return check_time(msgspec.convert(raw, _dt.datetime), "since", error=bad_query)
    except msgspec.ValidationError:
        pass
    try:
        seconds = parse_seconds(raw, "since")
    except ValueError:
        raise bad_query(
            "since", "must be an RFC 3339 timestamp like 2026-01-31T12:00:00Z or a duration like 24h"
        ) from None
    if seconds > (now - MIN_TIME).total_seconds():
        raise bad_query("since", "reaches back before 1970-01-01T00:00:00Z")
    return now - _dt.timedelta(seconds=seconds)


def parse_window(params: Any, now: _dt.datetime) -> stats_store.Window:
    """The window a request asks for; 400 ``invalid_query`` for anything unusable."""
    query = parse_query(params, StatsQuery)
    unit = query.bucket
    until = check_time(query.until, "until", error=bad_query) if query.until else now
    since = _since(query.since, now) if query.since else until - DEFAULT_SINCE
    if since >= until:
        raise bad_query("since", "must be before until")
    window = stats_store.Window(since=since, until=until, unit=unit, bounded=query.until is not None)
    if (until - since) / stats_store.BUCKETS[unit] > MAX_BUCKETS:
        raise bad_query("since", f"the window spans more than {MAX_BUCKETS} {unit} buckets; use bucket=day")
    return window


async def get_stats(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    window = parse_window(request.query_params, state.clock())
    top = parse_query(request.query_params, StatsQuery).top
    return JSONResponse(await state.db_read(stats_store.stats, window, top=top))


routes = [Route("/v1/stats", get_stats, methods=["GET"])]
