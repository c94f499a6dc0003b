"""The API's request and response shapes, declared once as msgspec Structs.

From these declarations come the validation of every request body and query parameter, the error
messages (``events[3].title: longer than 256 characters``) and the schemas of ``/openapi.json``
(:mod:`pushlog.hub._openapi`). Limits that the client shares come from :mod:`pushlog._event`.

The strict way in (:func:`decode_body`, :func:`parse_query`) refuses what JSON or the store cannot
hold: malformed JSON, invalid UTF-8, ``NaN``/``Infinity``, lone surrogates, numbers out of range,
nesting deeper than the stack allows (400), and values of the wrong type or size (422, naming the
field). ``POST /v1/events`` checks each event on its own (:func:`decode_publish`): one bad event is
reported in the 202 answer and costs none of the others.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar, get_args, get_origin

import msgspec
from msgspec import Meta, Struct

from .._duration import parse_seconds
from .._event import (
    MAX_ACTION_TEXT,
    MAX_ACTIONS,
    MAX_BODY,
    MAX_CHANNEL,
    MAX_COUNT,
    MAX_FINGERPRINT,
    MAX_ID,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEY,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE,
    MAX_SOURCE,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MAX_URL,
    metadata_value_length,
)
from .._levels import POLICIES, parse_level
from ._errors import ApiError
from .attention import Category as Category  # the preference shapes are declared in hub/attention
from .attention import PreferenceDocument as PreferenceDocument
from .store.events import NewEvent
from .store.outbox import RECEIPT_STATUSES, DeliveryStatus

T = TypeVar("T")

#: What a signed 32-bit database column holds (counts, exit codes).
INT32_MAX: Final = 2**31 - 1
#: Timestamps the hub accepts (events, filters, windows): the Unix epoch up to a year before the
#: calendar's end, so that every sum the hub makes with them (expiry, windows) stays a date.
MIN_TIME: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
MAX_TIME: Final = _dt.datetime(9999, 1, 1, tzinfo=_dt.UTC)
#: Free-text names (keys, devices).
MAX_NAME: Final = 200
MAX_SDK: Final = 64
MAX_TOKEN: Final = 256
#: A heartbeat's check-in message (longer ones are cut).
MAX_MESSAGE: Final = 1024
#: Longest accepted heartbeat period or grace: a year.
MAX_EVERY_S: Final = 366 * 86400.0
#: Longest job duration a check-in may report: ten years, in seconds.
MAX_DURATION_S: Final = 3650 * 86400.0

LevelName = Literal["debug", "info", "warning", "error", "critical"]
if TYPE_CHECKING:
    ReceiptStatus = str
else:  # the statuses a service worker may report, as the outbox defines them
    ReceiptStatus = Literal[tuple(s.value for s in RECEIPT_STATUSES)]
_URL_PATTERN: Final = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]"

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Url = Annotated[str, Meta(max_length=MAX_URL, pattern=_URL_PATTERN, description="an http(s) URL")]
#: What a tap on an app user's notification opens: an http(s) URL or the app's own deep link
#: (``myshop://orders/42``); schemes that run or read things (javascript, data, file, vbscript) are not.
_LINK_PATTERN: Final = (
    r"^(?![Jj][Aa][Vv][Aa][Ss][Cc][Rr][Ii][Pp][Tt]:|[Dd][Aa][Tt][Aa]:|[Ff][Ii][Ll][Ee]:"
    r"|[Vv][Bb][Ss][Cc][Rr][Ii][Pp][Tt]:)[A-Za-z][A-Za-z0-9+.-]*://\S+$"
)
DeepLink = Annotated[
    str, Meta(max_length=MAX_URL, pattern=_LINK_PATTERN, description="an http(s) URL or an app deep link")
]
Int32 = Annotated[int, Meta(ge=-(2**31), le=INT32_MAX)]
Count = Annotated[int, Meta(ge=1, le=MAX_COUNT)]
LevelIn = LevelName | Annotated[int, Meta(ge=0, le=INT32_MAX)] | str
Timestamp = Annotated[_dt.datetime, Meta(description="RFC 3339", extra_json_schema={"format": "date-time"})]


# -- requests -------------------------------------------------------------------------------------


class Action(Struct, forbid_unknown_fields=False):
    """A button on the notification (``action`` and ``title`` are cut to 64 characters)."""

    action: Annotated[str, Meta(min_length=1, max_length=MAX_URL)]
    title: Annotated[str, Meta(min_length=1, max_length=MAX_URL)]
    url: Url | None = None


class Event(Struct, forbid_unknown_fields=False):
    """One event as clients send it (DESIGN §4). Only ``title`` is required."""

    title: Annotated[str, Meta(min_length=1, max_length=MAX_TITLE, pattern=r"\S")]
    id: Annotated[Id | None, Meta(description="client-made UUID; the idempotency key")] = None
    ts: Timestamp | None = None
    level: LevelIn = "info"
    body: Annotated[str, Meta(max_length=MAX_BODY)] | None = None
    channel: Annotated[str, Meta(max_length=MAX_CHANNEL)] | None = None
    tags: (
        Annotated[list[Annotated[str, Meta(min_length=1, max_length=MAX_TAG)]], Meta(max_length=MAX_TAGS)]
        | None
    ) = None
    link: Url | Literal[""] | None = None
    image: Url | Literal[""] | None = None
    actions: Annotated[list[Action], Meta(max_length=MAX_ACTIONS)] | None = None
    metadata: (
        Annotated[
            dict[Annotated[str, Meta(min_length=1, max_length=MAX_METADATA_KEY)], Any],
            Meta(max_length=MAX_METADATA_KEYS),
        ]
        | None
    ) = None
    fingerprint: Annotated[str, Meta(max_length=MAX_FINGERPRINT)] | None = None
    count: Count = 1
    push: bool | None = None
    source: dict[str, Any] | None = None
    repeat_of: Annotated[
        Id | None, Meta(description="dedup follow-up: the first event's id; count is added to its line")
    ] = None
    resolves: Annotated[
        Annotated[str, Meta(min_length=1, max_length=MAX_FINGERPRINT)] | None,
        Meta(description="the fingerprint of an alert this event resolves (its push is replaced)"),
    ] = None


class ClientReport(Struct, forbid_unknown_fields=False):
    """What the client says about itself in a publish envelope."""

    dropped: Annotated[int, Meta(ge=0, le=INT32_MAX, description="events it could not send")] = 0
    recovered: Annotated[
        int, Meta(ge=0, le=INT32_MAX, description="events of this batch sent from an earlier process's spool")
    ] = 0
    sdk: Annotated[str, Meta(max_length=MAX_SDK)] | None = None


class PublishRequest(Struct, forbid_unknown_fields=False):
    events: list[Event]
    client: ClientReport | None = None


class _PublishEnvelope(Struct, forbid_unknown_fields=False):
    """:class:`PublishRequest` as decoded: each event kept raw and checked on its own."""

    events: list[msgspec.Raw]
    client: ClientReport | None = None


class _IdProbe(Struct, forbid_unknown_fields=False):
    id: Any = None


class AckRequest(Struct, forbid_unknown_fields=False):
    token: Annotated[str, Meta(max_length=MAX_TOKEN)] | None = None
    delivery_id: Annotated[str, Meta(max_length=MAX_ID)] | None = None


class ReceiptRequest(Struct, forbid_unknown_fields=False):
    token: Annotated[str, Meta(max_length=MAX_TOKEN)]
    status: ReceiptStatus


class Preferences(Struct, forbid_unknown_fields=False, omit_defaults=True):
    min_level: LevelIn | msgspec.UnsetType = msgspec.UNSET
    channels: list[Annotated[str, Meta(min_length=1, max_length=MAX_CHANNEL)]] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )


class SubscriptionKeys(Struct, forbid_unknown_fields=False):
    p256dh: Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]
    auth: Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]


class Subscription(Struct, forbid_unknown_fields=False):
    endpoint: Annotated[str, Meta(min_length=1, max_length=MAX_URL)]
    keys: SubscriptionKeys


#: App users' devices: an identifier (user id, installation id) is text without control characters;
#: ``attributes`` is a flat object of at most MAX_ATTRIBUTES scalars.
MAX_USER_ID: Final = 200
MAX_ATTRIBUTES: Final = 32
MAX_ATTRIBUTE_KEY: Final = 64
MAX_ATTRIBUTE_TEXT: Final = 256
_IDENT_PATTERN: Final = r"^[^\x00-\x1f\x7f]+$"
#: A user id is also a path segment (``/v1/users/{user_id}/devices``): no ``/``.
UserId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_USER_ID,
        pattern=r"^[^\x00-\x1f\x7f/]+$",
        description="the app's user id (no '/', no control characters)",
    ),
]
#: :data:`UserId`'s rule for a user id given in a path (``/v1/users/{user_id}``).
USER_ID_RE: Final = re.compile(rf"[^\x00-\x1f\x7f/]{{1,{MAX_USER_ID}}}")
AttributeValue = Annotated[str, Meta(max_length=MAX_ATTRIBUTE_TEXT)] | int | float | bool | None
Attributes = Annotated[
    dict[
        Annotated[str, Meta(min_length=1, max_length=MAX_ATTRIBUTE_KEY, pattern=_IDENT_PATTERN)],
        AttributeValue,
    ],
    Meta(max_length=MAX_ATTRIBUTES, description="flat: string, number, boolean or null values"),
]


class DeviceRegistration(Struct, forbid_unknown_fields=False):
    """A Web Push ``subscription``, or an FCM/APNs ``token`` (the hub must have that transport's
    credentials); which one is required follows from ``kind``.

    With ``user_id`` (a ``users`` or admin key) the device is an app user's: it never receives log
    events, only notifications. Without it (a read or admin key) it is a team device. ``timezone`` is an
    IANA name (checked against the zone database); a new token with the same ``installation_id`` (and
    user, or key for team devices) replaces the device that install registered before.
    """

    kind: Literal["webpush", "fcm", "apns"] = "webpush"
    subscription: Subscription | None = None
    token: Annotated[str, Meta(min_length=1, max_length=4096)] | None = None
    name: Annotated[str, Meta(max_length=MAX_NAME)] | None = None
    preferences: Preferences | None = None
    user_id: UserId | None = None
    platform: Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    app_version: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")] | None = None
    locale: Annotated[str, Meta(max_length=64, pattern=r"^[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8})*$")] | None = (
        None
    )
    timezone: Annotated[str, Meta(min_length=1, max_length=64, description="IANA zone name")] | None = None
    attributes: Attributes | None = None
    installation_id: (
        Annotated[str, Meta(min_length=1, max_length=MAX_USER_ID, pattern=_IDENT_PATTERN)] | None
    ) = None


class DeviceChange(Struct, forbid_unknown_fields=False):
    name: Annotated[str, Meta(max_length=MAX_NAME)] | msgspec.UnsetType | None = msgspec.UNSET
    preferences: Preferences | None = None


class KeyRequest(Struct, forbid_unknown_fields=False):
    name: Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
    scope: Literal["publish", "read", "admin", "users"]


Seconds = Annotated[float, Meta(gt=0, le=MAX_EVERY_S)]


class CheckInRequest(Struct, forbid_unknown_fields=False):
    """A heartbeat check-in: JSON body or the same names as query parameters."""

    status: Literal["start", "success", "failure"] = "success"
    every_s: Seconds | None = None
    every: Annotated[str | float, Meta(description="a duration like 1d, 6h, 15m (or every_s)")] | None = None
    grace_s: Seconds | None = None
    grace: Annotated[str | float, Meta(description="default: every/10, at least 60 s")] | None = None
    exit_code: Int32 | None = None
    duration_s: Annotated[float, Meta(ge=0, le=MAX_DURATION_S)] | None = None
    message: Annotated[str, Meta(max_length=1_000_000)] | None = None


# -- query parameters -----------------------------------------------------------------------------


class FeedQuery(Struct, forbid_unknown_fields=False):
    """Filters of the feed list and the live stream."""

    level: Annotated[LevelName | str, Meta(description="minimum level")] | None = None
    channel: Annotated[list[str], Meta(description="repeatable; any of")] = []
    tag: Annotated[list[str], Meta(description="repeatable; all of")] = []
    q: Annotated[str, Meta(max_length=1000, description="text in title or body")] | None = None
    since: Timestamp | None = None
    until: (
        Annotated[
            _dt.datetime, Meta(description="RFC 3339, exclusive", extra_json_schema={"format": "date-time"})
        ]
        | None
    ) = None


class ListQuery(FeedQuery):
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Annotated[str, Meta(max_length=64)] | None = None


class StreamQuery(FeedQuery):
    last_event_id: Annotated[int, Meta(ge=0, le=2**63 - 1)] | None = None


class StatsQuery(Struct, forbid_unknown_fields=False):
    since: Annotated[str, Meta(max_length=64, description="RFC 3339 or a duration back from now")] | None = (
        None
    )
    until: (
        Annotated[
            _dt.datetime,
            Meta(description="RFC 3339, exclusive; default: now", extra_json_schema={"format": "date-time"}),
        ]
        | None
    ) = None
    bucket: Literal["hour", "day"] = "hour"
    top: Annotated[int, Meta(ge=1, le=100, description="how many noisiest fingerprints")] = 10


# -- responses ------------------------------------------------------------------------------------

Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
NullTime = Time | None


class ErrorDetail(Struct):
    code: str
    message: str


class Error(Struct):
    error: ErrorDetail


class Rejection(Struct):
    index: int
    id: str | None
    error: ErrorDetail


class PublishResult(Struct, omit_defaults=True):
    accepted: int
    duplicates: int
    rejected: Annotated[
        list[Rejection], Meta(description="events refused, each with its reason (absent when none)")
    ] = []


class StatusChange(Struct):
    status: str
    at: Time


class Delivery(Struct):
    id: str
    event_id: str
    device_id: str
    round: int
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: Time
    sent_at: NullTime
    delivered_at: NullTime
    opened_at: NullTime
    history: list[dict[str, Any]] = []


class Incident(Struct):
    """Lines that belong together (same trace id, else same fingerprint): docs/rules.md."""

    by: Literal["trace_id", "fingerprint"]
    key: str
    first: Time
    last: Time
    count: Annotated[int, Meta(description="occurrences: the lines' counts")]
    lines: int


class StoredEvent(Struct):
    id: str
    seq: int
    ts: Time
    received_at: Time
    level: LevelName
    title: str
    body: str | None
    channel: str | None
    tags: list[str]
    link: str | None
    image: str | None
    actions: list[dict[str, Any]]
    metadata: dict[str, Any]
    fingerprint: str | None
    count: int
    push: bool
    source: dict[str, Any]
    acknowledged_at: NullTime
    acknowledged_by: str | None
    repeat_of: str | None = None
    last_seen_at: Annotated[NullTime, Meta(description="ts of the newest follow-up folded into it")] = None
    resolves: str | None = None
    resolved_at: Annotated[NullTime, Meta(description="when this alert was resolved (docs/rules.md)")] = None
    resolved_by: Annotated[str | None, Meta(description="event:<id>, rule:<name>, quiet:<rule name>")] = None
    resolved_after_s: Annotated[float | None, Meta(description="seconds from arrival to resolution")] = None
    incident: Annotated[
        Incident | None, Meta(description="feed list only: the incident of two or more lines it is part of")
    ] = None
    deliveries: list[Delivery] = []


class EventPage(Struct):
    events: list[StoredEvent]
    next_cursor: str | None


class DeliveryList(Struct):
    deliveries: list[Delivery]


class DevicePreferences(Struct):
    min_level: LevelName
    channels: list[str] | None


class Device(Struct):
    id: str
    kind: Literal["webpush", "fcm", "apns"]
    name: str | None
    endpoint: str | None
    preferences: DevicePreferences
    created_at: Time
    updated_at: Time
    last_success_at: NullTime
    failure_count: int
    user_id: str | None
    platform: str | None
    app_version: str | None
    locale: str | None
    timezone: str | None
    attributes: dict[str, Any] | None
    installation_id: str | None
    last_seen_at: NullTime


class DeviceList(Struct):
    devices: list[Device]


class Key(Struct):
    id: str
    name: str
    scope: Literal["publish", "read", "admin", "users"]
    prefix: str
    created_at: Time
    revoked_at: NullTime
    last_used_at: NullTime


class NewKey(Key):
    secret: Annotated[str, Meta(description="shown once")]


class KeyList(Struct):
    keys: list[Key]


class Heartbeat(Struct):
    name: str
    status: Literal["up", "overdue", "unmonitored"]
    every_s: float | None
    grace_s: float | None
    due_at: NullTime
    created_at: Time
    last_ping_at: NullTime
    last_start_at: NullTime
    last_success_at: NullTime
    last_failure_at: NullTime
    last_exit_code: int | None
    last_duration_s: float | None
    last_message: str | None
    overdue_since: NullTime


class HeartbeatList(Struct):
    heartbeats: list[Heartbeat]


class StatusCounts(Struct):
    queued: int
    sent: int
    failed: int
    delivered: int
    opened: int
    acknowledged: int
    held: Annotated[int, Meta(description="kept by quiet hours, a cap or a digest until their time")] = 0
    skipped: Annotated[int, Meta(description="not pushed by the person's preferences (feed only)")] = 0


class LevelCounts(Struct):
    debug: int
    info: int
    warning: int
    error: int
    critical: int


class LevelBucket(LevelCounts):
    start: Time


class EventStats(Struct):
    """Stored events by their ts; ``occurrences`` sums their count (dedup)."""

    total: int
    occurrences: int
    by_level: LevelCounts
    buckets: list[LevelBucket]


class DeviceStats(Struct):
    device_id: str
    name: str | None
    kind: str | None
    removed: bool
    total: int
    by_status: StatusCounts


class DeliveryStats(Struct):
    """Delivery rows created in the window, by status and by device."""

    total: int
    by_status: StatusCounts
    by_device: list[DeviceStats]


class PushBucket(Struct):
    start: Time
    sent: int
    delivered: int
    opened: int
    open_rate: Annotated[float | None, Meta(description="opened / sent; null when nothing was sent")]


#: What a latency read from the delivery rollups' histogram is precise to (store/delivery_rollups.py).
_LATENCY_PRECISION = (
    "from a histogram: exact to the millisecond below 100 ms, two significant digits above (at most 5 % off)"
)


class PushStats(Struct):
    sent: int
    failed: int
    delivered: int
    opened: int
    acknowledged: int
    median_delivery_latency_s: Annotated[
        float | None, Meta(description=f"sent -> delivered, seconds; {_LATENCY_PRECISION}; null when none")
    ]
    buckets: Annotated[list[PushBucket], Meta(description="per bucket of the deliveries' creation")]


class KeyDrops(Struct):
    key_id: str | None
    key_name: str | None
    dropped: int
    recovered: int
    reports: int


class DropBucket(Struct):
    start: Time
    dropped: int
    recovered: int


class ClientStats(Struct):
    """Events clients reported dropping (queue full, hub unreachable), and events they sent from a
    spool an earlier process left (recovered)."""

    dropped: int
    recovered: int
    by_key: list[KeyDrops]
    buckets: list[DropBucket]


class ChannelBucket(Struct):
    start: Time
    channels: dict[str, int]


class ChannelStats(Struct):
    """Visible lines per channel (the busiest ones; the rest as ``(other)``, none as ``(none)``)."""

    by_channel: dict[str, int]
    buckets: list[ChannelBucket]


class NoisyFingerprint(Struct):
    fingerprint: str
    title: str
    channel: str | None
    level: LevelName
    lines: int
    occurrences: Annotated[int, Meta(description="the lines' count summed (dedup included)")]


class AckStats(Struct):
    """CRITICAL lines and the time from receipt to acknowledgement."""

    critical: int
    acknowledged: int
    mean_s: float | None
    p90_s: float | None


class TransportStats(Struct):
    transport: str
    sent: int
    failed: int
    success_rate: Annotated[float | None, Meta(description="sent / (sent + failed)")]
    latency_p50_s: Annotated[
        float | None, Meta(description=f"sent -> delivered, seconds; {_LATENCY_PRECISION}")
    ]
    latency_p90_s: Annotated[
        float | None, Meta(description=f"sent -> delivered, seconds; {_LATENCY_PRECISION}")
    ]
    latency_p99_s: Annotated[
        float | None, Meta(description=f"sent -> delivered, seconds; {_LATENCY_PRECISION}")
    ]


class DeliveryFunnel(Struct):
    """Deliveries created in the window, step by step; held/skipped by the gate's reason, failed by
    the push service's status code."""

    targeted: int
    held: dict[str, int]
    skipped: dict[str, int]
    sent: int
    delivered: int
    opened: int
    acknowledged: int
    failed: dict[str, int]


