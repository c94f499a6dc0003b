"""dedup follow-ups: events.repeat_of, merged_into, last_seen_at

A follow-up (wire ``repeat_of``) whose first event is known is stored hidden (``merged_into`` = the
first event's seq) and its count is added to that event; ``last_seen_at`` records the newest follow-up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat_of", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", utc(timezone=True), nullable=True))
        batch_op.create_index("ix_events_merged_into", ["merged_into"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_merged_into")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("repeat_of")
