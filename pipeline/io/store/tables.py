"""The tables: one sqlmodel class per table; states are stored as their StrEnum values.

Unique keys make duplicates impossible: one article per canonical URL, one feed link per
(feed, article), one alert per (rule, article), one webhook id per alert. A schema change
here needs an Alembic migration (pipeline/migrations); a test fails CI when one is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from pipeline.clock import utcnow
from pipeline.io.store.compressed import CompressedBytes
from pipeline.model import AlertKind, FeedHealth, FetchStatus, Origin, OutboxStatus, RuleMode


class Feed(SQLModel, table=True):
    __tablename__ = "feeds"
    # Covers the claim of due feeds: found and ordered from the index alone.
    __table_args__ = (Index("ix_feeds_due", "enabled", "next_poll_at", "id"),)

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
    # Origin: the config files update only what they own; hand-made feeds are left alone.
    origin: str = Field(default=Origin.USER, max_length=10)
    # FeedHealth (paused is shown from ``enabled``), since when, and why.
    health: str = Field(default=FeedHealth.OK, max_length=10)
    health_changed_at: datetime | None = None
    health_reason: str | None = Field(default=None, sa_column=Column(Text))
    # The first poll that parsed: entries older than the backlog limit then raise no alerts,
    # unless the feed was added with backfill.
    first_polled_at: datetime | None = None
    backfill: bool = Field(default=False)
    last_new_entry_at: datetime | None = None
    # The feed's usual gap between entries (median of its dated entries): silence is
    # measured in these.
    entry_gap_seconds: int | None = None
    # The OPML folders the feed was imported under, outermost first (kept for export).
    folder: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class Article(SQLModel, table=True):
    __tablename__ = "articles"
    # The stuck-article relay reads only unfinished articles, in id order: a partial index
    # keeps that read as small as the backlog, however many articles are stored.
    __table_args__ = (
        Index(
            "ix_articles_unprocessed",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

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
    # FetchStatus: pending -> fetched|fallback, then processed_at; the reason says why a
    # fallback was used.
    fetch_status: str = Field(default=FetchStatus.PENDING, max_length=20)
    fetch_reason: str | None = Field(default=None, sa_column=Column(Text))
    # Stored compressed (see compressed.py): callers read and write plain bytes.
    page_html: bytes | None = Field(default=None, exclude=True, sa_column=Column(CompressedBytes))
    # The fetch's request and response (URL, status, headers) beside page_html until
    # processing: an article that raises an alert keeps both as WARC evidence.
    page_capture: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    extraction: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    story_id: int | None = Field(default=None, foreign_key="stories.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    # The relay re-enqueues articles whose processing was lost; it counts its tries.
    relayed_at: datetime | None = None
    relay_count: int = Field(default=0)
    # The last processing attempt's error; with failed_at set the article is terminal
    # (ArticleState.FAILED) and the relay never re-queues it.
    process_error: str | None = Field(default=None, sa_column=Column(Text))
    failed_at: datetime | None = None
    # Why this article raises no alerts though it is stored and searchable (the backlog of
    # a feed's first poll), or None.
    alerts_suppressed: str | None = Field(default=None, sa_column=Column(Text))


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
    origin: str = Field(default=Origin.USER, max_length=10)
    # "immediate", or "hourly"/"daily": alerts are held and sent as one digest per period.
    mode: str = Field(default=RuleMode.IMMEDIATE, max_length=10)
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
    kind: str = Field(default=AlertKind.NEW, max_length=10)
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # OutboxStatus: pending (due at next_attempt_at) -> sending (claimed) -> delivered | dead
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
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
    # None for operator messages (feed-health events), which have no rule.
    rule_id: int | None = Field(default=None, foreign_key="rules.id", ondelete="CASCADE")
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", ondelete="CASCADE")
    feed_event_id: int | None = Field(
        default=None, foreign_key="feed_events.id", ondelete="CASCADE"
    )
    period_start: datetime | None = None
    period_end: datetime | None = None
    channel: str = Field(max_length=20)  # a Channel value
    target: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    message_id: str = Field(max_length=80, unique=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class FeedEvent(SQLModel, table=True):
    """A feed entering or leaving a health state; told to the operator through the outbox."""

    __tablename__ = "feed_events"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feeds.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=20)  # a FeedEventKind value
    health: str = Field(max_length=10)
    previous: str = Field(max_length=10)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, index=True)


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


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 is stored (the token is shown once, at creation)."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    scope: str = Field(max_length=10)  # a KeyScope value
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    # The token's first characters, so a listed key can be recognised without the token.
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Evidence(SQLModel, table=True):
    """The fetched page of an article that raised an alert, kept as a gzipped WARC file
    (request and response records); its SHA-256 is in the alert payload. Kept in the store,
    not under data_dir, because production workers share no directory."""

    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", unique=True, ondelete="CASCADE")
    sha256: str = Field(max_length=64)
    size: int = Field(default=0)
    warc: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    captured_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow, index=True)
