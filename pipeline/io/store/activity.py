"""Read-only queries for the dashboard's views: an article's alerts, counts of recent work
(polls, articles, alerts) and the extractions the map counts places in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pipeline.io.store.tables import Alert, Article, Feed


def article_alerts(session: Session, article_id: int) -> list[Alert]:
    query = select(Alert).where(col(Alert.article_id) == article_id).order_by(col(Alert.id))
    return list(session.exec(query).all())


def count_articles_processed_since(session: Session, since: datetime) -> int:
    query = select(func.count(col(Article.id))).where(col(Article.processed_at) >= since)
    return int(session.exec(query).one())


def count_alerts_since(session: Session, since: datetime) -> int:
    query = select(func.count(col(Alert.id))).where(col(Alert.created_at) >= since)
    return int(session.exec(query).one())


def count_feeds_polled_since(session: Session, since: datetime) -> int:
    query = select(func.count(col(Feed.id))).where(col(Feed.last_polled_at) >= since)
    return int(session.exec(query).one())


def article_extractions_since(
    session: Session, since: datetime, limit: int
) -> list[dict[str, Any] | None]:
    """Stored extractions of the newest processed articles since ``since`` (for the map)."""
    query = (
        select(Article.extraction)
        .where(col(Article.processed_at) >= since)
        .order_by(col(Article.id).desc())
        .limit(limit)
    )
    return [dict(row) if row is not None else None for row in session.exec(query).all()]