class NotificationRow(Struct):
    id: str
    template: str | None
    status: Annotated[str, Meta(description="scheduled, sending, sent or cancelled")]
    created_at: Time
    funnel: Annotated[Funnel | None, Meta(description="as in GET /v1/notifications/{id}")]


class TemplateRow(Struct):
    template: Annotated[str | None, Meta(description="null: notifications sent without a template")]
    notifications: int
    funnel: Annotated[Funnel | None, Meta(description="its expanded notifications' funnels summed")]


class NotificationStats(Struct):
    """Notifications created in the window: the newest 50 with their funnels, and per template."""

    total: int
    items: list[NotificationRow]
    by_template: list[TemplateRow]


class Stats(Struct):
    since: Time
    until: Time
    bucket: Literal["hour", "day"]
    events: EventStats
    deliveries: DeliveryStats
    pushes: PushStats
    clients: ClientStats
    channels: ChannelStats
    noisiest: list[NoisyFingerprint]
    acknowledgement: AckStats
    transports: list[TransportStats]
    funnel: DeliveryFunnel
    notifications: NotificationStats


class Health(Struct):
    ok: bool


class Ready(Struct):
    ready: bool
    revision: Annotated[str, Meta(description="the database's schema revision (the newest migration)")]


class VapidKey(Struct):
    public_key: Annotated[str, Meta(description="base64url uncompressed P-256 point")]


