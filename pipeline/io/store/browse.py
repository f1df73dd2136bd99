"""Read-only queries for the API and the dashboard: pages of articles and alerts (keyset
pagination on the id, newest first), a story's versions, and counts by state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pipeline.io.store.tables import (
    Alert,
    Article,
    DeliveryAttempt,
    Feed,
    FeedArticle,
    Notification,
    Rule,
    Story,
)


def page_articles(
    session: Session,
    limit: int,
    before_id: int | None = None,
    feed_id: int | None = None,
    story_id: int | None = None,
) -> list[Article]:
    """Up to ``limit`` articles with an id below ``before_id``, newest first."""
    query = select(Article).order_by(col(Article.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(Article.id) < before_id)
    if feed_id is not None:
        linked = select(FeedArticle.article_id).where(col(FeedArticle.feed_id) == feed_id)
        query = query.where(col(Article.id).in_(linked))
    if story_id is not None:
        query = query.where(col(Article.story_id) == story_id)
    return list(session.exec(query).all())


def page_alerts(
    session: Session,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    rule_id: int | None = None,
) -> list[Alert]:
    query = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(Alert.id) < before_id)
    if status:
        query = query.where(col(Alert.status) == status)
    if rule_id is not None:
        query = query.where(col(Alert.rule_id) == rule_id)
    return list(session.exec(query).all())


def article_alert_ids(session: Session, article_id: int) -> list[int]:
    rows = session.exec(
        select(Alert.id).where(col(Alert.article_id) == article_id).order_by(col(Alert.id))
    ).all()
    return [int(i) for i in rows if i is not None]


def get_story(session: Session, story_id: int) -> Story | None:
    return session.get(Story, story_id)


def story_versions(session: Session, story_id: int) -> list[Article]:
    """Every article of a story, in the order newswatch stored them."""
    query = (
        select(Article)
        .where(col(Article.story_id) == story_id)
        .order_by(col(Article.created_at), col(Article.id))
    )
    return list(session.exec(query).all())


def _grouped(session: Session, column: Any, model: Any) -> dict[str, int]:
    rows = session.exec(select(column, func.count()).select_from(model).group_by(column)).all()
    return {str(key): int(count) for key, count in rows}


def state_counts(session: Session) -> dict[str, Any]:
    """How many rows each table holds, by state: one GROUP BY per table, cheap to scrape."""
    enabled_feeds = session.exec(
        select(Feed.health, func.count())
        .where(col(Feed.enabled).is_(True))
        .group_by(col(Feed.health))
    ).all()
    paused = session.exec(
        select(func.count(col(Feed.id))).where(col(Feed.enabled).is_(False))
    ).one()
    processed = session.exec(
        select(func.count(col(Article.id))).where(col(Article.processed_at).is_not(None))
    ).one()
    attempts = session.exec(
        select(col(DeliveryAttempt.error).is_(None), func.count()).group_by(
            col(DeliveryAttempt.error).is_(None)
        )
    ).all()
    return {
        "feeds": {**{str(h): int(n) for h, n in enabled_feeds}, "paused": int(paused)},
        "rules": {
            "enabled" if on else "disabled": n for on, n in _grouped_bool(session, Rule).items()
        },
        "articles": {
            **_grouped(session, col(Article.fetch_status), Article),
            "processed": int(processed),
        },
        "stories": int(session.exec(select(func.count(col(Story.id)))).one()),
        "alerts": _grouped(session, col(Alert.status), Alert),
        "notifications": _grouped(session, col(Notification.status), Notification),
        "delivery_attempts": {"ok" if ok else "failed": int(n) for ok, n in attempts},
    }


def _grouped_bool(session: Session, model: Any) -> dict[bool, int]:
    rows = session.exec(select(col(model.enabled), func.count()).group_by(col(model.enabled))).all()
    return {bool(key): int(count) for key, count in rows}


def feeds_by_id(session: Session, ids: Sequence[int]) -> dict[int, Feed]:
    if not ids:
        return {}
    rows = session.exec(select(Feed).where(col(Feed.id).in_(list(ids)))).all()
    return {int(feed.id): feed for feed in rows}  # type: ignore[arg-type]


def rules_by_id(session: Session, ids: Sequence[int]) -> dict[int, Rule]:
    if not ids:
        return {}
    rows = session.exec(select(Rule).where(col(Rule.id).in_(list(ids)))).all()
    return {int(rule.id): rule for rule in rows}  # type: ignore[arg-type]


def articles_by_id(session: Session, ids: Sequence[int]) -> dict[int, Article]:
    if not ids:
        return {}
    rows = session.exec(select(Article).where(col(Article.id).in_(list(ids)))).all()
    return {int(article.id): article for article in rows}  # type: ignore[arg-type]


def recent_processed_article_ids(session: Session, limit: int) -> list[int]:
    """The newest processed articles (a live test of a query runs over these)."""
    rows = session.exec(
        select(Article.id)
        .where(col(Article.processed_at).is_not(None))
        .order_by(col(Article.id).desc())
        .limit(limit)
    ).all()
    return [int(i) for i in rows if i is not None]
