"""article relay index

The stuck-article relay reads unprocessed articles in id order; a partial index on the
unprocessed ones keeps that read as small as the backlog, not the whole article table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UNPROCESSED = sa.text("processed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_unprocessed",
            ["id"],
            unique=False,
            sqlite_where=_UNPROCESSED,
            postgresql_where=_UNPROCESSED,
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_unprocessed")
