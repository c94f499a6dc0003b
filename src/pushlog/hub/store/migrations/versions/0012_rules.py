"""rules over the event stream (rules, rule_history, rule_matches, escalations, device_groups) and
alerts that resolve themselves (events.resolves, resolved_at, resolved_by; index on fingerprint)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pushlog.hub.store._tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolves", sa.String(128)))
        batch_op.add_column(sa.Column("resolved_at", UTCDateTime()))
        batch_op.add_column(sa.Column("resolved_by", sa.String(200)))
        batch_op.create_index("ix_events_fingerprint", ["fingerprint"], unique=False)
    op.create_table(
        "rules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(40)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_since", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime()),
        sa.Column("last_match_at", UTCDateTime()),
        sa.Column("alert_event_id", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rules_state_due", "rules", ["state", "due_at"])
    op.create_table(
        "rule_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("previous", sa.String(16)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_rule_history_rule", "rule_history", ["rule_id", "id"])
    op.create_table(
        "rule_matches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_rule_matches_rule_at", "rule_matches", ["rule_id", "at"])
    op.create_table(
        "device_groups",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", "device_id"),
    )
    op.create_table(
        "escalations",
        sa.Column("rule_id", sa.String(40), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "event_seq"),
    )
    op.create_index("ix_escalations_next_at", "escalations", ["next_at"])


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("device_groups")
    op.drop_table("rule_matches")
    op.drop_table("rule_history")
    op.drop_table("rules")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_fingerprint")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolves")
