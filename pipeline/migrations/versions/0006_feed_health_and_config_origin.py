"""feed health and config origin

Feeds and rules record where they came from; feeds keep their health; operator
notifications (feed events) have no rule; articles can be stored without alerting.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:43:24.360499
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("health", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("previous", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_events_feed_id"), ["feed_id"], unique=False)

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerts_suppressed", sa.Text(), nullable=True))

    # Rows that exist already are treated as made by hand: a sync never takes them over.

    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="user",
            )
        )
        batch_op.add_column(
            sa.Column(
                "health",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="ok",
            )
        )
        batch_op.add_column(
            sa.Column("health_changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("health_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("first_polled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("backfill", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("last_new_entry_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("entry_gap_seconds", sa.Integer(), nullable=True))

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_event_id", sa.Integer(), nullable=True))
        batch_op.alter_column("rule_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_foreign_key(
            "fk_notifications_feed_event_id_feed_events",
            "feed_events",
            ["feed_event_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="user",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_feed_event_id_feed_events", type_="foreignkey")
        batch_op.alter_column("rule_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("feed_event_id")

    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("entry_gap_seconds")
        batch_op.drop_column("last_new_entry_at")
        batch_op.drop_column("backfill")
        batch_op.drop_column("first_polled_at")
        batch_op.drop_column("health_reason")
        batch_op.drop_column("health_changed_at")
        batch_op.drop_column("health")
        batch_op.drop_column("origin")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("alerts_suppressed")

    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_events_feed_id"))
        batch_op.drop_index(batch_op.f("ix_feed_events_created_at"))

    op.drop_table("feed_events")
