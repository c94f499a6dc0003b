"""heartbeats: the dead man's switch state (pushlog.hub.heartbeats)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("every_s", sa.Float(), nullable=True),
        sa.Column("grace_s", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", utc(timezone=True), nullable=True),
        sa.Column("created_at", utc(timezone=True), nullable=False),
        sa.Column("updated_at", utc(timezone=True), nullable=False),
        sa.Column("last_ping_at", utc(timezone=True), nullable=True),
        sa.Column("last_start_at", utc(timezone=True), nullable=True),
        sa.Column("last_success_at", utc(timezone=True), nullable=True),
        sa.Column("last_failure_at", utc(timezone=True), nullable=True),
        sa.Column("last_exit_code", sa.Integer(), nullable=True),
        sa.Column("last_duration_s", sa.Float(), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("overdue_since", utc(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.create_index("ix_heartbeats_state_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.drop_index("ix_heartbeats_state_due")
    op.drop_table("heartbeats")
