"""client_reports.recovered: events a client sent from a spool an earlier process left (GET /v1/stats)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovered", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.drop_column("recovered")