# -- app users, audiences, templates, notifications (DESIGN §8, docs/notifications.md) ------------

#: Names of segments, templates and topics.
_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NAME_RE: Final = re.compile(_NAME_PATTERN.strip("^$"))
Name = Annotated[str, Meta(pattern=_NAME_PATTERN, description="1-64 letters, digits, . _ -")]
Locale = Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$", description="BCP 47")]
ZoneName = Annotated[
    str, Meta(min_length=1, max_length=64, description="an IANA time zone, e.g. Europe/Berlin")
]
CustomValue = Annotated[str, Meta(max_length=256)] | int | float | bool
#: Most custom attributes and topics one user may have.
MAX_CUSTOM: Final = 50
MAX_TOPICS: Final = 100
#: A template source (or literal text) may be longer than what it renders to; the result is cut.
MAX_TEMPLATE_SOURCE: Final = 8192
#: Longest push TTL: four weeks (what FCM and Web Push services keep at most).
MAX_TTL: Final = 28 * 86400


class UserRequest(Struct, forbid_unknown_fields=False):
    """An app user's attributes (PUT replaces them all); ``topics`` omitted keeps the topics."""

    locale: Locale | None = None
    timezone: ZoneName | None = None
    plan: Annotated[str, Meta(max_length=64)] | None = None
    country: Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$", description="ISO 3166 alpha-2")] | None = None
    custom: (
        Annotated[
            dict[Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")], CustomValue],
            Meta(max_length=MAX_CUSTOM),
        ]
        | None
    ) = None
    topics: Annotated[list[Name], Meta(max_length=MAX_TOPICS)] | None = None


class UserEffective(Struct):
    locale: str | None
    timezone: str | None


class User(Struct):
    id: str
    locale: str | None
    timezone: str | None
    plan: str | None
    country: str | None
    custom: dict[str, Any]
    topics: list[str]
    effective: Annotated[UserEffective, Meta(description="the user's values, else their devices' reports")]
    devices: int
    created_at: NullTime
    updated_at: NullTime


class UserErased(Struct):
    id: str
    devices_removed: int


class AudienceSpec(Struct, forbid_unknown_fields=False):
    """Who: any of these; when several are given a recipient matches all of them."""

    users: Annotated[list[UserId], Meta(min_length=1, max_length=10_000)] | None = None
    segment: Name | None = None
    filter: (
        Annotated[str, Meta(min_length=1, max_length=4000, description="docs/notifications.md")] | None
    ) = None
    topic: Name | None = None


class AudiencePreviewRequest(AudienceSpec):
    sample: Annotated[int, Meta(ge=0, le=100)] = 10


class AudiencePreview(Struct):
    users: int
    devices: int
    sample: list[str]


class SegmentRequest(Struct, forbid_unknown_fields=False):
    filter: Annotated[str, Meta(min_length=1, max_length=4000)]
    description: Annotated[str, Meta(max_length=1000)] | None = None


class Segment(Struct):
    name: str
    filter: str
    description: str | None
    created_at: Time
    updated_at: Time


class SegmentList(Struct):
    segments: list[Segment]


TemplateSource = Annotated[str, Meta(max_length=MAX_TEMPLATE_SOURCE)]


class TemplateText(Struct, forbid_unknown_fields=False, omit_defaults=True):
    """One locale's Jinja2 sources; ``title`` is required."""

    title: Annotated[str, Meta(min_length=1, max_length=MAX_TEMPLATE_SOURCE)]
    body: TemplateSource | None = None
    link: TemplateSource | None = None
    image: TemplateSource | None = None


class TemplateRequest(Struct, forbid_unknown_fields=False):
    locales: Annotated[dict[Locale, TemplateText], Meta(min_length=1, max_length=100)]
    default_locale: Locale | None = None


class Template(Struct):
    name: str
    default_locale: str
    locales: dict[str, TemplateText]
    created_at: Time
    updated_at: Time


class TemplateList(Struct):
    templates: list[Template]


class TemplatePreviewRequest(Struct, forbid_unknown_fields=False):
    user_id: UserId | None = None
    locale: Locale | None = None
    data: Annotated[dict[str, Any], Meta(max_length=MAX_METADATA_KEYS)] | None = None


class Rendered(Struct):
    locale: str
    title: str
    body: str | None
    link: str | None
    image: str | None


class Schedule(Struct, forbid_unknown_fields=False):
    """When: nothing (now), ``at``, ``delay``, or ``local_time`` on ``date`` in each recipient's zone."""

    at: Timestamp | None = None
    delay: Annotated[str | float, Meta(description="seconds, or a duration like 90m, 2h, 1d")] | None = None
    local_time: Annotated[str, Meta(pattern=r"^\d{2}:\d{2}$", description="HH:MM")] | None = None
    date: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")] | None = None
    timezone: Annotated[ZoneName, Meta(description="zone of recipients without one; default UTC")] | None = (
        None
    )


class NotificationRequest(Struct, forbid_unknown_fields=False):
    audience: AudienceSpec
    template: Name | None = None
    title: Annotated[str, Meta(min_length=1, max_length=MAX_TITLE)] | None = None
    body: Annotated[str, Meta(max_length=MAX_BODY)] | None = None
    data: Annotated[dict[str, Any], Meta(max_length=MAX_METADATA_KEYS)] | None = None
    image: Url | None = None
    link: DeepLink | None = None
    actions: Annotated[list[Action], Meta(max_length=MAX_ACTIONS)] | None = None
    category: (
        Annotated[
            str,
            Meta(min_length=1, max_length=64, description="what preferences choose by (docs/preferences.md)"),
        ]
        | None
    ) = None
    time_sensitive: Annotated[
        bool,
        Meta(description="goes out through quiet hours, caps and digests (not past an opted-out category)"),
    ] = False
    level: LevelIn = "info"
    ttl: Annotated[int, Meta(ge=0, le=MAX_TTL)] | None = None
    collapse_key: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    schedule: Schedule | None = None


class TransportFunnel(Struct):
    queued: int
    sent: int
    delivered: int
    opened: int
    failed: int


class Funnel(Struct):
    targeted: Annotated[int, Meta(description="users the audience named when the notification went out")]
    skipped: Annotated[dict[str, int], Meta(description="users not reached, by reason (no_device, ...)")]
    deliveries: int
    queued: int
    sent: Annotated[int, Meta(description="accepted by the push service (delivered and opened included)")]
    delivered: int
    opened: int
    failed: int
    cancelled: int
    failed_reasons: dict[str, int]
    held: Annotated[int, Meta(description="deliveries the attention gate holds (quiet hours, digest, cap)")]
    held_reasons: dict[str, int]
    skipped_reasons: Annotated[
        dict[str, int],
        Meta(description="deliveries the attention gate skipped, by reason (category_off, ...)"),
    ]
    by_transport: dict[str, TransportFunnel]


class Notification(Struct):
    id: str
    status: Annotated[str, Meta(description="scheduled, sending, sent or cancelled")]
    audience: dict[str, Any]
    template: str | None
    title: Annotated[str | None, Meta(description="the literal title (null when a template is used)")]
    trigger: Annotated[str | None, Meta(description="the trigger that started it, if one did")]
    level: LevelName
    ttl: int
    collapse_key: str | None
    idempotency_key: str | None
    schedule: dict[str, Any]
    start_at: Time
    created_at: Time
    expanded_at: NullTime
    cancelled_at: NullTime
    funnel: Funnel | None


class NotificationList(Struct):
    notifications: list[Notification]
    next_cursor: str | None


class TriggerRequest(Struct, forbid_unknown_fields=False):
    """An incoming event (in ``channel``, titled exactly ``title`` when given) whose metadata names a
    user (``user_key``) starts ``template`` for that user, after ``delay``, once per ``once_key``."""

    template: Name
    channel: Annotated[str, Meta(min_length=1, max_length=MAX_CHANNEL)] | None = None
    title: Annotated[str, Meta(min_length=1, max_length=MAX_TITLE)] | None = None
    user_key: Annotated[str, Meta(min_length=1, max_length=MAX_METADATA_KEY)] = "user_id"
    delay: Annotated[str | float, Meta(description="seconds, or a duration like 10m, 2h")] | None = None
    once_key: (
        Annotated[
            str, Meta(min_length=1, max_length=MAX_METADATA_KEY, description="default: each event once")
        ]
        | None
    ) = None
    level: LevelIn = "info"


class Trigger(Struct):
    name: str
    channel: str | None
    title: str | None
    user_key: str
    template: str
    delay_s: float | None
    once_key: str | None
    level: LevelName
    created_at: Time
    updated_at: Time


class TriggerList(Struct):
    triggers: list[Trigger]


class NotificationListQuery(Struct, forbid_unknown_fields=False):
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Annotated[str, Meta(max_length=64)] | None = None


class SubjectPreferences(Struct):
    """A device's or an app user's preferences as they apply (``custom`` false: nobody chose yet and
    these are the defaults; a user's device without its own document follows its user's)."""

    subject: Literal["device", "user"]
    id: str
    custom: bool
    preferences: PreferenceDocument


class CategoryList(Struct):
    categories: dict[str, Category]


class LinkPreferences(Struct):
    """What the preference page reached by a signed link shows: the user's preferences and the app's
    categories."""

    user: SubjectPreferences
    categories: dict[str, Category]


class PreferenceLinkRequest(Struct, forbid_unknown_fields=True):
    expires_in_s: Annotated[int, Meta(ge=60, le=90 * 86400, description="default 7 days")] = 7 * 86400


class PreferenceLink(Struct):
    url: Annotated[str, Meta(description="opens the user's preference page; no key needed")]
    token: str
    expires_at: Time


# -- rules (hub/rules/, docs/rules.md) ------------------------------------------------------------

RuleKind = Literal["expect", "threshold", "resolve", "escalate"]
RuleName = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]
Duration = Annotated[
    str | Annotated[float, Meta(gt=0, le=MAX_EVERY_S)],
    Meta(description="seconds, or a duration like 90s, 15m, 1d (at most 366 days)"),
]


