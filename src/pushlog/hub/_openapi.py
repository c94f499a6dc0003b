"""The hub's OpenAPI 3.1 document, written by hand (served at ``/openapi.json``).

A test checks that every route of :func:`pushlog.hub.app.api_routes` appears here with its methods.
"""

from __future__ import annotations

from typing import Any

from .api import heartbeats, stats
from .store.outbox import RECEIPT_STATUSES, DeliveryStatus

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_LEVEL = {"type": "string", "enum": ["debug", "info", "warning", "error", "critical"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON, invalid UTF-8 or a bad query parameter",
        401: "Missing, unknown or revoked key (or bad receipt token)",
        403: "The key's scope is too low",
        404: "Not found",
        413: "Request body too large",
        422: "Well-formed but invalid (wrong types, missing fields)",
        429: "Rate limited; see Retry-After",
    }
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes if code in text}


def _op(summary: str, responses: dict[str, Any], *, scope: str | None, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    operation["security"] = [{"bearer": []}] if scope else []
    if scope:
        operation["description"] = f"Needs a key with scope `{scope}` or higher. " + extra.get(
            "description", ""
        )
    return operation


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _STR}


_FILTER_PARAMS: list[dict[str, Any]] = [
    {"name": "level", "in": "query", "schema": _LEVEL, "description": "minimum level"},
    {"name": "channel", "in": "query", "schema": _STR, "description": "repeatable; any of"},
    {"name": "tag", "in": "query", "schema": _STR, "description": "repeatable; all of"},
    {
        "name": "meta",
        "in": "query",
        "style": "deepObject",
        "schema": {"type": "object", "additionalProperties": _STR},
        "description": "metadata equality, written meta.KEY=VALUE (repeatable; all of)",
    },
    {"name": "q", "in": "query", "schema": _STR, "description": "text in title or body"},
    {"name": "since", "in": "query", "schema": _TIME},
    {"name": "until", "in": "query", "schema": _TIME, "description": "exclusive"},
]

_EVENT_PROPS: dict[str, Any] = {
    "id": {"type": "string", "maxLength": 64, "description": "client-made UUID; the idempotency key"},
    "ts": _TIME,
    "level": _LEVEL,
    "title": {"type": "string", "minLength": 1, "maxLength": 256},
    "body": _NSTR,
    "channel": _NSTR,
    "tags": {"type": "array", "items": _STR},
    "link": _NSTR,
    "image": _NSTR,
    "actions": {"type": "array", "items": {"type": "object"}},
    "metadata": {"type": "object"},
    "fingerprint": _NSTR,
    "count": {"type": "integer", "minimum": 1},
    "push": {"type": ["boolean", "null"]},
    "source": {"type": "object"},
    "repeat_of": {
        "type": ["string", "null"],
        "maxLength": 64,
        "description": "dedup follow-up: id of the first event; count is added to that event's line",
    },
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": _STR, "message": _STR},
            }
        },
    },
    "Event": {"type": "object", "required": ["title"], "properties": _EVENT_PROPS},
    "StoredEvent": {
        "type": "object",
        "properties": {
            **_EVENT_PROPS,
            "seq": {"type": "integer"},
            "received_at": _TIME,
            "acknowledged_at": _NTIME,
            "acknowledged_by": _NSTR,
            "last_seen_at": {**_NTIME, "description": "ts of the newest follow-up folded into this line"},
            "deliveries": {"type": "array", "items": _ref("Delivery")},
        },
    },
    "Delivery": {
        "type": "object",
        "properties": {
            "id": _STR,
            "event_id": _STR,
            "device_id": _STR,
            "round": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": [s.value for s in DeliveryStatus],
            },
            "attempts": {"type": "integer"},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": _NSTR,
            "created_at": _TIME,
            "sent_at": _NTIME,
            "delivered_at": _NTIME,
            "opened_at": _NTIME,
            "history": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Preferences": {
        "type": "object",
        "properties": {"min_level": _LEVEL, "channels": {"type": ["array", "null"], "items": _STR}},
    },
    "Device": {
        "type": "object",
        "properties": {
            "id": _STR,
            "kind": {"type": "string", "enum": ["webpush", "fcm", "apns"]},
            "name": _NSTR,
            "endpoint": _NSTR,
            "preferences": _ref("Preferences"),
            "created_at": _TIME,
            "updated_at": _TIME,
            "last_success_at": _NTIME,
            "failure_count": {"type": "integer"},
        },
    },
    "Key": {
        "type": "object",
        "properties": {
            "id": _STR,
            "name": _STR,
            "scope": {"type": "string", "enum": ["publish", "read", "admin"]},
            "prefix": _STR,
            "created_at": _TIME,
            "revoked_at": _NTIME,
            "last_used_at": _NTIME,
        },
    },
}


