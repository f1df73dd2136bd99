"""The store: sqlmodel tables and the repository functions that read and write them.

SQLite (embedded default) and PostgreSQL (production) share every query. Unique keys
make duplicates impossible: one article per canonical URL, one feed link per
(feed, article), one alert per (rule, article), one webhook id per alert. Claims are
conditional UPDATEs, so two workers or two beats never act on the same row at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, event, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long a relayed outbox row or article waits before the relay enqueues it again.
RELAY_LEASE = timedelta(seconds=60)


def utcnow() -> datetime:
    """Aware UTC; sqlmodel's UTCDateTime columns refuse naive datetimes."""
    return datetime.now(UTC)


class Feed(SQLModel, table=True):
    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str = Field(default="", max_length=300)
    interval_seconds: int = Field(default=900)
    enabled: bool = Field(default=True)
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, max_length=100)
    next_poll_at: datetime = Field(default_factory=utcnow, index=True)
    error_count: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_polled_at: datetime | None = None
    last_status: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Article(SQLModel, table=True):
    __tablename__ = "articles"

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    guid: str | None = Field(default=None, sa_column=Column(Text, index=True))
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: str | None = Field(default=None, sa_column=Column(Text))
    published: datetime | None = None
    site_name: str | None = Field(default=None, sa_column=Column(Text))
    language: str | None = Field(default=None, max_length=16)
    summary: str | None = Field(default=None, sa_column=Column(Text))
    text: str | None = Field(default=None, sa_column=Column(Text))
    content_hash: str | None = Field(default=None, max_length=64, index=True)
    word_count: int | None = None
    # pending -> fetched|fallback -> processed; the reason says why a fallback was used.
    fetch_status: str = Field(default="pending", max_length=20)
    fetch_reason: str | None = Field(default=None, sa_column=Column(Text))
    page_html: bytes | None = Field(default=None, exclude=True)
    extraction: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    story_id: int | None = Field(default=None, foreign_key="stories.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    # The relay re-enqueues articles whose processing was lost; it counts its tries.
    relayed_at: datetime | None = None
    relay_count: int = Field(default=0)


class Story(SQLModel, table=True):
    """Near-duplicate articles (the same wire story through many feeds) grouped as one."""

    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    article_count: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class StoryBand(SQLModel, table=True):
    """LSH band keys of each story's signature: an indexed lookup finds candidate stories."""

    __tablename__ = "story_bands"

    band_key: str = Field(max_length=40, primary_key=True)
    story_id: int = Field(foreign_key="stories.id", primary_key=True, ondelete="CASCADE")


class StoryAlert(SQLModel, table=True):
    """What a rule last alerted about a story: later copies alert only when they add to it."""

    __tablename__ = "story_alerts"

    rule_id: int = Field(foreign_key="rules.id", primary_key=True, ondelete="CASCADE")
    story_id: int = Field(foreign_key="stories.id", primary_key=True, ondelete="CASCADE")
    last_alert_id: int | None = None
    figures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow)


class FeedArticle(SQLModel, table=True):
    __tablename__ = "feed_articles"
    __table_args__ = (UniqueConstraint("feed_id", "guid", name="uq_feed_articles_feed_guid"),)

    feed_id: int = Field(foreign_key="feeds.id", primary_key=True, ondelete="CASCADE")
    article_id: int = Field(foreign_key="articles.id", primary_key=True, ondelete="CASCADE")
    guid: str | None = Field(default=None, sa_column=Column(Text))
    seen_at: datetime = Field(default_factory=utcnow)


