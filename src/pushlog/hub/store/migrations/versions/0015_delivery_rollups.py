"""hourly rollups of the deliveries table for GET /v1/stats (delivery_rollup,
delivery_latency_rollup, the marks of changed hours and the fold watermark), folded from the
deliveries already stored

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushlog.hub.store import delivery_rollups
from pushlog.hub.store._tables import as_utc
from pushlog.hub.store._window import epoch_hour

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
    # Fold what is stored up to FOLD_LAG hours before the newest delivery (the hub's clock is not
    # known here; the newest row stands for it, and the duty folds the rest). The fold is the store's
    # own (the same SQL the duty runs), so the backfill and the duty cannot disagree.
    conn = op.get_bind()
    newest = conn.execute(sa.text("SELECT max(created_at) FROM deliveries")).scalar()
    cutoff = 0 if newest is None else epoch_hour(as_utc(newest)) - delivery_rollups.FOLD_LAG
    op.bulk_insert(state, [{"id": 1, "folded_until": max(cutoff, 0)}])
    if cutoff > 0:
        delivery_rollups.fold_hours(conn, 0, cutoff)


def downgrade() -> None:
    op.drop_table("delivery_rollup_state")
    op.drop_table("delivery_rollup_dirty")
    op.drop_table("delivery_latency_rollup")
    op.drop_table("delivery_rollup")
