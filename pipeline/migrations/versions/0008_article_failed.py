"""article failed

An article whose processing keeps failing ends in a terminal failed state with its reason,
so the stuck-article relay stops re-queueing it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("process_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("process_error")
