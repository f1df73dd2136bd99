"""The API's request and response bodies, with the examples shown in /openapi.json.

Ids are bounded to the store's integer range and text refuses NUL characters (the
databases do too), so malformed input is a 422 problem, not a database error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pipeline.model import FeedHealth, KeyScope, RuleMode

MAX_ID = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


# --- feeds ---------------------------------------------------------------------------------


class FeedOut(BaseModel):
    model_config = _example(
        id=1,
        url="https://example.org/world/rss.xml",
        name="World desk",
        interval_seconds=600,
        enabled=True,
        health="ok",
        health_reason=None,
        health_changed_at=None,
        error_count=0,
        last_error=None,
        last_status=200,
        last_polled_at="2026-12-01T10:00:00Z",
        last_new_entry_at="2026-12-01T09:55:00Z",
        next_poll_at="2026-12-01T10:10:00Z",
        origin="user",
        created_at="2026-11-30T08:00:00Z",
    )

    id: int
    url: str
    name: str
    interval_seconds: int
    enabled: bool
    health: FeedHealth = Field(description="ok, failing, silent or paused")
    health_reason: str | None
    health_changed_at: datetime | None
    error_count: int
    last_error: str | None
    last_status: int | None
    last_polled_at: datetime | None
    last_new_entry_at: datetime | None
    next_poll_at: datetime
    origin: str = Field(description="user (made with the CLI or API) or config (a feeds file)")
    created_at: datetime


class FeedCreate(BaseModel):
    model_config = _example(
        url="https://example.org/world/", name="World desk", interval=600, check=True
    )

    url: Text = Field(min_length=1, max_length=2000)
    name: Text = Field("", max_length=300)
    interval: int | None = Field(None, ge=30, le=7 * 86400, description="Seconds between polls.")
    check: bool = Field(
        True,
        description="GET the URL once first: refuse a 404 or an unreachable host, and use the "
        "feed a web page links to.",
    )
    backfill: bool = Field(False, description="Alert on the entries already in the feed too.")


class FeedCreated(BaseModel):
    feed: FeedOut
    discovered_from: str | None = Field(
        None, description="The web page the feed link was found on, when the URL was a page."
    )
    alternatives: list[str] = Field(default_factory=list, description="Other feeds it links to.")


class FeedPatch(BaseModel):
    model_config = _example(name="World desk (EN)", interval=300)

    name: Text | None = Field(None, max_length=300)
    interval: int | None = Field(None, ge=30, le=7 * 86400)


class FeedEventOut(BaseModel):
    model_config = _example(
        id=3,
        feed_id=1,
        feed="World desk",
        kind="feed.failing",
        health="failing",
        previous="ok",
        reason="HTTP 503 three polls in a row",
        created_at="2026-12-01T09:00:00Z",
    )

    id: int
    feed_id: int
    feed: str
    kind: str
    health: str
    previous: str
    reason: str | None
    created_at: datetime


# --- rules ---------------------------------------------------------------------------------


class RuleOut(BaseModel):
    model_config = _example(
        id=1,
        name="aleppo",
        query="evacuation AND place:SY",
        webhook_url="https://hooks.example.org/newswatch",
        feed_id=None,
        enabled=True,
        mode="immediate",
        channel_count=0,
        origin="user",
        rotating_secret=False,
        consecutive_failures=0,
        endpoint_disabled_at=None,
        endpoint_disabled_reason=None,
        created_at="2026-11-30T08:00:00Z",
        updated_at="2026-11-30T08:00:00Z",
    )

    id: int
    name: str
    query: str
    webhook_url: str
    feed_id: int | None = Field(description="Only this feed's articles; null: every feed.")
    enabled: bool
    mode: RuleMode
    channel_count: int = Field(description="Apprise channels beside the webhook.")
    origin: str
    rotating_secret: bool = Field(description="Deliveries also carry the old signatures.")
    consecutive_failures: int
    endpoint_disabled_at: datetime | None
    endpoint_disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class RuleCreate(BaseModel):
    model_config = _example(
        name="aleppo",
        query="evacuation AND place:SY",
        webhook_url="https://hooks.example.org/newswatch",
        mode="immediate",
    )

    name: Text = Field(min_length=1, max_length=200)
    query: Text = Field(min_length=1, max_length=10_000)
    webhook_url: Text = Field(min_length=1, max_length=2000)
    secret: Text | None = Field(
        None, max_length=200, description="whsec_… signing secret; generated when omitted."
    )
    feed: Text | None = Field(None, max_length=2000, description="Feed id, URL or name.")
    enabled: bool = True
    mode: RuleMode = RuleMode.IMMEDIATE
    channels: list[Annotated[Text, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="Apprise URLs (slack://…, mailto://…)."
    )


class RuleSaved(BaseModel):
    rule: RuleOut
    secret: str | None = Field(
        None, description="The signing secret: shown when it was generated or rotated."
    )
    warnings: list[str] = Field(default_factory=list)


class RulePatch(BaseModel):
    model_config = _example(query="evacuation AND killed:>=10")

    query: Text | None = Field(None, min_length=1, max_length=10_000)
    webhook_url: Text | None = Field(None, min_length=1, max_length=2000)
    feed: Text | None = Field(None, max_length=2000, description="'' for every feed.")
    mode: RuleMode | None = None
    channels: list[Annotated[Text, Field(max_length=2000)]] | None = Field(None, max_length=20)


class RotateSecret(BaseModel):
    model_config = _example(finish=False)

    secret: Text | None = Field(None, max_length=200, description="The new whsec_ secret.")
    finish: bool = Field(False, description="End the rotation: sign with one secret again.")


class HitOut(BaseModel):
    term: str
    field: str
    sentence: str


class TextTest(BaseModel):
    model_config = _example(
        query="evacuation AND killed:>=10",
        title="Floods in Thailand",
        text="At least 12 people were killed and 3,000 evacuated after the river burst.",
    )

    query: Text = Field(min_length=1, max_length=10_000)
    text: Text = Field(max_length=1_000_000, description="Plain text (already clean).")
    title: Text = Field("", max_length=2000)
    language: Text | None = Field(None, max_length=16)


class TextTestResult(BaseModel):
    matched: bool
    hits: list[HitOut]


class ArticlesTest(BaseModel):
    model_config = _example(query="ceasefire", last=50)

    query: Text = Field(min_length=1, max_length=10_000)
    article_ids: list[Id] | None = Field(
        None, max_length=500, description="Try these stored articles…"
    )
    last: int = Field(50, ge=1, le=500, description="…or the newest processed ones.")


class ArticleMatch(BaseModel):
    article_id: int
    title: str
    url: str
    hits: list[HitOut]


class ArticlesTestResult(BaseModel):
    query: str
    checked: int
    matched: int
    articles: list[ArticleMatch]


class BacktestResult(BaseModel):
    rule: str
    since: str
    checked: int = Field(description="Stored articles read.")
    matched: int = Field(description="How many would have fired.")
    samples: list[ArticleMatch]


# --- articles and stories ------------------------------------------------------------------


class ArticleSummary(BaseModel):
    id: int
    url: str
    title: str
    published: datetime | None
    language: str | None
    fetch_status: str
    story_id: int | None
    created_at: datetime
    processed_at: datetime | None


class FeedRef(BaseModel):
    id: int
    name: str
    url: str


class ArticleOut(ArticleSummary):
    author: str | None
    site_name: str | None
    summary: str | None
    text: str | None
    word_count: int | None
    fetch_reason: str | None
    alerts_suppressed: str | None
    extraction: dict[str, Any] | None = Field(
        description="Figures, topics, places and language found in the text."
    )
    feeds: list[FeedRef]
    alert_ids: list[int]


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class StoryVersion(ArticleSummary):
    figures: list[dict[str, Any]]
    changes: dict[str, Any] | None = Field(
        description="What this version added to the one before: new_figures, "
        "revised_figures (from -> to), new_terms; null for the first version."
    )


class StoryOut(BaseModel):
    id: int
    title: str
    article_count: int
    created_at: datetime
    updated_at: datetime
    versions: list[StoryVersion]
    alert_ids: list[int]


class StoryArticleRef(BaseModel):
    id: int
    url: str


class StorySummary(BaseModel):
    id: int
    title: str
    articles: list[StoryArticleRef]
    alerts: list[int]
    updated_at: datetime


# --- alerts --------------------------------------------------------------------------------


class AlertSummary(BaseModel):
    id: int
    status: str = Field(description="pending, held, sending, delivered, dead, …")
    kind: str
    rule_id: int
    rule: str | None
    article_id: int
    article: str | None
    url: str | None
    story_id: int | None
    webhook_id: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class AlertPage(BaseModel):
    items: list[AlertSummary]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    at: datetime
    to: str = Field(description="webhook, or channel (an Apprise channel or digest)")
    status_code: int | None
    error: str | None
    duration_ms: int


class AlertArticle(BaseModel):
    id: int
    title: str | None
    url: str | None


class AlertOut(BaseModel):
    id: int
    status: str
    kind: str
    webhook_id: str
    rule: str | None
    article: AlertArticle
    story_id: int | None
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    deliveries: list[DeliveryOut] = Field(description="Every delivery attempt, oldest first.")
    payload: dict[str, Any] = Field(description="The signed JSON body the webhook receives.")


class Replayed(BaseModel):
    id: int
    status: str
    detail: str


# --- search and OPML -----------------------------------------------------------------------


class SearchItem(BaseModel):
    id: int
    url: str
    title: str
    published: datetime | None
    language: str | None
    story_id: int | None
    feeds: list[str]
    hits: list[HitOut]


class SearchPage(BaseModel):
    items: list[SearchItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    query: str = Field(description="The query run: yours, with the filters as clauses.")
    scanned: int = Field(description="Candidates the matcher checked for this page.")


class OpmlFeedOut(BaseModel):
    id: int
    url: str
    name: str
    folder: list[str]


class OpmlKnown(BaseModel):
    id: int | None
    url: str


class OpmlRefused(BaseModel):
    url: str | None
    title: str
    line: int | None
    reason: str


class OpmlImport(BaseModel):
    added: list[OpmlFeedOut]
    known: list[OpmlKnown]
    refused: list[OpmlRefused]


# --- keys and counts -----------------------------------------------------------------------


class Counts(BaseModel):
    model_config = _example(
        feeds={"ok": 10, "failing": 1, "silent": 0, "paused": 2},
        rules={"enabled": 3, "disabled": 1},
        articles={"pending": 2, "fetched": 120, "fallback": 4, "processed": 124},
        stories=97,
        alerts={"delivered": 40, "pending": 1, "dead": 2},
        notifications={"delivered": 5},
        delivery_attempts={"ok": 45, "failed": 9},
    )

    feeds: dict[str, int]
    rules: dict[str, int]
    articles: dict[str, int]
    stories: int
    alerts: dict[str, int]
    notifications: dict[str, int]
    delivery_attempts: dict[str, int]


class WhoAmI(BaseModel):
    name: str
    scope: KeyScope
    via: str
