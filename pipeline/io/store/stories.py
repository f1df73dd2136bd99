"""Queries on stories: candidates by LSH band key, creation, the per-rule alert state."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from pipeline.io.store.tables import Story, StoryAlert, StoryBand, utcnow


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(0x6E657773)))


def story_candidates(session: Session, keys: Sequence[str]) -> list[Story]:
    if not keys:
        return []
    story_ids = select(StoryBand.story_id).where(col(StoryBand.band_key).in_(list(keys)))
    query = select(Story).where(col(Story.id).in_(story_ids)).order_by(col(Story.id))
    return list(session.exec(query).all())


def create_story(session: Session, title: str, signature: str, keys: Sequence[str]) -> Story:
    story = Story(title=title, signature=signature)
    session.add(story)
    session.flush()
    for key in dict.fromkeys(keys):
        session.add(StoryBand(band_key=key, story_id=story.id))  # type: ignore[arg-type]
    return story


def add_story_article(session: Session, story: Story) -> None:
    story.article_count += 1
    story.updated_at = utcnow()
    session.add(story)


def recent_stories(session: Session, limit: int) -> list[Story]:
    query = select(Story).order_by(col(Story.updated_at).desc()).limit(limit)
    return list(session.exec(query).all())


def story_alert_state(session: Session, rule_id: int, story_id: int) -> StoryAlert | None:
    """What ``rule_id`` last alerted about ``story_id`` (None: it never did)."""
    return session.get(StoryAlert, (rule_id, story_id))
