"""Queries on articles and their feed links: upsert by canonical URL, relay, backtest."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from pipeline.io.store.engine import insert_ignore
from pipeline.io.store.tables import Article, Feed, FeedArticle, utcnow
from pipeline.model import ArticleState, FetchStatus

# sa_column fields are typed as mapped values, not as the attributes the loader options take.
_PAGE_HTML: QueryableAttribute[Any] = Article.page_html  # type: ignore[assignment]
_PAGE_CAPTURE: QueryableAttribute[Any] = Article.page_capture  # type: ignore[assignment]


def get_article(session: Session, article_id: int) -> Article | None:
    return session.get(Article, article_id)


def lock_article(session: Session, article_id: int) -> Article | None:
    """The article, its row locked until the transaction ends (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the whole database).

    The page and its capture are left unloaded: the caller read them before taking the
    lock and only clears them, and reading the page again costs its transfer and its
    decompression a second time."""
    return session.get(
        Article,
        article_id,
        with_for_update=True,
        populate_existing=True,
        options=[defer(_PAGE_HTML), defer(_PAGE_CAPTURE)],
    )


def fetch_target(session: Session, article_id: int) -> tuple[FetchStatus, str] | None:
    """(fetch status, canonical URL) of an article, without its row (None: no such article)."""
    row = session.exec(
        select(Article.fetch_status, Article.canonical_url).where(col(Article.id) == article_id)
    ).first()
    return None if row is None else (FetchStatus(row[0]), str(row[1]))


def record_fetch(
    session: Session,
    article_id: int,
    page: bytes | None,
    capture: dict[str, Any] | None,
    status: FetchStatus,
    reason: str | None,
) -> bool:
    """Keep a page fetch's outcome in one UPDATE; False when the article is gone."""
    updated = session.execute(
        update(Article)
        .where(col(Article.id) == article_id)
        .values(page_html=page, page_capture=capture, fetch_status=status, fetch_reason=reason)
        .returning(col(Article.id))
    )
    return updated.first() is not None


def article_for_guid(session: Session, feed_id: int, guid: str) -> int | None:
    return session.exec(
        select(FeedArticle.article_id).where(
            FeedArticle.feed_id == feed_id, FeedArticle.guid == guid
        )
    ).first()


def upsert_article(session: Session, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert the article unless its canonical URL is known; return (id, inserted)."""
    inserted = insert_ignore(session, Article, values)
    article_id = session.exec(
        select(Article.id).where(Article.canonical_url == values["canonical_url"])
    ).one()
    return int(article_id), inserted  # type: ignore[arg-type]


def link_feed_article(session: Session, feed_id: int, article_id: int, guid: str | None) -> bool:
    """Link an article to a feed that lists it; True when the link is new (a new entry)."""
    exists = session.exec(
        select(FeedArticle).where(
            FeedArticle.feed_id == feed_id, FeedArticle.article_id == article_id
        )
    ).first()
    if exists is not None:
        return False
    guid_taken = guid is not None and article_for_guid(session, feed_id, guid) is not None
    return insert_ignore(
        session,
        FeedArticle,
        {
            "feed_id": feed_id,
            "article_id": article_id,
            "guid": None if guid_taken else guid,
            "seen_at": utcnow(),
        },
    )


def article_feeds(session: Session, article_id: int) -> list[Feed]:
    return list(
        session.exec(
            select(Feed)
            .join(FeedArticle, FeedArticle.feed_id == Feed.id)  # type: ignore[arg-type]
            .where(FeedArticle.article_id == article_id)
            .order_by(col(Feed.id))
        ).all()
    )


def stuck_article_ids(
    session: Session, now: datetime, lease: timedelta, limit: int
) -> list[tuple[int, FetchStatus, int]]:
    """Articles whose processing should have finished a lease ago: (id, fetch_status, tries).

    Marks them relayed now, so the next tick does not enqueue them again at once.
    """
    rows = session.exec(
        select(Article.id, Article.fetch_status, Article.relay_count)
        .where(
            col(Article.processed_at).is_(None),
            col(Article.failed_at).is_(None),
            col(Article.created_at) < now - lease,
            col(Article.relayed_at).is_(None) | (col(Article.relayed_at) < now - lease),
        )
        .order_by(col(Article.id))
        .limit(limit)
    ).all()
    found = [
        (int(i), FetchStatus(status), int(count)) for i, status, count in rows if i is not None
    ]
    if found:
        session.execute(
            update(Article)
            .where(col(Article.id).in_([i for i, _, _ in found]))
            .values(relayed_at=now, relay_count=Article.relay_count + 1)
        )
    return found


def record_process_error(session: Session, article_id: int, error: str) -> None:
    """Keep the error of a processing attempt that raised (the reason shown if it fails)."""
    session.execute(
        update(Article)
        .where(col(Article.id) == article_id, col(Article.processed_at).is_(None))
        .values(process_error=error)
    )


def fail_article(session: Session, article_id: int, now: datetime, reason: str) -> None:
    """Terminal: the article is never re-queued by the relay again."""
    session.execute(
        update(Article)
        .where(col(Article.id) == article_id, col(Article.processed_at).is_(None))
        .values(failed_at=now, process_error=reason, page_html=None)
    )


def list_articles(
    session: Session, state: ArticleState | None, limit: int
) -> list[tuple[Article, ArticleState]]:
    """The newest articles, optionally only those in one state, with that state."""
    query = select(Article).order_by(col(Article.id).desc()).limit(limit)
    if state == ArticleState.PROCESSED:
        query = query.where(col(Article.processed_at).is_not(None))
    elif state == ArticleState.FAILED:
        query = query.where(
            col(Article.processed_at).is_(None), col(Article.failed_at).is_not(None)
        )
    elif state == ArticleState.PENDING:
        query = query.where(col(Article.processed_at).is_(None), col(Article.failed_at).is_(None))
    return [(article, article_state(article)) for article in session.exec(query).all()]


def article_state(article: Article) -> ArticleState:
    if article.processed_at is not None:
        return ArticleState.PROCESSED
    if article.failed_at is not None:
        return ArticleState.FAILED
    return ArticleState.PENDING


def processed_article_ids(session: Session, since: datetime) -> list[int]:
    """Ids of the articles processed and stored since ``since``, oldest first (backtests)."""
    rows = session.exec(
        select(Article.id)
        .where(col(Article.processed_at).is_not(None), col(Article.created_at) >= since)
        .order_by(col(Article.id))
    ).all()
    return [int(i) for i in rows if i is not None]


def count_processed_articles(session: Session, since: datetime) -> int:
    query = select(func.count(col(Article.id))).where(
        col(Article.processed_at).is_not(None), col(Article.created_at) >= since
    )
    return int(session.exec(query).one())


def story_articles(session: Session, story_id: int) -> list[tuple[int, str]]:
    """(id, canonical URL) of every article of one story."""
    rows = session.exec(
        select(Article.id, Article.canonical_url)
        .where(col(Article.story_id) == story_id)
        .order_by(col(Article.id))
    ).all()
    return [(int(i), str(url)) for i, url in rows if i is not None]