class Rule(SQLModel, table=True):
    __tablename__ = "rules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    query: str = Field(sa_column=Column(Text, nullable=False))
    webhook_url: str = Field(sa_column=Column(Text, nullable=False))
    secret: str = Field(max_length=200, repr=False)
    # Secrets still accepted during a rotation: every delivery is signed with all of them.
    previous_secrets: list[str] = Field(default_factory=list, sa_column=Column(JSON), repr=False)
    feed_id: int | None = Field(default=None, foreign_key="feeds.id", ondelete="SET NULL")
    enabled: bool = Field(default=True)
    # "immediate", or "hourly"/"daily": alerts are held and sent as one digest per period.
    mode: str = Field(default="immediate", max_length=10)
    # Apprise URLs of channels for people (Slack, Discord, email, …) beside the webhook.
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON), repr=False)
    # The webhook endpoint's health: failed attempts in a row, and why it was switched off.
    consecutive_failures: int = Field(default=0)
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Alert(SQLModel, table=True):
    """The outbox: one row per (rule, article), delivered until it succeeds or dies."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "article_id", name="uq_alerts_rule_article"),
        Index("ix_alerts_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="rules.id", ondelete="CASCADE")
    article_id: int = Field(foreign_key="articles.id", ondelete="CASCADE")
    webhook_id: str = Field(max_length=64, unique=True)
    story_id: int | None = Field(default=None, foreign_key="stories.id", index=True)
    # "new": first alert of this rule for the story; "update": a later copy added something.
    kind: str = Field(default="new", max_length=10)
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # pending (due at next_attempt_at) -> sending (claimed) -> delivered | dead
    status: str = Field(default="pending", max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class Notification(SQLModel, table=True):
    """Outbox of everything that is not an immediate webhook: messages to people's channels
    (Apprise) and digests (to the webhook and the channels). Same retry rules as alerts."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", "target", name="uq_notifications_alert"),
        UniqueConstraint(
            "rule_id", "channel", "target", "period_start", name="uq_notifications_digest"
        ),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="rules.id", ondelete="CASCADE")
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", ondelete="CASCADE")
    period_start: datetime | None = None
    period_end: datetime | None = None
    channel: str = Field(max_length=20)  # "webhook" | "apprise"
    target: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    message_id: str = Field(max_length=80, unique=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(
        default=None, foreign_key="alerts.id", index=True, ondelete="CASCADE"
    )
    notification_id: int | None = Field(
        default=None, foreign_key="notifications.id", index=True, ondelete="CASCADE"
    )
    attempted_at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: int = Field(default=0)


# --- engine -----------------------------------------------------------------------------

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One engine per URL per process; disposed in forked children (see below)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _engines[url] = engine
        return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy so BEGIN IMMEDIATE below is what starts it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Take the write lock up front: a deferred transaction that later writes can fail
    # with SQLITE_BUSY without waiting for busy_timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _dispose_after_fork() -> None:
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_after_fork)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_all() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def insert_ignore(session: Session, model: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True when a row was inserted."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = next(iter(table.primary_key.columns))
    # RETURNING tells both backends' drivers apart from "row skipped"; rowcount may be -1.
    statement = insert_fn(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


# --- feeds ------------------------------------------------------------------------------


def add_feed(session: Session, url: str, name: str, interval_seconds: int) -> Feed:
    existing = session.exec(select(Feed).where(Feed.url == url)).first()
    if existing is not None:
        existing.name = name or existing.name
        existing.interval_seconds = interval_seconds
        existing.enabled = True
        session.add(existing)
        return existing
    feed = Feed(url=url, name=name, interval_seconds=interval_seconds, next_poll_at=utcnow())
    session.add(feed)
    session.flush()
    return feed


def find_feed(session: Session, ref: str) -> Feed | None:
    """A feed by id, exact URL or exact name."""
    if ref.isdigit():
        return session.get(Feed, int(ref))
    return session.exec(select(Feed).where((Feed.url == ref) | (Feed.name == ref))).first()


def claim_due_feeds(session: Session, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Claim due feeds by pushing next_poll_at past the lease, one conditional UPDATE each.

    A feed whose UPDATE matches no row was claimed by another tick in the meantime.
    """
    candidates = session.exec(
        select(Feed.id, Feed.next_poll_at)
        .where(Feed.enabled == True, Feed.next_poll_at <= now)  # noqa: E712
        .order_by(col(Feed.next_poll_at))
        .limit(limit)
    ).all()
    claimed: list[int] = []
    for feed_id, due_at in candidates:
        result = session.execute(
            update(Feed)
            .where(Feed.id == feed_id, Feed.next_poll_at == due_at)  # type: ignore[arg-type]
            .values(next_poll_at=now + lease)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(feed_id)  # type: ignore[arg-type]
    return claimed


# --- articles ---------------------------------------------------------------------------


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


def link_feed_article(session: Session, feed_id: int, article_id: int, guid: str | None) -> None:
    exists = session.exec(
        select(FeedArticle).where(
            FeedArticle.feed_id == feed_id, FeedArticle.article_id == article_id
        )
    ).first()
    if exists is None:
        guid_taken = guid is not None and article_for_guid(session, feed_id, guid) is not None
        insert_ignore(
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
) -> list[tuple[int, str, int]]:
    """Articles whose processing should have finished a lease ago: (id, fetch_status, tries).

    Marks them relayed now, so the next tick does not enqueue them again at once.
    """
    rows = session.exec(
        select(Article.id, Article.fetch_status, Article.relay_count)
        .where(
            col(Article.processed_at).is_(None),
            col(Article.created_at) < now - lease,
            col(Article.relayed_at).is_(None) | (col(Article.relayed_at) < now - lease),
        )
        .order_by(col(Article.id))
        .limit(limit)
    ).all()
    found = [(int(i), str(status), int(count)) for i, status, count in rows if i is not None]
    if found:
        session.execute(
            update(Article)
            .where(col(Article.id).in_([i for i, _, _ in found]))
            .values(relayed_at=now, relay_count=Article.relay_count + 1)
        )
    return found


# --- stories ----------------------------------------------------------------------------


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(0x6E657773)))


def story_candidates(session: Session, keys: Sequence[str]) -> list[Story]:
    if not keys:
        return []
    story_ids = select(StoryBand.story_id).where(StoryBand.band_key.in_(list(keys)))  # type: ignore[attr-defined]
    query = select(Story).where(col(Story.id).in_(story_ids)).order_by(col(Story.id))
    return list(session.exec(query).all())


def create_story(session: Session, title: str, signature: str, keys: Sequence[str]) -> Story:
    story = Story(title=title, signature=signature)
    session.add(story)
    session.flush()
    for key in dict.fromkeys(keys):
        session.add(StoryBand(band_key=key, story_id=story.id))  # type: ignore[arg-type]
    return story


# --- rules ------------------------------------------------------------------------------


def enabled_rules(session: Session) -> list[Rule]:
    query = select(Rule).where(col(Rule.enabled).is_(True)).order_by(col(Rule.id))
    return list(session.exec(query).all())


def rules_version(session: Session) -> tuple[int, str]:
    """Changes whenever a rule is added, removed or edited (the matcher cache key)."""
    count, latest = session.exec(select(func.count(col(Rule.id)), func.max(Rule.updated_at))).one()
    return int(count), str(latest)


def find_rule(session: Session, ref: str) -> Rule | None:
    if ref.isdigit():
        return session.get(Rule, int(ref))
    return session.exec(select(Rule).where(Rule.name == ref)).first()


# --- alerts -----------------------------------------------------------------------------


Outbox = type[Alert] | type[Notification]


def claim_outbox(
    session: Session, model: Outbox, row_id: int, now: datetime, lease: timedelta
) -> bool:
    """pending and due -> sending, for one worker only (alerts and notifications alike)."""
    result = session.execute(
        update(model)
        .where(
            col(model.id) == row_id,
            col(model.status) == "pending",
            col(model.next_attempt_at) <= now,
        )
        .values(status="sending", claimed_until=now + lease)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def due_outbox_ids(session: Session, model: Outbox, now: datetime, limit: int) -> list[int]:
    """Rows the relay should (re)enqueue; sending claims whose lease ran out are reopened."""
    session.execute(
        update(model)
        .where(col(model.status) == "sending", col(model.claimed_until) < now)
        .values(status="pending", claimed_until=None)
    )
    rows = session.exec(
        select(model.id)
        .where(
            col(model.status) == "pending",
            col(model.next_attempt_at) <= now,
            # A row the relay enqueued a moment ago is not enqueued again until its task ran.
            (col(model.claimed_until).is_(None)) | (col(model.claimed_until) < now),
        )
        .order_by(col(model.next_attempt_at))
        .limit(limit)
    ).all()
    ids = [int(r) for r in rows if r is not None]
    if ids:
        session.execute(
            update(model).where(col(model.id).in_(ids)).values(claimed_until=now + RELAY_LEASE)
        )
    return ids


def list_alerts(session: Session, status: str | None, limit: int) -> Sequence[Alert]:
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)  # type: ignore[union-attr]
    if status:
        query = query.where(Alert.status == status)
    return session.exec(query).all()
