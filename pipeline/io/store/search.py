"""The article search index and the candidate query of a search.

The index is ``article_search``, made by migration 0009 and not a model table, since each
backend has its own kind: on SQLite an FTS5 table (rowid = article id, detail=none: only
which terms an article holds), on PostgreSQL a tsvector per article with a GIN index. Its
terms come from :func:`pipeline.stages.search.index_terms`, written when an article is
processed. Candidates come newest first by (published, or stored when undated; id), a key
that page cursors continue from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, exists, func, or_, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from pipeline.io.store.tables import Article, FeedArticle

if TYPE_CHECKING:
    # The stage loads the query compiler: list commands that import the store must not.
    from pipeline.stages.search import IndexQuery


def _dialect(bind: Session | Connection) -> str:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return str(engine.dialect.name)


def write_index_terms(bind: Session | Connection, article_id: int, terms: list[str]) -> None:
    """Index (or re-index) one article under ``terms``."""
    if _dialect(bind) == "postgresql":
        bind.execute(
            text(
                "INSERT INTO article_search (article_id, terms) "
                "VALUES (:id, array_to_tsvector(CAST(:terms AS text[]))) "
                "ON CONFLICT (article_id) DO UPDATE SET terms = excluded.terms"
            ),
            {"id": article_id, "terms": terms},
        )
        return
    bind.execute(text("DELETE FROM article_search WHERE rowid = :id"), {"id": article_id})
    bind.execute(
        text("INSERT INTO article_search (rowid, terms) VALUES (:id, :terms)"),
        {"id": article_id, "terms": " ".join(terms)},
    )


@dataclass(frozen=True)
class SearchFilters:
    feed_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def sort_key() -> Any:
    """What results are ordered by: published, or the time stored for an undated article."""
    return func.coalesce(col(Article.published), col(Article.created_at))


def search_candidates(
    session: Session,
    terms: IndexQuery | None,
    filters: SearchFilters,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[tuple[Article, datetime]]:
    """Processed articles that hold ``terms`` (all when None) and pass ``filters``, newest
    first, strictly after the cursor ``after`` = (sort key, id); with each one's sort key."""
    key = sort_key().label("sort_at")
    query = select(Article, key).where(col(Article.processed_at).is_not(None))
    if terms is not None:
        from pipeline.stages.search import fts5_match, tsquery_text

        if _dialect(session) == "postgresql":
            matching = text(
                "SELECT article_id FROM article_search WHERE terms @@ CAST(:tsq AS tsquery)"
            ).bindparams(tsq=tsquery_text(terms))
            matching_ids = matching.columns(column("article_id"))
        else:
            matching = text(
                "SELECT rowid FROM article_search WHERE article_search MATCH :fts"
            ).bindparams(fts=fts5_match(terms))
            matching_ids = matching.columns(column("rowid"))
        query = query.where(col(Article.id).in_(matching_ids))
    if filters.feed_id is not None:
        query = query.where(
            exists().where(
                col(FeedArticle.article_id) == col(Article.id),
                col(FeedArticle.feed_id) == filters.feed_id,
            )
        )
    if filters.since is not None:
        query = query.where(sort_key() >= filters.since)
    if filters.until is not None:
        query = query.where(sort_key() < filters.until)
    if after is not None:
        when, article_id = after
        query = query.where(
            or_(sort_key() < when, (sort_key() == when) & (col(Article.id) < article_id))
        )
    query = query.order_by(sort_key().desc(), col(Article.id).desc()).limit(limit)
    return [(article, when) for article, when in session.exec(query).all()]
