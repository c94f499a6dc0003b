"""Feed filters from query parameters, shared by the list and the live stream.

``level`` (minimum), ``channel`` and ``tag`` (repeatable; channels OR, tags AND), ``meta.KEY=VALUE``
(repeatable, AND), ``q`` (text in title or body, case-insensitive), ``since``/``until`` (RFC 3339,
on the event's ``ts``; ``until`` exclusive). The shapes are :class:`pushlog.hub._models.FeedQuery`
and its subclasses; invalid values answer 400 ``invalid_query``.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.datastructures import QueryParams

from ..._levels import parse_level
from .._models import FeedQuery, bad_query, check_time, parse_query
from ..store.events import EventFilter

Q = TypeVar("Q", bound=FeedQuery)


def parse_feed_query(params: QueryParams, model: type[Q]) -> tuple[Q, EventFilter]:
    """The query as ``model`` and the :class:`EventFilter` it describes."""
    query = parse_query(params, model, rename={"last_event_id": "Last-Event-ID"})
    min_level = None
    if query.level:
        try:
            min_level = parse_level(query.level)
        except ValueError as exc:
            raise bad_query("level", str(exc)) from None
    since = check_time(query.since, "since", error=bad_query) if query.since else None
    until = check_time(query.until, "until", error=bad_query) if query.until else None
    meta = tuple(
        (key[len("meta.") :], value)
        for key, value in params.multi_items()
        if key.startswith("meta.") and len(key) > len("meta.")
    )
    flt = EventFilter(
        min_level=min_level,
        channels=tuple(query.channel),
        tags=tuple(query.tag),
        meta=meta,
        text=query.q or None,
        since=since,
        until=until,
    )
    return query, flt
