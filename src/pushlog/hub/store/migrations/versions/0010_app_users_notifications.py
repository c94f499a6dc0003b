"""app users, topics, segments, templates, notifications and triggers; deliveries of notifications

A delivery now belongs to an event (team devices) or to a notification (app users' devices): the
event columns become nullable and ``notification_id`` is added, unique per device.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("plan", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "user_attributes",
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("text_value", sa.String(length=256), nullable=False),
        sa.Column("num_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )
    op.create_index("ix_user_attributes_key_text", "user_attributes", ["key", "text_value"])
    op.create_index("ix_user_attributes_key_num", "user_attributes", ["key", "num_value"])
    op.create_table(
        "user_topics",
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "topic"),
    )
    op.create_index("ix_user_topics_topic", "user_topics", ["topic", "user_id"])
    op.create_table(
        "segments",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "templates",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("default_locale", sa.String(length=35), nullable=False),
        sa.Column("locales", sa.JSON(), nullable=False),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("collapse_key", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("start_at", utc(timezone=True), nullable=False),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.Column("expanded_at", utc(timezone=True), nullable=True),
        sa.Column("cancelled_at", utc(timezone=True), nullable=True),
        sa.Column("targeted", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_notifications_status_start", "notifications", ["status", "start_at"])
    op.create_index("ix_notifications_created", "notifications", ["created_at", "id"])
    op.create_table(
        "triggers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("user_key", sa.String(length=128), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("delay_s", sa.Float(), nullable=True),
        sa.Column("once_key", sa.String(length=128), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("event_seq", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("event_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("notification_id", sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(
            "uq_deliveries_notification_device", ["notification_id", "device_id"]
        )
        batch_op.create_index("ix_deliveries_notification", ["notification_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_notification")
        batch_op.drop_constraint("uq_deliveries_notification_device", type_="unique")
        batch_op.drop_column("notification_id")
        batch_op.alter_column("event_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("event_seq", existing_type=sa.Integer(), nullable=False)
    op.drop_table("triggers")
    op.drop_index("ix_notifications_created", table_name="notifications")
    op.drop_index("ix_notifications_status_start", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("templates")
    op.drop_table("segments")
    op.drop_index("ix_user_topics_topic", table_name="user_topics")
    op.drop_table("user_topics")
    op.drop_index("ix_user_attributes_key_num", table_name="user_attributes")
    op.drop_index("ix_user_attributes_key_text", table_name="user_attributes")
    op.drop_table("user_attributes")
    op.drop_table("users")
