"""Feed filters from query parameters, shared by the list and the live stream.

``level`` (minimum), ``channel`` and ``tag`` (repeatable; channels OR, tags AND), ``meta.KEY=VALUE``
(repeatable, AND), ``q`` (text in title or body, case-insensitive), ``since``/``until`` (RFC 3339,
on the event's ``ts``; ``until`` exclusive). Invalid values answer 400 ``invalid_query``.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams

from ..._event import parse_ts
from ..._levels import parse_level
from .._errors import ApiError
from ..store.events import EventFilter


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_query", f"query parameter {name}: {message}")


def parse_filter(params: QueryParams) -> EventFilter:
    min_level = None
    if params.get("level"):
        try:
            min_level = parse_level(params["level"])
        except ValueError as exc:
            raise _bad("level", str(exc)) from None
    times = {}
    for name in ("since", "until"):
        value = params.get(name)
        if value:
            try:
                times[name] = parse_ts(value)
            except ValueError:
                raise _bad(name, "must be an RFC 3339 timestamp like 2026-01-31T12:00:00Z") from None
    meta = tuple(
        (key[len("meta.") :], value)
        for key, value in params.multi_items()
        if key.startswith("meta.") and len(key) > len("meta.")
    )
    return EventFilter(
        min_level=min_level,
        channels=tuple(c for c in params.getlist("channel") if c),
        tags=tuple(t for t in params.getlist("tag") if t),
        meta=meta,
        text=params.get("q") or None,
        since=times.get("since"),
        until=times.get("until"),
    )


def parse_limit(params: QueryParams, *, default: int = 50, maximum: int = 200) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _bad("limit", f"must be an integer from 1 to {maximum}")
    return int(raw)
