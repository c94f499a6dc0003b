"""indexes for GET /v1/stats: deliveries by created_at covering the counted columns, the visible
events by (merged_into, ts) in place of merged_into alone, and the visible CRITICAL events by ts (a
partial index)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: Level.CRITICAL, and the stats' delivery columns, as they are at this revision (a migration does
#: not follow later code).
_CRITICAL = 50
_DELIVERY_COLUMNS = [
    "created_at",
    "device_id",
    "status",
    "sent_at",
    "delivered_at",
    "opened_at",
    "reason",
    "last_status_code",
]


def upgrade() -> None:
    op.create_index("ix_deliveries_created_stats", "deliveries", _DELIVERY_COLUMNS)
    op.create_index("ix_events_merged_into_ts", "events", ["merged_into", "ts"])
    op.drop_index("ix_events_merged_into", table_name="events")
    where = sa.text(f"level >= {_CRITICAL}")
    op.create_index(
        "ix_events_critical_ts",
        "events",
        ["merged_into", "ts", "received_at", "acknowledged_at"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_events_critical_ts", table_name="events")
    op.create_index("ix_events_merged_into", "events", ["merged_into"])
    op.drop_index("ix_events_merged_into_ts", table_name="events")
    op.drop_index("ix_deliveries_created_stats", table_name="deliveries")
