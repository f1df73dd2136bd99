"""search index, evidence and OPML folders

Articles get a full-text index of the rule matcher's keys (SQLite FTS5 / PostgreSQL
tsvector with a GIN index), filled here for the articles already processed; the page of an
article that raised an alert is kept as WARC evidence; feeds remember their OPML folders.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:50:00.000000
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("newswatch")
_BACKFILL_BATCH = 200


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folder", sa.JSON(), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("page_capture", sa.JSON(), nullable=True))

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("warc", sa.LargeBinary(), nullable=False),
        sa.Column("captured_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_created_at"), ["created_at"], unique=False)

    # The search index is not a model table: each backend has its own kind (see
    # pipeline/io/store/search.py), and migrations/env.py leaves it out of model checks.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE article_search ("
            " article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,"
            " terms TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_article_search_terms ON article_search USING GIN (terms)")
    else:
        op.execute("CREATE VIRTUAL TABLE article_search USING fts5(terms, detail=none)")
        op.execute(
            "CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN"
            " DELETE FROM article_search WHERE rowid = old.id; END"
        )
    _backfill_search_index()


def _backfill_search_index() -> None:
    # The terms come from the matcher's normalisation, which only Python has.
    from pipeline.io.store.search import write_index_terms
    from pipeline.stages.search import index_terms

    bind = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id"),
        sa.column("title"),
        sa.column("text"),
        sa.column("processed_at"),
    )
    after, done = 0, 0
    while True:
        rows = bind.execute(
            sa.select(articles.c.id, articles.c.title, articles.c.text)
            .where(articles.c.processed_at.is_not(None), articles.c.id > after)
            .order_by(articles.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            break
        for article_id, title, text in rows:
            write_index_terms(bind, int(article_id), index_terms(str(title or ""), str(text or "")))
        after, done = rows[-1][0], done + len(rows)
        log.info("search index: %d articles indexed", done)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE article_search")
    else:
        op.execute("DROP TRIGGER articles_search_delete")
        op.execute("DROP TABLE article_search")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_created_at"))
    op.drop_table("evidence")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("page_capture")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("folder")
