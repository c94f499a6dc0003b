"""native devices: devices.token_hash (keyed HMAC lookup) and token_registered_at

FCM and APNs devices keep their token only encrypted (``devices.token``) and are found by
``token_hash`` (store/device_tokens.py); ``token_registered_at`` is when the app last registered the
token, which decides whether an APNs 410 Unregistered still applies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pushlog.hub.store._tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pushlog.hub.store._tables.UTCDateTime
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("token_registered_at", utc(timezone=True), nullable=True))
        batch_op.create_index("ix_devices_token_hash", ["token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_token_hash")
        batch_op.drop_column("token_registered_at")
        batch_op.drop_column("token_hash")
