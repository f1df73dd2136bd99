"""Queries on articles and their feed links: upsert by canonical URL, relay, backtest."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from pipeline.io.store.engine import insert_ignore_many
from pipeline.io.store.tables import Article, Feed, FeedArticle, utcnow
from pipeline.model import ArticleState, FeedRef, FetchStatus


def get_article(session: Session, article_id: int) -> Article | None:
    return session.get(Article, article_id)


@dataclass(frozen=True)
class ArticleInput:
    """What processing reads of a fetched article, as plain values (no ORM object: it is
    read once per article, and only these columns)."""

    page_html: bytes | None
    page_capture: dict[str, Any] | None
    summary: str | None
    title: str
    canonical_url: str
    fetch_status: FetchStatus
    fetch_reason: str | None
    published: datetime | None
    alerts_suppressed: str | None
    processed_at: datetime | None


def article_input(session: Session, article_id: int) -> ArticleInput | None:
    row = session.execute(
        _select_columns(ArticleInput).where(col(Article.id) == article_id)
    ).first()
    if row is None:
        return None
    return ArticleInput(**{**row._mapping, "fetch_status": FetchStatus(row.fetch_status)})


def _select_columns(shape: type[Any]) -> Any:
    """SELECT the article columns named by a dataclass's fields."""
    return select(*(getattr(Article, f.name) for f in fields(shape)))


@dataclass(frozen=True)
class LockedArticle:
    """An article's row, locked until the transaction ends: the columns processing keeps
    when they are already set."""

    processed_at: datetime | None
    author: str | None
    published: datetime | None


def lock_article(session: Session, article_id: int) -> LockedArticle | None:
    """Lock the article's row until the transaction ends (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the whole database).

    Only three small columns are read: the caller read the page before taking the lock,
    and reading it again costs its transfer and its decompression a second time."""
    row = session.execute(
        _select_columns(LockedArticle).where(col(Article.id) == article_id).with_for_update()
    ).first()
    return None if row is None else LockedArticle(**row._mapping)


def finish_article(session: Session, article_id: int, values: dict[str, Any]) -> None:
    """Write a processed article's columns in one UPDATE (its page and capture cleared)."""
    session.execute(
        update(Article)
        .where(col(Article.id) == article_id)
        .values(page_html=None, page_capture=None, **values)
    )


def fetch_targets(session: Session, article_ids: list[int]) -> dict[int, tuple[FetchStatus, str]]:
    """Fetch status and canonical URL by article id, without their rows (absent: no such
    article)."""
    rows = session.exec(
        select(Article.id, Article.fetch_status, Article.canonical_url).where(
            col(Article.id).in_(article_ids)
        )
    ).all()
    return {int(row[0]): (FetchStatus(row[1]), str(row[2])) for row in rows}  # type: ignore[arg-type]


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


@dataclass
class StoredEntries:
    """What storing a poll's entries came to: articles new to the store (in the feed's
    order) and how many entries were new to the feed (an article it had not listed)."""

    new_article_ids: list[int] = field(default_factory=list)
    new_links: int = 0


def store_feed_entries(
    session: Session, feed_id: int, entries: list[tuple[str | None, dict[str, Any]]]
) -> StoredEntries:
    """Store a feed's entries, each ``(guid, article values)``, in a few statements.

    An entry whose guid the feed already listed is skipped (its link may have moved); an
    article is inserted unless its canonical URL is known, then linked to the feed once.
    """
    guids = {guid for guid, _ in entries if guid}
    listed = set(
        session.exec(
            select(FeedArticle.guid).where(
                FeedArticle.feed_id == feed_id, col(FeedArticle.guid).in_(guids)
            )
        ).all()
        if guids
        else []
    )
    wanted: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for guid, values in entries:
        if guid and guid in listed:
            continue
        if guid:
            listed.add(guid)  # a guid repeated in the feed is its first entry
        wanted.setdefault(values["canonical_url"], (guid, values))
    found = StoredEntries()
    if not wanted:
        return found
    inserted = {
        url: int(article_id)
        for article_id, url in insert_ignore_many(
            session,
            Article,
            [values for _, values in wanted.values()],
            col(Article.id),
            col(Article.canonical_url),
        )
    }
    ids = dict(inserted)
    missing = [url for url in wanted if url not in ids]
    if missing:
        rows = session.exec(
            select(Article.id, Article.canonical_url).where(col(Article.canonical_url).in_(missing))
        ).all()
        ids.update({str(url): int(article_id) for article_id, url in rows})  # type: ignore[arg-type]
    linked = set(
        session.exec(
            select(FeedArticle.article_id).where(
                FeedArticle.feed_id == feed_id, col(FeedArticle.article_id).in_(ids.values())
            )
        ).all()
    )
    now = utcnow()
    links = [
        {"feed_id": feed_id, "article_id": ids[url], "guid": guid, "seen_at": now}
        for url, (guid, _) in wanted.items()
        if url in ids and ids[url] not in linked
    ]
    found.new_links = len(
        insert_ignore_many(session, FeedArticle, links, col(FeedArticle.article_id))
    )
    found.new_article_ids = [inserted[url] for url in wanted if url in inserted]
    return found


def article_feed_refs(session: Session, article_ids: list[int]) -> dict[int, list[FeedRef]]:
    """The feeds that list each article, in feed id order (absent: none lists it)."""
    if not article_ids:
        return {}
    rows = session.exec(
        select(FeedArticle.article_id, Feed.id, Feed.name, Feed.url)
        .join(Feed, col(Feed.id) == col(FeedArticle.feed_id))
        .where(col(FeedArticle.article_id).in_(article_ids))
        .order_by(col(FeedArticle.article_id), col(Feed.id))
    ).all()
    found: dict[int, list[FeedRef]] = {}
    for article_id, feed_id, name, url in rows:
        found.setdefault(int(article_id), []).append(FeedRef(int(feed_id), name, url))  # type: ignore[arg-type]
    return found


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