class RuleMatch(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which events a rule looks at; all given conditions must hold (none: every event)."""

    channel: Annotated[str, Meta(min_length=1, max_length=MAX_CHANNEL)] | None = None
    level: Annotated[LevelName | None, Meta(description="minimum level")] = None
    text: (
        Annotated[str, Meta(min_length=1, max_length=MAX_TITLE, description="in the title or body, any case")]
        | None
    ) = None
    fingerprint: Annotated[str, Meta(min_length=1, max_length=MAX_FINGERPRINT)] | None = None
    tag: Annotated[str, Meta(min_length=1, max_length=MAX_TAG)] | None = None
    meta: (
        Annotated[
            dict[
                Annotated[str, Meta(min_length=1, max_length=MAX_METADATA_KEY)],
                Annotated[str, Meta(max_length=MAX_METADATA_VALUE)],
            ],
            Meta(max_length=16, description="metadata equality (values compared as text)"),
        ]
        | None
    ) = None


class EscalationStep(Struct, forbid_unknown_fields=True):
    """Push the CRITICAL to the devices of ``group`` when it is still unacknowledged ``after`` its
    arrival."""

    after: Duration
    group: Annotated[Name, Meta(description="a device group (PUT /v1/device-groups/{name})")]


class RuleRequest(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A rule as it is declared (API, ``pushlog rules add``, the rules file, ``pushlog.expect``).

    ``expect``: a matching event at least every ``every`` (+ ``grace``); ``threshold``: ``count``
    matching occurrences within ``within`` make one push (with ``rate``: and at least ``rate`` times
    the usual number for that window at this time of day); ``resolve``: alerts matching go resolved
    after ``quiet`` without a new occurrence; ``escalate``: a matching CRITICAL not acknowledged goes
    to each step's device group in turn. ``level`` is the level of the rule's own alert
    (expect and threshold; default error), ``title`` its text (default: the rule's name)."""

    kind: RuleKind
    match: RuleMatch | None = None
    every: Duration | None = None
    grace: Duration | None = None
    count: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    within: Duration | None = None
    rate: (
        Annotated[
            float,
            Meta(
                ge=1.0,
                le=1000.0,
                description="threshold: also at least this many times the usual count for the window "
                "(the average of the same window on each of the 7 days before)",
            ),
        ]
        | None
    ) = None
    quiet: Duration | None = None
    level: LevelName | None = None
    title: Annotated[str, Meta(min_length=1, max_length=MAX_TITLE)] | None = None
    steps: Annotated[list[EscalationStep], Meta(min_length=1, max_length=10)] | None = None
    paused: Annotated[
        bool | None,
        Meta(description="true: not evaluated (kept with its state); an expectation resumes afresh"),
    ] = None


class RuleHistoryEntry(Struct):
    at: Time
    previous: str | None
    state: str
    event_id: Annotated[str | None, Meta(description="the event that caused or announced the change")]
    detail: str | None


class Rule(Struct):
    name: str
    kind: RuleKind
    match: RuleMatch
    every_s: float | None
    grace_s: float | None
    count: int | None
    within_s: float | None
    rate: Annotated[float | None, Meta(description="threshold: times the usual count, or null")]
    quiet_s: float | None
    level: LevelName | None
    title: str | None
    steps: Annotated[list[dict[str, Any]] | None, Meta(description="escalate: [{after_s, group}]")]
    paused: Annotated[bool, Meta(description="not evaluated until declared again without paused")]
    source: Annotated[Literal["api", "file", "client"], Meta(description="who declared it")]
    state: Annotated[
        str,
        Meta(description="expect: waiting|ok|missed; threshold: ok|firing; resolve, escalate: active"),
    ]
    state_since: Time
    due_at: Annotated[NullTime, Meta(description="expect: when it is missed without a match")]
    last_match_at: NullTime
    alert_event_id: Annotated[str | None, Meta(description="the rule's unresolved alert")]
    created_at: Time
    updated_at: Time
    history: Annotated[list[RuleHistoryEntry], Meta(description="newest first (one rule's read)")] = []


class RuleList(Struct):
    rules: list[Rule]


#: Most members one device group may have.
MAX_GROUP_MEMBERS: Final = 100
#: A device group's member: a team device's id or name.
GroupMember = Annotated[str, Meta(min_length=1, max_length=MAX_NAME)]


class DeviceGroupRequest(Struct, forbid_unknown_fields=True):
    """The devices an escalate rule's step pushes to, in the order given."""

    members: Annotated[
        list[GroupMember],
        Meta(
            min_length=1,
            max_length=MAX_GROUP_MEMBERS,
            description="ids or names of registered team devices (GET /v1/devices)",
        ),
    ]


class GroupDevice(Struct):
    id: str
    name: str | None


class DeviceGroup(Struct):
    name: str
    members: Annotated[list[str], Meta(description="as declared: device ids or names")]
    devices: Annotated[
        list[GroupDevice], Meta(description="the registered team devices the members name now")
    ]


class DeviceGroupList(Struct):
    groups: list[DeviceGroup]


# -- decoding -------------------------------------------------------------------------------------


def invalid(where: str, message: str) -> ApiError:
    """422 ``invalid``: a well-formed body with a wrong value at ``where``."""
    return ApiError(422, "invalid", f"{where}: {message}")


def duration_field(value: float | str | None, where: str, *, at_least: float = 0.0) -> float | None:
    """A duration given as seconds or a duration string (``"90s"``, ``"1d"``): finite, at most 366 days
    (:data:`MAX_EVERY_S`) and at least ``at_least`` seconds; ``None`` stays ``None``. A 422 ``invalid``
    at ``where`` otherwise. The one check for every duration a request carries."""
    if value is None:
        return None
    try:
        seconds = parse_seconds(value, where)
    except ValueError as exc:
        raise invalid(where, str(exc)) from None
    if not math.isfinite(seconds) or seconds > MAX_EVERY_S:
        raise invalid(where, "must be at most 366 days")
    if seconds < at_least:
        raise invalid(where, f"must be at least {at_least:g} second{'s' if at_least != 1 else ''}")
    return seconds


def bad_query(name: str, message: str) -> ApiError:
    """400 ``invalid_query``: a query parameter the hub cannot use."""
    return ApiError(400, "invalid_query", f"query parameter {name}: {message}")


_PATH_RE: Final = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING_RE: Final = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_EXPECTED_RE: Final = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_LENGTH_RE: Final = re.compile(r"Expected `(?P<kind>str|array|object)` of length (?P<op><=|>=) (?P<n>\d+)")
_UNITS: Final = {"str": "characters", "array": "items", "object": "keys"}
_BOUND_RE: Final = re.compile(r"Expected `(?:int|float)` (?P<op>[<>]=?) (?P<n>[-\d.e+]+)")
_NAMES: Final = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
    "datetime": "an RFC 3339 timestamp",
}


