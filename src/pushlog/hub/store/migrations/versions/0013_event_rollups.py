"""hourly rollups of the events table for GET /v1/stats (event_rollup, fingerprint_rollup), filled
from the events already stored

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushlog.hub.store._window import EpochHour

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_rollup",
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("occurrences", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("hour", "level", "channel"),
    )
    op.create_table(
        "fingerprint_rollup",
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("occurrences", sa.BigInteger, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.PrimaryKeyConstraint("hour", "fingerprint"),
    )
    # The events as they are at 0012 (not _tables.events, which later revisions may change).
    events = sa.table(
        "events",
        sa.column("ts", sa.DateTime(timezone=True)),
        sa.column("level", sa.Integer),
        sa.column("channel", sa.String),
        sa.column("fingerprint", sa.String),
        sa.column("title", sa.Text),
        sa.column("count", sa.Integer),
        sa.column("merged_into", sa.Integer),
    )
    hour = EpochHour(events.c.ts)
    channel = sa.func.coalesce(events.c.channel, sa.literal_column("''"))
    visible = events.c.merged_into.is_(None)
    op.execute(
        sa.table(
            "event_rollup", *(sa.column(c) for c in ("hour", "level", "channel", "lines", "occurrences"))
        )
        .insert()
        .from_select(
            ["hour", "level", "channel", "lines", "occurrences"],
            sa.select(hour, events.c.level, channel, sa.func.count(), sa.func.sum(events.c.count))
            .where(visible)
            .group_by(hour, events.c.level, channel),
        )
    )
    columns = ("hour", "fingerprint", "lines", "occurrences", "level", "title", "channel")
    op.execute(
        sa.table("fingerprint_rollup", *(sa.column(c) for c in columns))
        .insert()
        .from_select(
            list(columns),
            sa.select(
                hour,
                events.c.fingerprint,
                sa.func.count(),
                sa.func.sum(events.c.count),
                sa.func.max(events.c.level),
                sa.func.max(events.c.title),
                sa.func.max(events.c.channel),
            )
            .where(visible, events.c.fingerprint.is_not(None))
            .group_by(hour, events.c.fingerprint),
        )
    )


def downgrade() -> None:
    op.drop_table("fingerprint_rollup")
    op.drop_table("event_rollup")
