"""events.received_at index: retention deletes the oldest events by the hub's receive time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_received_at")