def _friendly(what: str) -> str:
    if match := _EXPECTED_RE.fullmatch(what):
        wanted = " or ".join(_NAMES.get(part.strip(), part.strip()) for part in match["want"].split("|"))
        return f"must be {wanted}, not {_NAMES.get(match['got'], match['got'])}"
    if match := _LENGTH_RE.fullmatch(what):
        unit = _UNITS[match["kind"]]
        if match["op"] == ">=":
            return "must not be empty" if match["n"] == "1" else f"fewer than {match['n']} {unit}"
        return (
            f"longer than {match['n']} {unit}" if unit == "characters" else f"more than {match['n']} {unit}"
        )
    if match := _BOUND_RE.fullmatch(what):
        return f"must be {match['op']} {match['n']}"
    if what == "Invalid RFC3339 encoded datetime":
        return "must be an RFC 3339 timestamp like 2026-01-31T12:00:00Z"
    if what.startswith("Expected `str` matching regex"):
        return "has the wrong form" if "Ss" not in what else "must be an http(s) URL"
    if what == "Number out of range":
        return "a number out of range (JSON numbers here must be finite doubles)"
    if what == "Integer value out of range":
        return "an integer out of range"
    return what


def _path(path: str) -> str:
    return path.lstrip(".")


def describe(exc: msgspec.ValidationError, where: str) -> str:
    """A msgspec validation message as ``where.path: what is wrong``."""
    match = _PATH_RE.match(str(exc))
    assert match is not None
    what, path = match["what"], _path(match["path"] or "")
    if missing := _MISSING_RE.fullmatch(what):
        path = f"{path}.{missing['field']}" if path else missing["field"]
        what = "required"
    else:
        what = _friendly(what)
    place = f"{where}.{path}" if where and path and not path.startswith("[") else f"{where}{path}"
    return f"{place or 'body'}: {what}"


