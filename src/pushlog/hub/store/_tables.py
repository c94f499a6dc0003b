"""Every table of the hub (SQLAlchemy Core), as docs/architecture.md pins them.

The one place the schema is declared: query modules import their tables from here, and alembic's
``target_metadata`` (``migrations/env.py``) is this module's :data:`metadata`, so it sees every table.
Portable constructs only (no SQLite-specific types), so PostgreSQL is a later addition: the alembic
migrations in ``migrations/`` create exactly these tables. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ..._levels import Level

metadata = sa.MetaData()


def as_utc(value: _dt.datetime | str) -> _dt.datetime:
    """A stored timestamp as an aware UTC datetime: SQLite gives text or naive datetimes (also for
    aggregates such as ``min()``, which bypass the column type)."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC)


class UTCDateTime(TypeDecorator[_dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops tzinfo; this restores it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: _dt.datetime | None, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(_dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        return None if value is None else as_utc(value)


keys = sa.Table(
    "keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("last_used_at", UTCDateTime()),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("ts", UTCDateTime(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("channel", sa.String(64)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("image", sa.Text),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(128)),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("push", sa.Boolean, nullable=False),
    sa.Column("source", sa.JSON, nullable=False),
    sa.Column("key_id", sa.String(40)),
    sa.Column("acknowledged_at", UTCDateTime()),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("repeat_next_at", UTCDateTime()),
    sa.Column("repeat_until", UTCDateTime()),
    # Dedup follow-ups (wire ``repeat_of``): the first event's id as sent; ``merged_into`` is the seq of
    # the line the follow-up's count was added to (NULL: a visible line of its own). ``last_seen_at`` is
    # the newest merged follow-up's ts on the line that absorbed it.
    sa.Column("repeat_of", sa.String(64)),
    sa.Column("merged_into", sa.Integer),
    sa.Column("last_seen_at", UTCDateTime()),
    # Alerts that resolve themselves (store/alerts.py, migration 0012): the wire ``resolves`` an event
    # carried, and on a pushed line, when and by what it was resolved.
    sa.Column("resolves", sa.String(128)),
    sa.Column("resolved_at", UTCDateTime()),
    sa.Column("resolved_by", sa.String(200)),
    sa.Index("ix_events_level_seq", "level", "seq"),
    sa.Index("ix_events_fingerprint", "fingerprint"),
    sa.Index("ix_events_channel_seq", "channel", "seq"),
    sa.Index("ix_events_ts", "ts"),
    sa.Index("ix_events_received_at", "received_at"),  # retention (store/retention.py)
    sa.Index("ix_events_repeat_next_at", "repeat_next_at"),
    # Dedup follow-ups of a line (merged_into = seq), and the visible lines (merged_into IS NULL) of a
    # time range: the stats' edge hours (store/rollups.py). With ts in it, SQLite picks it for a ts
    # range even on a database never ANALYZEd, where a bare merged_into index (IS NULL: nearly every
    # row) looked best to its planner (migration 0014).
    sa.Index("ix_events_merged_into_ts", "merged_into", "ts"),
    # GET /v1/stats' acknowledgement times (store/analytics.py; migration 0014): the visible CRITICAL
    # lines by ts, only those (a few percent of the rows), with the columns the waits are computed from.
    sa.Index(
        "ix_events_critical_ts",
        "merged_into",
        "ts",
        "received_at",
        "acknowledged_at",
        sqlite_where=sa.text(f"level >= {int(Level.CRITICAL)}"),
        postgresql_where=sa.text(f"level >= {int(Level.CRITICAL)}"),
    ),
)

event_tags = sa.Table(
    "event_tags",
    metadata,
    sa.Column("event_seq", sa.Integer, sa.ForeignKey("events.seq", ondelete="CASCADE"), nullable=False),
    sa.Column("tag", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("event_seq", "tag"),
    sa.Index("ix_event_tags_tag", "tag", "event_seq"),
)

event_meta = sa.Table(
    "event_meta",
    metadata,
    sa.Column("event_seq", sa.Integer, sa.ForeignKey("events.seq", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("event_seq", "key"),
    sa.Index("ix_event_meta_key_value", "key", "value", "event_seq"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("endpoint", sa.Text, unique=True),
    # Web Push: endpoint, p256dh and auth are stored encrypted like native tokens (store/device_tokens.py)
    sa.Column("p256dh", sa.Text),
    sa.Column("auth", sa.Text),
    # FCM/APNs: the token encrypted (store/device_tokens.py), its keyed-HMAC lookup (for Web Push: of the
    # endpoint, the subscription's address) and registration time
    sa.Column("token", sa.Text),
    sa.Column("token_hash", sa.String(64)),
    sa.Column("token_registered_at", UTCDateTime()),
    sa.Column("min_level", sa.Integer, nullable=False, server_default="30"),
    sa.Column("channels", sa.JSON),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_success_at", UTCDateTime()),
    sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"),
    # The key that registered (or last refreshed) the device; revoking it removes the device.
    # NULL for devices registered before owners were recorded (migration 0006).
    sa.Column("key_id", sa.String(40)),
    # An app user's device (``user_id`` set, registered with a ``users`` key) never receives log events;
    # without ``user_id`` it is a team device. ``installation_id`` is the app install that holds the token:
    # a new token for the same (owner, installation) replaces the old device. ``timezone`` is an IANA name,
    # ``attributes`` a flat JSON object of scalars. ``last_seen_at``: the last registration or refresh,
    # which inactivity pruning reads (migration 0009).
    sa.Column("user_id", sa.String(200)),
    sa.Column("platform", sa.String(32)),
    sa.Column("app_version", sa.String(64)),
    sa.Column("locale", sa.String(64)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("attributes", sa.JSON),
    sa.Column("installation_id", sa.String(200)),
    sa.Column("last_seen_at", UTCDateTime()),
    sa.Index("ix_devices_key_id", "key_id"),
    sa.Index("ix_devices_token_hash", "token_hash", unique=True),
    sa.Index("ix_devices_user_id", "user_id"),
    sa.Index("ix_devices_installation_id", "installation_id"),
    sa.Index("ix_devices_last_seen_at", "last_seen_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # A delivery is of an event (team devices) or of a notification (app users' devices, DESIGN §8):
    # exactly one of event_seq/event_id and notification_id is set (migration 0009).
    sa.Column("event_seq", sa.Integer, sa.ForeignKey("events.seq", ondelete="CASCADE")),
    sa.Column("event_id", sa.String(64)),
    sa.Column("device_id", sa.String(40), nullable=False),
    sa.Column("round", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime()),
    sa.Column("locked_until", UTCDateTime()),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("opened_at", UTCDateTime()),
    sa.Column("notification_id", sa.String(40)),
    # Migration 0011 (hub/attention): why the gate held or skipped the row; the push's category (a log
    # event's channel; frequency caps count by it); the summary a released row carries for others.
    sa.Column("reason", sa.String(32)),
    sa.Column("category", sa.String(64)),
    sa.Column("summary", sa.JSON),
    sa.UniqueConstraint("event_id", "device_id", "round", name="uq_deliveries_event_device_round"),
    # A notification reaches a device at most once, whatever retries the expansion had.
    sa.UniqueConstraint("notification_id", "device_id", name="uq_deliveries_notification_device"),
    sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_event_seq", "event_seq"),
    sa.Index("ix_deliveries_device", "device_id"),
    sa.Index("ix_deliveries_notification", "notification_id", "status"),
    sa.Index("ix_deliveries_device_created", "device_id", "created_at"),  # frequency caps
    # GET /v1/stats (store/stats.py, store/analytics.py; migration 0014): the window's rows by
    # created_at, with every column the counts read, so SQLite answers them from the index alone.
    sa.Index(
        "ix_deliveries_created_stats",
        "created_at",
        "device_id",
        "status",
        "sent_at",
        "delivered_at",
        "opened_at",
        "reason",
        "last_status_code",
    ),
)

#: Fan-outs still being expanded (store/outbox.py, migration 0016): a pushed event's round whose
#: delivery rows are written in chunks of devices, in device id order, after the transaction that
#: accepted it wrote the first. ``after`` is the last device id already expanded (null: none yet);
#: the row is deleted with the last chunk. The devices are those registered by ``created_at``.
fanouts = sa.Table(
    "fanouts",
    metadata,
    sa.Column("event_seq", sa.Integer, sa.ForeignKey("events.seq", ondelete="CASCADE"), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(64)),
    sa.Column("feed_only", sa.Boolean, nullable=False),
    sa.Column("after", sa.String(40)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("event_seq", "round"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Dead man's switch state (``store/heartbeats.py``); ``state`` is up | overdue | unmonitored.
heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("every_s", sa.Float),
    sa.Column("grace_s", sa.Float),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_ping_at", UTCDateTime()),
    sa.Column("last_start_at", UTCDateTime()),
    sa.Column("last_success_at", UTCDateTime()),
    sa.Column("last_failure_at", UTCDateTime()),
    sa.Column("last_exit_code", sa.Integer),
    sa.Column("last_duration_s", sa.Float),
    sa.Column("last_message", sa.Text),
    sa.Column("overdue_since", UTCDateTime()),
    sa.Column("key_id", sa.String(40)),
    sa.Index("ix_heartbeats_state_due", "state", "due_at"),
)

#: One row per accepted publish batch whose envelope reported ``"client": {"dropped": n}``, n > 0.
client_reports = sa.Table(
    "client_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("key_id", sa.String(40)),
    sa.Column("dropped", sa.Integer, nullable=False),
    sa.Column("sdk", sa.String(64)),
    sa.Column("recovered", sa.Integer),  # migration 0005; NULL in rows written before it
    sa.Index("ix_client_reports_received_at", "received_at"),
)

# -- app users and notifications (DESIGN §8, store/users.py, store/notifications.py) ---------------

#: App users: what the app's backend says about each user (their devices name them by ``user_id``).
#: ``custom`` is the record of custom attributes; ``user_attributes`` indexes it for audience filters.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("locale", sa.String(35)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("plan", sa.String(64)),
    sa.Column("country", sa.String(8)),
    sa.Column("custom", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: One row per custom attribute of a user: ``text_value`` always (strings as given, numbers and
#: booleans in JSON form), ``num_value`` for numbers, so filters compare either way in SQL.
user_attributes = sa.Table(
    "user_attributes",
    metadata,
    sa.Column("user_id", sa.String(200), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("text_value", sa.String(256), nullable=False),
    sa.Column("num_value", sa.Float),
    sa.PrimaryKeyConstraint("user_id", "key"),
    sa.Index("ix_user_attributes_key_text", "key", "text_value"),
    sa.Index("ix_user_attributes_key_num", "key", "num_value"),
)

#: Topics a user subscribed to (an audience may be a topic).
user_topics = sa.Table(
    "user_topics",
    metadata,
    sa.Column("user_id", sa.String(200), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("user_id", "topic"),
    sa.Index("ix_user_topics_topic", "topic", "user_id"),
)

#: Saved audience filters, by name.
segments = sa.Table(
    "segments",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("filter", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: Notification templates: ``locales`` maps a locale to its {title, body, link, image} sources.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("default_locale", sa.String(35), nullable=False),
    sa.Column("locales", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: Notifications to app users: what, to whom, when. ``status`` is scheduled (waiting for
#: ``start_at``), expanded (its deliveries are in the outbox) or cancelled; ``content`` is the
#: template (copied when the notification was made) or literal text; ``targeted``/``skipped`` are
#: counted when it is expanded.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("audience", sa.JSON, nullable=False),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("ttl", sa.Integer, nullable=False),
    sa.Column("collapse_key", sa.String(64)),
    sa.Column("idempotency_key", sa.String(128), unique=True),
    sa.Column("schedule", sa.JSON, nullable=False),
    sa.Column("start_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("expanded_at", UTCDateTime()),
    sa.Column("cancelled_at", UTCDateTime()),
    sa.Column("targeted", sa.Integer),
    sa.Column("skipped", sa.JSON),
    sa.Column("key_id", sa.String(40)),
    sa.Index("ix_notifications_status_start", "status", "start_at"),
    sa.Index("ix_notifications_created", "created_at", "id"),
)

#: Triggers: an incoming event (``channel``, exact ``title`` when given) naming a user in its metadata
#: (``user_key``) starts a notification from ``template`` for that user, after ``delay_s``, at most
#: once per value of metadata ``once_key`` (else per event). ``settings["triggers.last_seq"]`` is how
#: far the event stream has been read.
triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("title", sa.Text),
    sa.Column("user_key", sa.String(128), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("delay_s", sa.Float),
    sa.Column("once_key", sa.String(128)),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: A person's preference document (``hub/attention``), for a device (``subject_kind`` "device", the
#: device id) or an app user (``"user"``, the app's user id as a string); migration 0011.
preferences = sa.Table(
    "preferences",
    metadata,
    sa.Column("subject_kind", sa.String(8), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("subject_kind", "subject_id"),
)

#: The app's notification categories with their default (push | digest | off); migration 0011.
categories = sa.Table(
    "categories",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("default_mode", sa.String(8), nullable=False),
    sa.Column("description", sa.String(200)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: Rules over the event stream (``store/rules.py``, ``hub/rules/``): ``kind`` is expect | threshold |
#: resolve, ``spec`` its normalised parameters (``hub/rules/_spec.py``). The state columns are changed
#: only by conditional UPDATEs, so with several hub processes the database decides who moves a rule.
rules = sa.Table(
    "rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # api | file | client
    sa.Column("key_id", sa.String(40)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_since", UTCDateTime(), nullable=False),
    sa.Column("due_at", UTCDateTime()),  # expect: the deadline
    sa.Column("last_match_at", UTCDateTime()),
    sa.Column("alert_event_id", sa.String(64)),  # the alert this rule raised and has not resolved
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_rules_state_due", "state", "due_at"),
)

#: Every state change of a rule, with the event that caused or announced it.
rule_history = sa.Table(
    "rule_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("previous", sa.String(16)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(64)),
    sa.Column("detail", sa.Text),
    sa.Index("ix_rule_history_rule", "rule_id", "id"),
)

#: Threshold rules' matching events inside their window (``count`` = occurrences the event stands for).
rule_matches = sa.Table(
    "rule_matches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Index("ix_rule_matches_rule_at", "rule_id", "at"),
)

#: Named groups of devices (on-call chains): escalate rules push to a group at their step.
#: ``device_id`` holds a device's id or its name (``store/rules.group_devices``).
device_groups = sa.Table(
    "device_groups",
    metadata,
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(200), nullable=False),
    sa.PrimaryKeyConstraint("name", "device_id"),
)

#: A CRITICAL an escalate rule is following: ``step`` is the next step's index, due at ``next_at``.
escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("next_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("rule_id", "event_seq"),
    sa.Index("ix_escalations_next_at", "next_at"),
)

#: Hourly rollups of the events table for ``GET /v1/stats`` (store/rollups.py keeps them on ingest):
#: visible lines and occurrences per hour x level x channel (``''`` for no channel), and per hour x
#: fingerprint with the largest level, title and channel seen. ``hour`` is whole hours since the epoch.
event_rollup = sa.Table(
    "event_rollup",
    metadata,
    sa.Column("hour", sa.BigInteger, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("lines", sa.BigInteger, nullable=False),
    sa.Column("occurrences", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("hour", "level", "channel"),
)

fingerprint_rollup = sa.Table(
    "fingerprint_rollup",
    metadata,
    sa.Column("hour", sa.BigInteger, nullable=False),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("lines", sa.BigInteger, nullable=False),
    sa.Column("occurrences", sa.BigInteger, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("channel", sa.String(64)),
    sa.PrimaryKeyConstraint("hour", "fingerprint"),
)

#: Hourly rollups of the deliveries table for ``GET /v1/stats`` (store/delivery_rollups.py folds hours
#: from the rows; store/outbox.py marks the folded hours its writes change). ``hour`` is the whole hour
#: since the epoch of ``created_at``; ``reason`` is kept for held/skipped rows (``''`` otherwise or
#: none) and ``code`` (``last_status_code``) for failed ones (-1 otherwise or none).
delivery_rollup = sa.Table(
    "delivery_rollup",
    metadata,
    sa.Column("hour", sa.BigInteger, nullable=False),
    sa.Column("device_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("code", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("sent", sa.BigInteger, nullable=False),  # sent_at set
    sa.Column("went", sa.BigInteger, nullable=False),  # sent_at or delivered_at set
    sa.Column("delivered", sa.BigInteger, nullable=False),
    sa.Column("opened", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("hour", "device_id", "status", "reason", "code"),
)

#: Sent -> delivered latencies per hour x device, as counts per latency bin (milliseconds, two
#: significant digits above 100 ms: ``delivery_rollups.latency_bin``).
delivery_latency_rollup = sa.Table(
    "delivery_latency_rollup",
    metadata,
    sa.Column("hour", sa.BigInteger, nullable=False),
    sa.Column("device_id", sa.String(40), nullable=False),
    sa.Column("ms", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("hour", "device_id", "ms"),
)

#: Folded hours whose deliveries changed since they were folded (read from the rows until refolded).
delivery_rollup_dirty = sa.Table(
    "delivery_rollup_dirty",
    metadata,
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("marks", sa.BigInteger, nullable=False),
)

#: One row (id 1): every hour before ``folded_until`` is folded into the delivery rollups.
delivery_rollup_state = sa.Table(
    "delivery_rollup_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("folded_until", sa.BigInteger, nullable=False),
)
