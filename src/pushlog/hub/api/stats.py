"""``GET /v1/stats`` (read scope): exact counts for a time window, for the dashboard and scripts.

Query parameters:

* ``since``: an RFC 3339 timestamp, or a duration back from now (``24h``, ``7d``, ``90m``);
  default ``24h``.
* ``until``: an RFC 3339 timestamp (exclusive). Without it the window is open-ended: buckets run
  to now (the hub's clock), and rows stamped later (a client clock running ahead) still count.
* ``bucket``: ``hour`` (default) or ``day``; at most :data:`MAX_BUCKETS` buckets per answer.

The answer's sections (events, deliveries, pushes, clients) are described in
:mod:`pushlog.hub.store.stats`. Also here: :func:`client_dropped`, which reads the drop report a
client puts in the publish envelope (``"client": {"dropped": n}``) so ingest can record it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._duration import parse_duration
from ..._event import parse_ts
from .._auth import authenticate
from .._errors import ApiError
from .._state import hub_state
from .._validate import invalid
from ..store import stats as stats_store
from ..store.outbox import DeliveryStatus

DEFAULT_SINCE: Final = _dt.timedelta(hours=24)
MAX_BUCKETS: Final = 24 * 62


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_query", f"query parameter {name}: {message}")


def _moment(name: str, raw: str, now: _dt.datetime, *, relative: bool) -> _dt.datetime:
    try:
        return parse_ts(raw)
    except ValueError:
        pass
    if relative:
        try:
            delta = parse_duration(raw, name)
        except ValueError:
            pass
        else:
            if delta.total_seconds() > 0:
                return now - delta
    hint = " or a duration like 24h" if relative else ""
    raise _bad(name, f"must be an RFC 3339 timestamp like 2026-01-31T12:00:00Z{hint}")


def parse_window(params: Any, now: _dt.datetime) -> stats_store.Window:
    """The window a request asks for; 400 ``invalid_query`` for anything unusable."""
    unit = params.get("bucket") or "hour"
    if unit not in stats_store.BUCKETS:
        raise _bad("bucket", f"must be one of {', '.join(stats_store.BUCKETS)}")
    since = _moment("since", params["since"], now, relative=True) if params.get("since") else None
    until = _moment("until", params["until"], now, relative=False) if params.get("until") else now
    if since is None:
        since = until - DEFAULT_SINCE
    if since >= until:
        raise _bad("since", "must be before until")
    window = stats_store.Window(since=since, until=until, unit=unit, bounded=bool(params.get("until")))
    if (until - since) / stats_store.BUCKETS[unit] > MAX_BUCKETS:
        raise _bad("since", f"the window spans more than {MAX_BUCKETS} {unit} buckets; use bucket=day")
    return window


def client_dropped(body: Any) -> tuple[int, str | None]:
    """``(dropped, sdk)`` from a publish envelope's optional ``client`` object (``(0, None)`` if absent).

    Raises 422 ``invalid`` when ``client.dropped`` is not a non-negative integer.
    """
    client = body.get("client") if isinstance(body, dict) else None
    if not isinstance(client, dict):
        return 0, None
    dropped = client.get("dropped", 0)
    if isinstance(dropped, bool) or not isinstance(dropped, int) or dropped < 0:
        raise invalid("client.dropped", "must be a non-negative integer")
    sdk = client.get("sdk")
    return dropped, sdk if isinstance(sdk, str) else None


def client_recovered(body: Any) -> int:
    """``client.recovered`` of a publish envelope (0 if absent): how many of the batch's events the
    client sent from a spool an earlier process left. Raises 422 ``invalid`` unless a non-negative
    integer."""
    client = body.get("client") if isinstance(body, dict) else None
    recovered = client.get("recovered", 0) if isinstance(client, dict) else 0
    if isinstance(recovered, bool) or not isinstance(recovered, int) or not 0 <= recovered < 2**31:
        raise invalid("client.recovered", "must be a non-negative integer")
    return recovered


async def get_stats(request: Request) -> Response:
    state = hub_state(request)
    await authenticate(request, "read")
    window = parse_window(request.query_params, state.clock())
    return JSONResponse(await state.db_read(stats_store.stats, window))


routes = [Route("/v1/stats", get_stats, methods=["GET"])]


# -- OpenAPI (merged into the hub's document by ``hub/_openapi.py``) ----------------------------------

_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_STATUS_COUNTS = {"type": "object", "properties": {s.value: _INT for s in DeliveryStatus}}
_LEVEL_COUNTS = {
    "type": "object",
    "properties": {name: _INT for name in ("debug", "info", "warning", "error", "critical")},
}

OPENAPI_SCHEMAS: Final[dict[str, Any]] = {
    "Stats": {
        "type": "object",
        "properties": {
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
            "bucket": {"type": "string", "enum": list(stats_store.BUCKETS)},
            "events": {
                "type": "object",
                "description": "Stored events by their ts; occurrences sums their count (dedup).",
                "properties": {
                    "total": _INT,
                    "occurrences": _INT,
                    "by_level": _LEVEL_COUNTS,
                    "buckets": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                _LEVEL_COUNTS,
                                {"properties": {"start": {"type": "string", "format": "date-time"}}},
                            ]
                        },
                    },
                },
            },
            "deliveries": {
                "type": "object",
                "description": "Delivery rows created in the window, by status and by device.",
                "properties": {
                    "total": _INT,
                    "by_status": _STATUS_COUNTS,
                    "by_device": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "device_id": {"type": "string"},
                                "name": {"type": ["string", "null"]},
                                "kind": {"type": ["string", "null"]},
                                "removed": {"type": "boolean"},
                                "total": _INT,
                                "by_status": _STATUS_COUNTS,
                            },
                        },
                    },
                },
            },
            "pushes": {
                "type": "object",
                "properties": {
                    "sent": _INT,
                    "failed": _INT,
                    "delivered": _INT,
                    "opened": _INT,
                    "acknowledged": _INT,
                    "median_delivery_latency_s": {"type": ["number", "null"]},
                },
            },
            "clients": {
                "type": "object",
                "description": "Events clients reported dropping (queue full, hub unreachable), and "
                "events they sent from a spool an earlier process left (recovered).",
                "properties": {
                    "dropped": _INT,
                    "recovered": _INT,
                    "by_key": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "key_id": {"type": ["string", "null"]},
                                "key_name": {"type": ["string", "null"]},
                                "dropped": _INT,
                                "recovered": _INT,
                                "reports": _INT,
                            },
                        },
                    },
                    "buckets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "start": {"type": "string", "format": "date-time"},
                                "dropped": _INT,
                                "recovered": _INT,
                            },
                        },
                    },
                },
            },
        },
    }
}


def openapi_paths() -> dict[str, Any]:
    def param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return {
        "/v1/stats": {
            "get": {
                "summary": "Statistics for a time window",
                "description": "Needs a key with scope `read` or higher. Exact counts of events per bucket "
                "and level, deliveries by status and device, push milestones with the median "
                "sent-to-delivered latency, and events clients reported dropping.",
                "security": [{"bearer": []}],
                "parameters": [
                    param("since", "RFC 3339 timestamp or a duration back from now", {"type": "string"}),
                    param("until", "RFC 3339 timestamp (exclusive); default: open-ended", {"type": "string"}),
                    param("bucket", "bucket size", {"type": "string", "enum": list(stats_store.BUCKETS)}),
                ],
                "responses": {
                    "200": {
                        "description": "The counts",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stats"}}},
                    },
                    **{str(c): {"$ref": f"#/components/responses/E{c}"} for c in (400, 401, 403, 429)},
                },
            }
        }
    }
