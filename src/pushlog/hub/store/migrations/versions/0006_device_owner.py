"""devices.key_id: the key that registered a device (revoking the key removes its devices)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_devices_key_id", ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_key_id")
        batch_op.drop_column("key_id")
