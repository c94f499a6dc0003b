"""The hub's OpenAPI 3.1 document (``/openapi.json``), generated from :mod:`pushlog.hub._models`.

Each operation names its models; their JSON Schemas come from msgspec, so the document and the
validation cannot drift. A test checks that every route of :func:`pushlog.hub.app.api_routes`
appears here with its methods.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from . import _models as m
from .api.users import USERS_SCOPE

_REF: Final = "#/components/schemas/{name}"

_ERRORS: Final = {
    400: "Malformed JSON, invalid UTF-8, a value JSON cannot hold or a bad query parameter",
    401: "Missing, unknown or revoked key (or bad receipt token)",
    403: "The key's scope does not allow this (too low, or the other branch: read vs users)",
    404: "Not found",
    409: "Conflict (revoking the last live admin key; changing a rule another declarer owns; removing a "
    "device group an escalate rule uses)",
    413: "Request body too large",
    422: "Well-formed but invalid (wrong types, missing fields, out of range); the message names the field",
    429: "Rate limited; see Retry-After",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    scope: str | None
    responses: dict[int, tuple[Any, str]]
    errors: tuple[int, ...] = ()
    body: Any = None
    body_required: bool = True
    query: type[msgspec.Struct] | None = None
    path_params: tuple[str, ...] = ()
    description: str = ""
    extra_params: list[dict[str, Any]] = field(default_factory=list)
    #: Content type of a response declared without a model (e.g. text/plain), if not JSON.
    media_type: str = ""
    #: Which scopes are accepted, when not "``scope`` or higher" (the ``users`` branch, DESIGN §5).
    scope_note: str = ""


_META_PARAM: Final = {
    "name": "meta",
    "in": "query",
    "style": "deepObject",
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    "description": "metadata equality, written meta.KEY=VALUE (repeatable; all of)",
}
_EVENT_ID: Final = ("event_id",)
_LINK_PARAM: Final = {
    "name": "X-Pushlog-Link",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "the token of a link from POST /v1/users/{user_id}/preferences/link",
}
_READ: Final = (400, 401, 403, 429)

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("get", "/healthz", "Liveness", None, {200: (m.Health, "ok")}),
    Operation(
        "get",
        "/readyz",
        "Readiness: the database answers and its schema is at this hub's newest migration",
        None,
        {200: (m.Ready, "ready"), 503: (m.Error, "not ready (code not_ready); see Retry-After")},
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics of this hub (text format 0.0.4)",
        "admin",
        {200: (None, "metrics")},
        (401, 403, 429),
        description="Or no key when the hub runs with --metrics-public on a loopback address "
        "(docs/deploy.md).",
        media_type="text/plain",
    ),
    Operation("get", "/openapi.json", "This document", None, {200: (dict[str, Any], "spec")}),
    Operation(
        "get",
        "/v1/webpush/vapid-public-key",
        "The VAPID application server key",
        None,
        {200: (m.VapidKey, "key")},
    ),
    Operation(
        "post",
        "/v1/events",
        "Publish events (idempotent on id)",
        "publish",
        {202: (m.PublishResult, "Stored on disk; events that failed validation are listed in rejected")},
        (400, 401, 403, 413, 422, 429),
        body=m.PublishRequest,
    ),
    Operation(
        "get",
        "/v1/events",
        "The feed, newest first",
        "read",
        {200: (m.EventPage, "A page")},
        _READ,
        query=m.ListQuery,
        extra_params=[_META_PARAM],
    ),
    Operation(
        "get",
        "/v1/events/{event_id}",
        "One event with its deliveries",
        "read",
        {200: (m.StoredEvent, "The event")},
        (401, 403, 404, 429),
        path_params=_EVENT_ID,
    ),
    Operation(
        "post",
        "/v1/events/{event_id}/ack",
        "Acknowledge (stops CRITICAL re-push on every device)",
        None,
        {200: (m.StoredEvent, "Acknowledged")},
        (400, 401, 403, 404, 422, 429),
        body=m.AckRequest,
        body_required=False,
        path_params=_EVENT_ID,
        description="With a read key, or with body {token}: a receipt token of one of its deliveries.",
    ),
    Operation(
        "get",
        "/v1/events/{event_id}/deliveries",
        "Deliveries of an event",
        "read",
        {200: (m.DeliveryList, "Deliveries")},
        (401, 403, 404, 429),
        path_params=_EVENT_ID,
    ),
    Operation(
        "get",
        "/v1/stream",
        "Live feed (Server-Sent Events)",
        "read",
        {200: (None, "event: event (id = seq) / event: update (a line's count grew) / event: ack")},
        _READ,
        query=m.StreamQuery,
        extra_params=[_META_PARAM, {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}],
    ),
    Operation(
        "post",
        "/v1/devices",
        "Register or refresh a device (Web Push subscription, FCM or APNs token)",
        "read",
        {
            201: (m.Device, "Registered"),
            200: (m.Device, "Refreshed (same token or endpoint, or the same installation's new token)"),
        },
        (400, 401, 403, 422, 429),
        body=m.DeviceRegistration,
        description="A team device with a `read` key; an app user's device (`user_id`) with a `users` key "
        "(`admin` may register both).",
        scope_note="`read` (team devices) or `users` (app users' devices)",
    ),
    Operation("get", "/v1/devices", "List team devices", "read", {200: (m.DeviceList, "Devices")}, _READ),
    Operation(
        "get",
        "/v1/users/{user_id}/devices",
        "List an app user's devices",
        "users",
        {200: (m.DeviceList, "The user's devices (none for an unknown user)")},
        _READ,
        path_params=("user_id",),
        scope_note="`users`",
    ),
    Operation(
        "patch",
        "/v1/devices/{device_id}",
        "Change a device's name or preferences",
        "read",
        {200: (m.Device, "Changed")},
        (400, 401, 403, 404, 422, 429),
        body=m.DeviceChange,
        path_params=("device_id",),
        scope_note="`read` (team devices) or `users` (app users' devices)",
    ),
    Operation(
        "delete",
        "/v1/devices/{device_id}",
        "Remove a device",
        "read",
        {204: (None, "Removed")},
        (401, 403, 404, 429),
        path_params=("device_id",),
        scope_note="`read` (team devices) or `users` (app users' devices)",
    ),
    Operation(
        "post",
        "/v1/deliveries/{delivery_id}/receipt",
        "Delivered/opened receipt from the service worker",
        None,
        {200: (m.Delivery, "Recorded")},
        (400, 401, 404, 422, 429),
        body=m.ReceiptRequest,
        path_params=("delivery_id",),
    ),
    Operation("get", "/v1/keys", "List keys", "admin", {200: (m.KeyList, "Keys")}, _READ),
    Operation(
        "post",
        "/v1/keys",
        "Create a key (the secret is shown once)",
        "admin",
        {201: (m.NewKey, "Created")},
        (400, 401, 403, 422, 429),
        body=m.KeyRequest,
    ),
    Operation(
        "delete",
        "/v1/keys/{key_id}",
        "Revoke a key",
        "admin",
        {200: (m.Key, "Revoked")},
        (401, 403, 404, 409, 429),
        path_params=("key_id",),
    ),
    Operation(
        "get",
        "/v1/heartbeats",
        "List heartbeats (dead man's switches)",
        "read",
        {200: (m.HeartbeatList, "All heartbeats, by name")},
        _READ,
    ),
    Operation(
        "post",
        "/v1/heartbeats/{name}",
        "Check in (creates the heartbeat on first use)",
        "publish",
        {200: (m.Heartbeat, "The heartbeat now")},
        (400, 401, 403, 422, 429),
        body=m.CheckInRequest,
        body_required=False,
        path_params=("name",),
        description="No body means success; the same fields are accepted as query parameters. Overdue "
        "heartbeats raise an ERROR event, the next success an INFO event.",
    ),
    Operation(
        "get",
        "/v1/heartbeats/{name}",
        "One heartbeat",
        "read",
        {200: (m.Heartbeat, "The heartbeat")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/heartbeats/{name}",
        "Retire a heartbeat",
        "admin",
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/stats",
        "Statistics for a time window",
        "read",
        {200: (m.Stats, "The counts")},
        _READ,
        query=m.StatsQuery,
        description="Exact counts of events per bucket and level, deliveries by status and device, push "
        "milestones with the median sent-to-delivered latency, and events clients reported dropping.",
    ),  # -- preferences (hub/attention, api/preferences.py) --
    Operation(
        "get",
        "/v1/devices/{device_id}/preferences",
        "A team device's preferences (quiet hours, caps, digests, CRITICAL bypass, level, channels)",
        "read",
        {200: (m.SubjectPreferences, "The preferences that apply")},
        (401, 403, 404, 429),
        path_params=("device_id",),
    ),
    Operation(
        "put",
        "/v1/devices/{device_id}/preferences",
        "Replace a team device's preferences",
        "read",
        {200: (m.SubjectPreferences, "Stored")},
        (400, 401, 403, 404, 422, 429),
        body=m.PreferenceDocument,
        path_params=("device_id",),
        description="min_level and channels, when named, change the device row (as PATCH does).",
    ),
    Operation(
        "get",
        "/v1/users/{user_id}/preferences",
        "An app user's preferences",
        USERS_SCOPE,
        {200: (m.SubjectPreferences, "The preferences that apply")},
        (400, 401, 403, 422, 429),
        path_params=("user_id",),
    ),
    Operation(
        "put",
        "/v1/users/{user_id}/preferences",
        "Replace an app user's preferences",
        USERS_SCOPE,
        {200: (m.SubjectPreferences, "Stored")},
        (400, 401, 403, 422, 429),
        body=m.PreferenceDocument,
        path_params=("user_id",),
    ),
    Operation(
        "post",
        "/v1/users/{user_id}/preferences/link",
        "A signed, expiring link to the user's preference page (no key on the device)",
        USERS_SCOPE,
        {201: (m.PreferenceLink, "The link")},
        (400, 401, 403, 422, 429),
        body=m.PreferenceLinkRequest,
        body_required=False,
        path_params=("user_id",),
    ),
    Operation(
        "get",
        "/v1/categories",
        "The app's categories and defaults",
        "read",
        {200: (m.CategoryList, "All")},
        _READ,
    ),
    Operation(
        "put",
        "/v1/categories/{name}",
        "Define a category and its default (push, digest or off)",
        USERS_SCOPE,
        {200: (m.Category, "Stored")},
        (400, 401, 403, 422, 429),
        body=m.Category,
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/categories/{name}",
        "Remove a category",
        USERS_SCOPE,
        {204: (None, "Removed")},
        (401, 403, 404, 422, 429),
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/link/preferences",
        "The preferences of the user a signed link names",
        None,
        {200: (m.LinkPreferences, "The user's preferences and the app's categories")},
        (401, 429),
        extra_params=[_LINK_PARAM],
        description="401 link_expired for an expired link, invalid_link for a tampered or foreign one.",
    ),
    Operation(
        "put",
        "/v1/link/preferences",
        "Replace the preferences of the user a signed link names",
        None,
        {200: (m.SubjectPreferences, "Stored")},
        (400, 401, 422, 429),
        body=m.PreferenceDocument,
        extra_params=[_LINK_PARAM],
    ),
    # -- app users, audiences, templates, notifications (docs/notifications.md) --------------------
    Operation(
        "put",
        "/v1/users/{user_id}",
        "Create or replace an app user's attributes",
        USERS_SCOPE,
        {200: (m.User, "Replaced"), 201: (m.User, "Created")},
        (400, 401, 403, 422, 429),
        body=m.UserRequest,
        path_params=("user_id",),
        description="`topics` omitted keeps the user's topics.",
    ),
    Operation(
        "get",
        "/v1/users/{user_id}",
        "One app user, with the locale and time zone merged from their devices' reports",
        USERS_SCOPE,
        {200: (m.User, "The user")},
        (400, 401, 403, 404, 429),
        path_params=("user_id",),
    ),
    Operation(
        "delete",
        "/v1/users/{user_id}",
        "Erase an app user: attributes, topics and every device naming them (right to erasure)",
        USERS_SCOPE,
        {200: (m.UserErased, "Erased")},
        (400, 401, 403, 404, 429),
        path_params=("user_id",),
    ),
    Operation(
        "post",
        "/v1/audiences/preview",
        "How many users and devices an audience reaches, with a sample of user ids",
        USERS_SCOPE,
        {200: (m.AudiencePreview, "The counts")},
        (400, 401, 403, 422, 429),
        body=m.AudiencePreviewRequest,
    ),
    Operation(
        "get", "/v1/segments", "Saved audience filters", USERS_SCOPE, {200: (m.SegmentList, "By name")}, _READ
    ),
    Operation(
        "put",
        "/v1/segments/{name}",
        "Create or replace a segment (the filter is checked: 422 invalid_filter with its column)",
        USERS_SCOPE,
        {200: (m.Segment, "Replaced"), 201: (m.Segment, "Created")},
        (400, 401, 403, 422, 429),
        body=m.SegmentRequest,
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/segments/{name}",
        "One segment",
        USERS_SCOPE,
        {200: (m.Segment, "The segment")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/segments/{name}",
        "Delete a segment",
        USERS_SCOPE,
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/templates",
        "Notification templates",
        USERS_SCOPE,
        {200: (m.TemplateList, "By name")},
        _READ,
    ),
    Operation(
        "put",
        "/v1/templates/{name}",
        "Create or replace a template (Jinja2 syntax checked: 422 template_syntax with locale, field, line)",
        USERS_SCOPE,
        {200: (m.Template, "Replaced"), 201: (m.Template, "Created")},
        (400, 401, 403, 422, 429),
        body=m.TemplateRequest,
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/templates/{name}",
        "One template",
        USERS_SCOPE,
        {200: (m.Template, "The template")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/templates/{name}",
        "Delete a template",
        USERS_SCOPE,
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "post",
        "/v1/templates/{name}/preview",
        "Render a template for a sample user (422 render_error says why it cannot)",
        USERS_SCOPE,
        {200: (m.Rendered, "The text that user would get")},
        (400, 401, 403, 404, 422, 429),
        body=m.TemplatePreviewRequest,
        body_required=False,
        path_params=("name",),
    ),
    Operation(
        "post",
        "/v1/notifications",
        "Send (or schedule) a notification to app users",
        USERS_SCOPE,
        {201: (m.Notification, "Created"), 200: (m.Notification, "An earlier one with this idempotency_key")},
        (400, 401, 403, 422, 429),
        body=m.NotificationRequest,
        description="Audience (users, segment, filter, topic), a template or literal title/body, options, "
        "and a schedule: none (now), at, delay, or local_time on date in each recipient's time zone.",
    ),
    Operation(
        "get",
        "/v1/notifications",
        "Notifications, newest first",
        USERS_SCOPE,
        {200: (m.NotificationList, "A page")},
        _READ,
        query=m.NotificationListQuery,
    ),
    Operation(
        "get",
        "/v1/notifications/{notification_id}",
        "One notification with its funnel (targeted, skipped, queued, sent, delivered, opened, failed)",
        USERS_SCOPE,
        {200: (m.Notification, "The notification")},
        (400, 401, 403, 404, 429),
        path_params=("notification_id",),
    ),
    Operation(
        "post",
        "/v1/notifications/{notification_id}/cancel",
        "Cancel what has not been sent yet",
        USERS_SCOPE,
        {200: (m.Notification, "Cancelled")},
        (400, 401, 403, 404, 429),
        path_params=("notification_id",),
    ),
    Operation(
        "get",
        "/v1/triggers",
        "Triggers: log events that notify the user they name",
        USERS_SCOPE,
        {200: (m.TriggerList, "By name")},
        _READ,
    ),
    Operation(
        "put",
        "/v1/triggers/{name}",
        "Create or replace a trigger (acts on events that arrive from then on)",
        USERS_SCOPE,
        {200: (m.Trigger, "Replaced"), 201: (m.Trigger, "Created")},
        (400, 401, 403, 422, 429),
        body=m.TriggerRequest,
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/triggers/{name}",
        "Delete a trigger",
        USERS_SCOPE,
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/rules",
        "List rules over the event stream, with their state",
        "read",
        {200: (m.RuleList, "All rules, by name")},
        _READ,
    ),
    Operation(
        "put",
        "/v1/rules/{name}",
        "Declare a rule (create, or change it; the same declaration again changes nothing)",
        "admin",
        {200: (m.Rule, "The rule now")},
        (400, 401, 403, 409, 422, 429),
        body=m.RuleRequest,
        path_params=("name",),
        description="A publish key may declare kind expect only (pushlog.expect), and may not change a "
        "rule declared with an admin key or by the rules file (409). docs/rules.md.",
    ),
    Operation(
        "get",
        "/v1/rules/{name}",
        "One rule with its state history (newest first)",
        "read",
        {200: (m.Rule, "The rule")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "delete",
        "/v1/rules/{name}",
        "Remove a rule (its open alert stays in the feed)",
        "admin",
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "get",
        "/v1/device-groups",
        "List device groups (escalate rules' steps push to them), with the devices they name now",
        "read",
        {200: (m.DeviceGroupList, "All groups, by name")},
        _READ,
    ),
    Operation(
        "get",
        "/v1/device-groups/{name}",
        "One device group",
        "read",
        {200: (m.DeviceGroup, "The group")},
        (400, 401, 403, 404, 429),
        path_params=("name",),
    ),
    Operation(
        "put",
        "/v1/device-groups/{name}",
        "Set a device group's members (create it, or replace them)",
        "admin",
        {200: (m.DeviceGroup, "Replaced"), 201: (m.DeviceGroup, "Created")},
        (400, 401, 403, 422, 429),
        body=m.DeviceGroupRequest,
        path_params=("name",),
        description="Each member is a registered team device's id or name (422 naming an unknown one). "
        "docs/rules.md#escalation.",
    ),
    Operation(
        "delete",
        "/v1/device-groups/{name}",
        "Remove a device group",
        "admin",
        {204: (None, "Deleted")},
        (400, 401, 403, 404, 409, 429),
        path_params=("name",),
        description="409 group_in_use, naming the escalate rules whose steps still push to the group "
        "(change or remove them first). docs/rules.md#escalation.",
    ),
)


def _models() -> list[Any]:
    found: list[Any] = [m.Error]
    for op in OPERATIONS:
        found += [t for t, _ in op.responses.values() if t is not None]
        if op.body is not None:
            found.append(op.body)
        if op.query is not None:
            found.append(op.query)
    return list(dict.fromkeys(found))


@functools.cache
def _generated() -> tuple[dict[Any, Any], dict[str, Any]]:
    types = _models()
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    return dict(zip(types, schemas, strict=True)), components


def _query_params(model: type[msgspec.Struct], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = components[model.__name__]
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        options = prop.get("anyOf", ())
        if len(options) == 2 and {"type": "null"} in options:  # absent, not null, in a query string
            prop = next(o for o in options if o != {"type": "null"})
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        if prop.get("type") == "array":
            param["explode"] = True
        params.append(param)
    return params


def _operation(op: Operation, schemas: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (model, text) in op.responses.items():
        if model is None:
            media = "text/event-stream" if op.path == "/v1/stream" else op.media_type
            content: dict[str, Any] | None = {media: {}} if media else None
            responses[str(status)] = {"description": text, **({"content": content} if content else {})}
        else:
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": schemas[model]}},
            }
    responses.update({str(code): {"$ref": f"#/components/responses/E{code}"} for code in op.errors})
    description = op.description
    if op.scope:
        needs = f"{op.scope_note} or `admin`" if op.scope_note else f"`{op.scope}` or higher"
        description = f"Needs a key with scope {needs}. {description}".strip()
    operation: dict[str, Any] = {
        "summary": op.summary,
        "responses": responses,
        "security": [{"bearer": []}] if op.scope else [],
    }
    if description:
        operation["description"] = description
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in op.path_params
    ]
    if op.query is not None:
        params += _query_params(op.query, components)
    params += op.extra_params
    if params:
        operation["parameters"] = params
    if op.body is not None:
        operation["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schemas[op.body]}},
        }
    return operation


def openapi_spec(*, server_url: str) -> dict[str, Any]:
    """The document; ``server_url`` is the hub's public base URL."""
    schemas, components = _generated()
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schemas, components)
    error = schemas[m.Error]
    responses = {
        f"E{code}": {"description": text, "content": {"application/json": {"schema": error}}}
        for code, text in _ERRORS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "pushlog hub", "version": "1"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