_LONE_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode_error(raw: bytes, exc: Exception) -> ApiError:
    """400 for a body that is not a JSON text of Unicode strings and finite numbers."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return ApiError(400, "invalid_utf8", f"request body is not valid UTF-8 (byte {err.start})")
    if not text.strip():
        return ApiError(400, "malformed_json", "request body is empty; expected a JSON object")
    if isinstance(exc, RecursionError):
        return ApiError(400, "malformed_json", "request body is nested too deeply")
    message = str(exc).removeprefix("JSON is malformed: ")
    if "surrogate" in message or "hex escape" in message or _SURROGATE_ESCAPE.search(raw):
        message = f"a lone surrogate in a string ({message})"
    return ApiError(400, "malformed_json", f"malformed JSON: {message}")


def decode_body(raw: bytes, model: type[T], *, optional: bool = False) -> T:
    """The request body as ``model``: 400 for what is not JSON, 422 naming the field for the rest.
    ``optional``: an empty body is the model's defaults."""
    if optional and not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", _described(exc, raw, "")) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _decode_error(raw, exc) from None


def decode_object(raw: bytes, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (for bodies merged with query parameters)."""
    return decode_body(raw, dict[str, Any], optional=optional)


# -- publish --------------------------------------------------------------------------------------


@dataclass(slots=True)
class PublishBatch:
    events: list[NewEvent]
    #: Positions in the request of ``events`` (those not rejected).
    positions: list[int]
    rejected: list[Rejection]
    client: ClientReport


_EVENT_DECODER: Final = msgspec.json.Decoder(Event)
_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_PublishEnvelope)


def decode_publish(raw: bytes, *, now: _dt.datetime, max_events: int) -> PublishBatch:
    """``POST /v1/events``: the envelope must be right (else 400/422 for the whole request); each
    event is checked on its own, and a bad one becomes a :class:`Rejection`."""
    try:
        envelope = _ENVELOPE_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", describe(exc, "")) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        return _lenient_publish(raw, exc, now=now, max_events=max_events)
    if len(envelope.events) > max_events:
        raise invalid("events", f"more than {max_events} events in one request")
    batch = PublishBatch([], [], [], envelope.client or ClientReport())
    for index, item in enumerate(envelope.events):
        where = f"events[{index}]"
        try:
            batch.events.append(to_new_event(_EVENT_DECODER.decode(item), where, now=now))
            batch.positions.append(index)
        except msgspec.ValidationError as exc:
            batch.rejected.append(_rejection(index, _probe_id(item), _described(exc, bytes(item), where)))
        except ApiError as exc:
            batch.rejected.append(_rejection(index, _probe_id(item), exc.message))
        except (msgspec.DecodeError, RecursionError) as exc:  # invalid UTF-8 or escapes inside
            return _lenient_publish(raw, exc, now=now, max_events=max_events)
    return batch


def _rejection(index: int, event_id: str | None, message: str) -> Rejection:
    return Rejection(index=index, id=event_id, error=ErrorDetail(code="invalid", message=message))


def _probe_id(item: msgspec.Raw | Any) -> str | None:
    try:
        found = (
            msgspec.json.decode(item, type=_IdProbe).id if isinstance(item, msgspec.Raw) else item.get("id")
        )
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, AttributeError):
        return None
    return found if isinstance(found, str) and 0 < len(found) <= MAX_ID and _clean(found) else None


class _NotJson:
    """A value the lenient parser met that JSON cannot hold (``NaN``, ``1e400``, a huge integer)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _lenient_publish(raw: bytes, exc: Exception, *, now: _dt.datetime, max_events: int) -> PublishBatch:
    """The slow path for a body msgspec refused as a whole: when it is a JSON object whose only
    faults are values JSON cannot hold (``NaN`` as Python's ``json.dumps`` writes it, lone surrogates
    as ``os.fsdecode`` makes them), those faults cost only their own events."""

    try:
        body = _lenient_loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise _decode_error(raw, exc) from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise _decode_error(raw, exc)
    problem = _fault(body.get("client"), "client")
    if problem:
        raise invalid(*problem)
    try:
        client = msgspec.convert(body.get("client") or {}, ClientReport)
    except msgspec.ValidationError as err:
        raise invalid("client", describe(err, "")) from None
    items = body["events"]
    if len(items) > max_events:
        raise invalid("events", f"more than {max_events} events in one request")
    batch = PublishBatch([], [], [], client)
    for index, item in enumerate(items):
        where = f"events[{index}]"
        found = _fault(item, where)
        try:
            if found:
                raise invalid(*found)
            batch.events.append(to_new_event(msgspec.convert(item, Event), where, now=now))
            batch.positions.append(index)
        except msgspec.ValidationError as err:
            batch.rejected.append(_rejection(index, _probe_id(item), describe(err, where)))  # no [...]
        except ApiError as err:
            batch.rejected.append(_rejection(index, _probe_id(item), err.message))
    return batch


def _lenient_loads(text: str | bytes) -> Any:
    """JSON as Python's parser reads it, with :class:`_NotJson` where JSON cannot hold a value."""

    def number(text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else _NotJson(text)

    def integer(text: str) -> Any:
        return int(text) if len(text.lstrip("-")) <= 20 else _NotJson(f"an integer of {len(text)} digits")

    return json.loads(text, parse_constant=_NotJson, parse_float=number, parse_int=integer)


def _described(exc: msgspec.ValidationError, raw: bytes, where: str) -> str:
    """:func:`describe`, naming the field where msgspec could not (a number out of range inside a
    free-form object is reported at ``[...]``)."""
    message = describe(exc, where)
    if "[...]" not in message:
        return message
    try:
        found = _fault(_lenient_loads(raw), where)
    except (ValueError, RecursionError):
        found = None
    if found is None:
        return message
    place, what = found
    return f"{place.lstrip('.') or 'body'}: {what}"


def _clean(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is None


def _fault(value: Any, where: str) -> tuple[str, str] | None:
    """``(where, what)`` of the first value JSON cannot hold inside ``value``."""
    if isinstance(value, _NotJson):
        return where, f"{value.text} is out of range (numbers must be finite, integers 64-bit)"
    if isinstance(value, str):
        return None if _clean(value) else (where, "a lone surrogate is not a Unicode character")
    if isinstance(value, dict):
        for key, item in value.items():
            if not _clean(key):
                return where, "a key with a lone surrogate is not a Unicode string"
            if found := _fault(item, f"{where}.{key}"):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _fault(item, f"{where}[{index}]"):
                return found
    return None


_SCALARS: Final = (str, int, float, bool, type(None))


def _small_flat(source: dict[str, Any]) -> bool:
    """Whether ``source`` is certainly within the limits: a few short keys with short scalar values
    (the client's logger/host/pid), checked without serialising it."""
    return len(source) <= 16 and all(
        len(key) <= 128 and type(value) in _SCALARS and (type(value) is not str or len(value) <= 128)
        for key, value in source.items()
    )


def _depth(value: Any) -> int:
    """Levels of arrays/objects in ``value`` (0 for a scalar)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def check_time(
    moment: _dt.datetime, where: str, *, error: Callable[[str, str], ApiError] = invalid
) -> _dt.datetime:
    """``moment`` in UTC, if inside [:data:`MIN_TIME`, :data:`MAX_TIME`]; naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    if not MIN_TIME <= moment <= MAX_TIME:
        raise error(where, "must be between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z")
    return moment.astimezone(_dt.UTC)


def to_new_event(event: Event, where: str, *, now: _dt.datetime) -> NewEvent:
    """A decoded :class:`Event` as the store's :class:`NewEvent`, after the checks a type cannot say."""
    event_id = event.id if event.id is not None else str(uuid.uuid4())
    try:
        level = parse_level(event.level)
    except ValueError as exc:
        raise invalid(f"{where}.level", str(exc)) from None
    metadata = event.metadata or {}
    for key, value in metadata.items():
        kind = type(value)
        if kind is str:
            if len(value) > MAX_METADATA_VALUE:
                raise invalid(f"{where}.metadata.{key}", f"longer than {MAX_METADATA_VALUE} characters")
        elif kind is dict or kind is list:  # scalars JSON can hold are always short
            if metadata_value_length(value) > MAX_METADATA_VALUE:
                raise invalid(
                    f"{where}.metadata.{key}", f"longer than {MAX_METADATA_VALUE} characters as JSON"
                )
            if _depth(value) > MAX_METADATA_DEPTH:
                raise invalid(f"{where}.metadata.{key}", f"nested deeper than {MAX_METADATA_DEPTH} levels")
    source = event.source or {}
    if source and not _small_flat(source):
        if len(json.dumps(source, ensure_ascii=False)) > MAX_SOURCE:
            raise invalid(f"{where}.source", f"larger than {MAX_SOURCE} characters as JSON")
        if _depth(source) > MAX_METADATA_DEPTH + 1:
            raise invalid(f"{where}.source", f"nested deeper than {MAX_METADATA_DEPTH + 1} levels")
    if event.repeat_of is not None and event.repeat_of == event_id:
        raise invalid(f"{where}.repeat_of", "must name another event, not the event's own id")
    ts = now if event.ts is None else check_time(event.ts, f"{where}.ts")
    actions = []
    for action in event.actions or ():
        clean = {"action": action.action[:MAX_ACTION_TEXT], "title": action.title[:MAX_ACTION_TEXT]}
        if action.url:
            clean["url"] = action.url
        actions.append(clean)
    pushes = POLICIES[level].push
    push = event.push if event.push is not None else pushes
    return NewEvent(
        id=event_id,
        ts=ts,
        level=level,
        title=event.title,
        body=event.body,
        channel=event.channel or None,
        tags=event.tags or [],
        link=event.link or None,
        image=event.image or None,
        actions=actions,
        metadata=metadata,
        fingerprint=event.fingerprint,
        count=event.count,
        # a follow-up reports repeats of something already pushed: never pushed itself
        push=push and pushes and event.repeat_of is None,
        source=source,
        repeat_of=event.repeat_of,
        resolves=event.resolves,
    )


# -- query parameters -----------------------------------------------------------------------------


def _is_list(annotation: Any) -> bool:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) is list


def parse_query(params: Any, model: type[T], *, rename: Mapping[str, str] | None = None) -> T:
    """Query parameters as ``model`` (repeatable ones for list fields); 400 ``invalid_query``
    naming the parameter. Empty values count as absent."""
    data: dict[str, Any] = {}
    for field in msgspec.structs.fields(model):  # type: ignore[arg-type]
        if _is_list(field.type):
            values = [v for v in params.getlist(field.encode_name) if v]
            if values:
                data[field.encode_name] = values
        elif value := params.get(field.encode_name):
            data[field.encode_name] = value
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        message = describe(exc, "")
        name, _, what = message.partition(": ")
        name = (rename or {}).get(name, name)
        raise bad_query(name, what) from None
