"""preferences, categories and the gate's columns on deliveries (reason, category, summary)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushlog.hub.store._tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))
        batch_op.create_index("ix_deliveries_device_created", ["device_id", "created_at"], unique=False)
    op.create_table(
        "preferences",
        sa.Column("subject_kind", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject_kind", "subject_id"),
    )
    op.create_table(
        "categories",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("default_mode", sa.String(8), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("categories")
    op.drop_table("preferences")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_device_created")
        batch_op.drop_column("summary")
        batch_op.drop_column("category")
        batch_op.drop_column("reason")
