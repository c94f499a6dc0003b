"""client_reports: drop counts clients send in the publish envelope (GET /v1/stats)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    op.create_table(
        "client_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", utc(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("sdk", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.create_index("ix_client_reports_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_client_reports_received_at")
    op.drop_table("client_reports")