def openapi_spec(*, server_url: str) -> dict[str, Any]:
    """The document; ``server_url`` is the hub's public base URL."""
    event_list = {
        "type": "object",
        "properties": {"events": {"type": "array", "items": _ref("StoredEvent")}, "next_cursor": _NSTR},
    }
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Liveness", {"200": _json({"type": "object"}, "ok")}, scope=None)},
        "/openapi.json": {
            "get": _op("This document", {"200": _json({"type": "object"}, "spec")}, scope=None)
        },
        "/v1/webpush/vapid-public-key": {
            "get": _op(
                "The VAPID application server key",
                {"200": _json({"type": "object", "properties": {"public_key": _STR}}, "base64url P-256")},
                scope=None,
            )
        },
        "/v1/events": {
            "post": _op(
                "Publish events (idempotent on id)",
                {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "accepted": {"type": "integer"},
                                "duplicates": {"type": "integer"},
                            },
                        },
                        "Stored on disk",
                    ),
                    **_errors(400, 401, 403, 413, 422, 429),
                },
                scope="publish",
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["events"],
                        "properties": {
                            "events": {"type": "array", "items": _ref("Event")},
                            "client": {"type": "object"},
                        },
                    }
                ),
            ),
            "get": _op(
                "The feed, newest first",
                {"200": _json(event_list, "A page"), **_errors(400, 401, 403, 429)},
                scope="read",
                parameters=[
                    *_FILTER_PARAMS,
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                    {"name": "cursor", "in": "query", "schema": _STR},
                ],
            ),
        },
        "/v1/events/{event_id}": {
            "get": _op(
                "One event with its deliveries",
                {"200": _json(_ref("StoredEvent"), "The event"), **_errors(401, 403, 404)},
                scope="read",
                parameters=[_path_param("event_id")],
            )
        },
        "/v1/events/{event_id}/ack": {
            "post": _op(
                "Acknowledge (stops CRITICAL re-push on every device)",
                {"200": _json(_ref("StoredEvent"), "Acknowledged"), **_errors(401, 403, 404)},
                scope=None,
                description="With a read key, or with body {token}: a receipt token of its deliveries.",
                parameters=[_path_param("event_id")],
                requestBody=_body(
                    {"type": "object", "properties": {"token": _STR, "delivery_id": _STR}}, required=False
                ),
            )
        },
        "/v1/events/{event_id}/deliveries": {
            "get": _op(
                "Deliveries of an event",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"deliveries": {"type": "array", "items": _ref("Delivery")}},
                        },
                        "Deliveries",
                    ),
                    **_errors(401, 403, 404),
                },
                scope="read",
                parameters=[_path_param("event_id")],
            )
        },
        "/v1/stream": {
            "get": _op(
                "Live feed (Server-Sent Events)",
                {
                    "200": {
                        "description": "event: event (id = seq) / event: update (a line's count grew; "
                        "id = the follow-up's seq, data = the line's StoredEvent) / event: ack",
                        "content": {"text/event-stream": {}},
                    }
                },
                scope="read",
                parameters=[
                    *_FILTER_PARAMS,
                    {"name": "Last-Event-ID", "in": "header", "schema": _STR},
                    {"name": "last_event_id", "in": "query", "schema": _STR},
                ],
            )
        },
        "/v1/devices": {
            "post": _op(
                "Register or refresh a Web Push subscription (subscription) or FCM/APNs token (token)",
                {
                    "201": _json(_ref("Device"), "Registered"),
                    "200": _json(_ref("Device"), "Refreshed (same endpoint or token)"),
                    **_errors(400, 401, 403, 422),
                },
                scope="read",
                requestBody=_body(
                    {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "enum": ["webpush", "fcm", "apns"]},
                            "name": _STR,
                            "token": _STR,
                            "subscription": {
                                "type": "object",
                                "properties": {
                                    "endpoint": _STR,
                                    "keys": {"type": "object", "properties": {"p256dh": _STR, "auth": _STR}},
                                },
                            },
                            "preferences": _ref("Preferences"),
                        },
                    }
                ),
            ),
            "get": _op(
                "List devices",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"devices": {"type": "array", "items": _ref("Device")}},
                        },
                        "Devices",
                    )
                },
                scope="read",
            ),
        },
        "/v1/devices/{device_id}": {
            "patch": _op(
                "Change a device's name or preferences",
                {"200": _json(_ref("Device"), "Changed"), **_errors(400, 401, 403, 404, 422)},
                scope="read",
                parameters=[_path_param("device_id")],
                requestBody=_body(
                    {"type": "object", "properties": {"name": _STR, "preferences": _ref("Preferences")}}
                ),
            ),
            "delete": _op(
                "Remove a device",
                {"204": {"description": "Removed"}, **_errors(401, 403, 404)},
                scope="read",
                parameters=[_path_param("device_id")],
            ),
        },
        "/v1/deliveries/{delivery_id}/receipt": {
            "post": _op(
                "Delivered/opened receipt from the service worker",
                {"200": _json(_ref("Delivery"), "Recorded"), **_errors(400, 401, 404, 422)},
                scope=None,
                parameters=[_path_param("delivery_id")],
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["token", "status"],
                        "properties": {
                            "token": _STR,
                            "status": {"type": "string", "enum": [s.value for s in RECEIPT_STATUSES]},
                        },
                    }
                ),
            )
        },
        "/v1/keys": {
            "get": _op(
                "List keys",
                {
                    "200": _json(
                        {"type": "object", "properties": {"keys": {"type": "array", "items": _ref("Key")}}},
                        "Keys",
                    )
                },
                scope="admin",
            ),
            "post": _op(
                "Create a key (the secret is shown once)",
                {
                    "201": _json(
                        {"allOf": [_ref("Key"), {"type": "object", "properties": {"secret": _STR}}]},
                        "Created",
                    ),
                    **_errors(400, 401, 403, 422),
                },
                scope="admin",
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["name", "scope"],
                        "properties": {
                            "name": _STR,
                            "scope": {"type": "string", "enum": ["publish", "read", "admin"]},
                        },
                    }
                ),
            ),
        },
        "/v1/keys/{key_id}": {
            "delete": _op(
                "Revoke a key",
                {"200": _json(_ref("Key"), "Revoked"), **_errors(401, 403, 404)},
                scope="admin",
                parameters=[_path_param("key_id")],
            )
        },
    }
    paths.update(heartbeats.openapi_paths())
    paths.update(stats.openapi_paths())
    responses = {
        f"E{code}": {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
        for code, text in (
            (400, "Bad request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not found"),
            (413, "Too large"),
            (422, "Invalid"),
            (429, "Rate limited (Retry-After)"),
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "pushlog hub", "version": "1"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {**_SCHEMAS, **heartbeats.OPENAPI_SCHEMAS, **stats.OPENAPI_SCHEMAS},
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
