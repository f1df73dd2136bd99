"""stories: near-duplicate grouping and per-story alert state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:43:29.052178
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "story_bands",
        sa.Column("band_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band_key", "story_id"),
    )
    op.create_table(
        "story_alerts",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("last_alert_id", sa.Integer(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "story_id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="new",
            )
        )
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key("fk_alerts_story_id", "stories", ["story_id"], ["id"])

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key("fk_articles_story_id", "stories", ["story_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint("fk_articles_story_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_articles_story_id"))
        batch_op.drop_column("story_id")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_story_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_story_id"))
        batch_op.drop_column("changes")
        batch_op.drop_column("kind")
        batch_op.drop_column("story_id")

    op.drop_table("story_alerts")
    op.drop_table("story_bands")
    op.drop_table("stories")
