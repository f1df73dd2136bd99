"""feed due index

The beat tick's claim reads due feeds from one covering index (enabled, next_poll_at, id),
so finding the due ones costs the same at 10,000 feeds as at 10.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.create_index("ix_feeds_due", ["enabled", "next_poll_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index("ix_feeds_due")
