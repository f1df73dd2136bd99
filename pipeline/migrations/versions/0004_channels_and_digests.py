"""channels and digests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:02:08.031165
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("period_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "channel", "target", name="uq_notifications_alert"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint(
            "rule_id", "channel", "target", "period_start", name="uq_notifications_digest"
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_status_next", ["status", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notification_id", sa.Integer(), nullable=True))
        batch_op.alter_column("alert_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_delivery_attempts_notification_id",
            "notifications",
            ["notification_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "mode",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="immediate",
            )
        )
        batch_op.add_column(sa.Column("channels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("channels")
        batch_op.drop_column("mode")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_delivery_attempts_notification_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_notification_id"))
        batch_op.alter_column("alert_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("notification_id")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_status_next")

    op.drop_table("notifications")
