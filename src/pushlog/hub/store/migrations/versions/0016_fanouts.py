"""fanouts: a pushed event's delivery rows written in chunks of devices after the ingest
transaction wrote the first (store/outbox.py)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushlog.hub.store._tables import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fanouts",
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


def downgrade() -> None:
    op.drop_table("fanouts")
