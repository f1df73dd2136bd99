"""Queries on feeds: add, find, list, claim the due ones, remove; their health events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from pipeline.errors import NotFoundError
from pipeline.io.store.tables import Feed, FeedEvent, utcnow
from pipeline.model import FeedEventKind, FeedHealth, Origin


def add_feed(
    session: Session,
    url: str,
    name: str,
    interval_seconds: int,
    *,
    origin: Origin = Origin.USER,
    backfill: bool = False,
) -> Feed:
    """Insert a feed, or update the name and interval of the feed with that URL (a paused
    feed stays paused: pausing is the operator's, not the config file's)."""
    existing = find_feed_by_url(session, url)
    if existing is not None:
        existing.name = name or existing.name
        existing.interval_seconds = interval_seconds
        existing.backfill = existing.backfill or backfill
        session.add(existing)
        return existing
    feed = Feed(
        url=url,
        name=name,
        interval_seconds=interval_seconds,
        next_poll_at=utcnow(),
        origin=origin,
        backfill=backfill,
    )
    session.add(feed)
    session.flush()
    return feed


def set_feed_folder(session: Session, feed_id: int, folder: list[str]) -> None:
    """Remember the OPML folders a feed was imported under (outermost first)."""
    session.execute(update(Feed).where(col(Feed.id) == feed_id).values(folder=folder))


def find_feed_by_url(session: Session, url: str) -> Feed | None:
    return session.exec(select(Feed).where(Feed.url == url)).first()


def feeds_of_origin(session: Session, origin: Origin) -> list[Feed]:
    return list(
        session.exec(select(Feed).where(col(Feed.origin) == origin).order_by(col(Feed.id))).all()
    )


def record_feed_event(
    session: Session,
    feed_id: int,
    kind: FeedEventKind,
    health: FeedHealth,
    previous: FeedHealth,
    reason: str | None,
    when: datetime,
) -> FeedEvent:
    event = FeedEvent(
        feed_id=feed_id,
        kind=kind,
        health=health,
        previous=previous,
        reason=reason,
        created_at=when,
    )
    session.add(event)
    session.flush()
    return event


def recent_feed_events(session: Session, limit: int) -> list[tuple[FeedEvent, Feed | None]]:
    rows = session.exec(
        select(FeedEvent, Feed)
        .join(Feed, col(Feed.id) == col(FeedEvent.feed_id), isouter=True)
        .order_by(col(FeedEvent.id).desc())
        .limit(limit)
    ).all()
    return [(event, feed) for event, feed in rows]


def find_feed(session: Session, ref: str) -> Feed | None:
    """A feed by id, exact URL or exact name."""
    if ref.isdigit():
        return session.get(Feed, int(ref))
    return session.exec(select(Feed).where((Feed.url == ref) | (Feed.name == ref))).first()


def require_feed(session: Session, ref: str) -> Feed:
    """Like find_feed, but an unknown reference is a NotFoundError that says what to give."""
    feed = find_feed(session, ref)
    if feed is None:
        raise NotFoundError(
            f"no feed {ref!r} (give its id, URL or name; see `newswatch feeds list`)"
        )
    return feed


def get_feed(session: Session, feed_id: int) -> Feed | None:
    return session.get(Feed, feed_id)


def get_feeds(session: Session, feed_ids: list[int]) -> dict[int, Feed]:
    """The feeds with these ids that still exist, by id: one query for a batch of polls."""
    if not feed_ids:
        return {}
    feeds = session.exec(select(Feed).where(col(Feed.id).in_(feed_ids))).all()
    return {int(feed.id): feed for feed in feeds}  # type: ignore[arg-type]


def list_feeds(session: Session) -> list[Feed]:
    return list(session.exec(select(Feed).order_by(col(Feed.id))).all())


def delete_feed(session: Session, feed: Feed) -> None:
    session.delete(feed)


class DueFeed(NamedTuple):
    feed_id: int
    due_at: datetime


def _due(until: datetime) -> tuple[Any, ...]:
    # Both terms are served by ix_feeds_due (enabled, next_poll_at, id): an index-only read.
    return (col(Feed.enabled) == True, col(Feed.next_poll_at) <= until)  # noqa: E712


def count_due_feeds(session: Session, until: datetime) -> int:
    """Enabled feeds due at or before ``until``."""
    return int(session.exec(select(func.count(col(Feed.id))).where(*_due(until))).one())


def claim_due_feeds(
    session: Session, now: datetime, lease: timedelta, limit: int, until: datetime | None = None
) -> list[DueFeed]:
    """Claim up to ``limit`` feeds due by ``until`` (default: now), the longest due first:
    read them from the index, then push their next_poll_at to now + lease in one
    conditional UPDATE. Returns each claimed feed with the time it is due.

    The UPDATE re-checks that each feed is still due, so a feed another tick claimed in the
    meantime (its next_poll_at already pushed) is skipped: no feed is claimed twice.
    """
    until = until or now
    rows = session.exec(
        select(Feed.id, Feed.next_poll_at)
        .where(*_due(until))
        .order_by(col(Feed.next_poll_at))
        .limit(limit)
    ).all()
    if not rows:
        return []
    due = {int(feed_id): due_at for feed_id, due_at in rows}  # type: ignore[arg-type]
    claimed = session.execute(
        update(Feed)
        .where(col(Feed.id).in_(due), *_due(until))
        .values(next_poll_at=now + lease)
        .returning(col(Feed.id))
        .execution_options(synchronize_session=False)
    )
    ids: list[int] = list(claimed.scalars())
    return sorted(DueFeed(feed_id, due[feed_id]) for feed_id in ids)
