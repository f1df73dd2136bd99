"""Queries on stories: candidates by LSH band key, creation, the per-rule alert state."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import BigInteger, func, literal, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, select

from pipeline.io.store.tables import Story, StoryAlert, StoryBand, utcnow

# The two-integer advisory locks of stories live apart from the one-bigint band-key locks.
_STORY_LOCK_CLASS = 0x6E657773


def _band_lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), signed=True)


def lock_story_keys(session: Session, keys: Sequence[str]) -> None:
    """Serialise story assignment between articles that share an LSH band key: only those
    can become candidates of each other's story, so articles of unrelated stories commit in
    parallel. Transaction-scoped advisory locks on PostgreSQL, taken in ascending order so
    two writers never wait on each other in a cycle; SQLite's BEGIN IMMEDIATE already
    serialises every writer."""
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({_band_lock_id(key) for key in keys})
    ordered = select(func.unnest(literal(ids, ARRAY(BigInteger))).label("k")).order_by("k")
    session.execute(select(func.pg_advisory_xact_lock(ordered.subquery().c.k)))


def lock_story(session: Session, story_id: int) -> None:
    """Serialise the writers that join one existing story (its count, its per-rule alert
    state): articles reaching it through different band keys do not share a key lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_STORY_LOCK_CLASS, story_id)))


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
    # One UPDATE, not read-modify-write: the count read with the candidates may be stale.
    session.execute(
        update(Story)
        .where(col(Story.id) == story.id)
        .values(article_count=Story.article_count + 1, updated_at=utcnow())
    )
    session.expire(story, ["article_count", "updated_at"])


def recent_stories(session: Session, limit: int) -> list[Story]:
    query = select(Story).order_by(col(Story.updated_at).desc()).limit(limit)
    return list(session.exec(query).all())


def story_alert_states(
    session: Session, story_id: int, rule_ids: Sequence[int]
) -> dict[int, StoryAlert]:
    """What each of ``rule_ids`` last alerted about ``story_id``, by rule (absent: it never
    did), in one query for all the rules an article matched."""
    if not rule_ids:
        return {}
    query = select(StoryAlert).where(
        col(StoryAlert.story_id) == story_id, col(StoryAlert.rule_id).in_(list(rule_ids))
    )
    return {int(state.rule_id): state for state in session.exec(query).all()}
