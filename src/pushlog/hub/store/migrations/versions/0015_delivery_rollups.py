"""hourly rollups of the deliveries table for GET /v1/stats (delivery_rollup,
delivery_latency_rollup, the marks of changed hours and the fold watermark), empty: the
delivery_rollups duty folds the deliveries already stored

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_rollup",
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("device_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("sent", sa.BigInteger, nullable=False),
        sa.Column("went", sa.BigInteger, nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=False),
        sa.Column("opened", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("hour", "device_id", "status", "reason", "code"),
    )
    op.create_table(
        "delivery_latency_rollup",
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("device_id", sa.String(40), nullable=False),
        sa.Column("ms", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("hour", "device_id", "ms"),
    )
    op.create_table(
        "delivery_rollup_dirty",
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("marks", sa.BigInteger, nullable=False),
    )
    state = op.create_table(
        "delivery_rollup_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("folded_until", sa.BigInteger, nullable=False),
    )
    # Nothing folded (the epoch hour): the stats read every delivery from the rows, exactly, until
    # the hub's delivery_rollups duty has folded what is stored, in short slices that let ingest
    # through. The migration runs no fold of its own: that is the store's current code, which later
    # revisions of these tables may change, and one transaction over a big table would hold the
    # writer for seconds.
    op.bulk_insert(state, [{"id": 1, "folded_until": 0}])


def downgrade() -> None:
    op.drop_table("delivery_rollup_state")
    op.drop_table("delivery_rollup_dirty")
    op.drop_table("delivery_latency_rollup")
    op.drop_table("delivery_rollup")
