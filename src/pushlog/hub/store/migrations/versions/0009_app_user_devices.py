"""devices schema for an app's users: user_id, platform, app_version, locale, timezone, attributes,
installation_id, last_seen_at; Web Push p256dh/auth widened to hold their ciphertext

A device with ``user_id`` belongs to an app user (registered with a ``users`` key) and never receives
log events. ``last_seen_at`` starts as each existing device's ``updated_at`` so inactivity pruning has a
date for every row. ``p256dh`` and ``auth`` become TEXT: they are stored encrypted
(store/device_tokens.py), which is longer than the plaintext they held.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("platform", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("app_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("installation_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", utc(timezone=True), nullable=True))
        batch_op.alter_column("p256dh", type_=sa.Text(), existing_type=sa.String(length=200))
        batch_op.alter_column("auth", type_=sa.Text(), existing_type=sa.String(length=100))
        batch_op.create_index("ix_devices_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_devices_installation_id", ["installation_id"], unique=False)
        batch_op.create_index("ix_devices_last_seen_at", ["last_seen_at"], unique=False)
    op.execute("UPDATE devices SET last_seen_at = updated_at WHERE last_seen_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_last_seen_at")
        batch_op.drop_index("ix_devices_installation_id")
        batch_op.drop_index("ix_devices_user_id")
        batch_op.alter_column("auth", type_=sa.String(length=100), existing_type=sa.Text())
        batch_op.alter_column("p256dh", type_=sa.String(length=200), existing_type=sa.Text())
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("installation_id")
        batch_op.drop_column("attributes")
        batch_op.drop_column("timezone")
        batch_op.drop_column("locale")
        batch_op.drop_column("app_version")
        batch_op.drop_column("platform")
        batch_op.drop_column("user_id")
