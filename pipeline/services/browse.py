"""Read-only views for the API and the dashboard: pages of articles and alerts, one
article with its extraction, a story with its versions and what each changed, counts by
state, and a query tried on posted text or on stored articles.

Pages are newest first with an opaque cursor (the last id seen), so a page stays right
while new rows arrive. Rows are plain dicts with stable keys (the API's schemas and the
dashboard's templates read the same ones).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipeline.errors import ConfigError, NotFoundError
from pipeline.io import store
from pipeline.io.store import Alert, Article, Feed, Rule
from pipeline.model import Extraction, FeedHealth, FeedRef, MatchDocument
from pipeline.runtime import Runtime

MAX_PAGE = 200
MAX_LIVE_TEST = 500


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None  # None: this was the last page


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor stands for; a cursor newswatch did not make is a ConfigError."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raw = ""
    kind, _, number = raw.partition(":")
    if kind != "id" or not number.isdigit() or len(number) > 18:
        raise ConfigError(f"invalid cursor {cursor[:40]!r}: pass back a next_cursor as given")
    return int(number)


def _page(rows: list[Any], limit: int, shape: Any) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(int(rows[-1].id)) if more and rows else None
    return Page([shape(row) for row in rows], cursor)


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


# --- feeds ---------------------------------------------------------------------------------


def feed_health(feed: Feed) -> FeedHealth:
    """The health shown for a feed: paused wins over what its polls said."""
    return FeedHealth.PAUSED if not feed.enabled else FeedHealth(feed.health)


def feed_row(feed: Feed) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "name": feed.name,
        "interval_seconds": feed.interval_seconds,
        "enabled": feed.enabled,
        "health": feed_health(feed),
        "health_reason": feed.health_reason,
        "health_changed_at": feed.health_changed_at,
        "error_count": feed.error_count,
        "last_error": feed.last_error,
        "last_status": feed.last_status,
        "last_polled_at": feed.last_polled_at,
        "last_new_entry_at": feed.last_new_entry_at,
        "next_poll_at": feed.next_poll_at,
        "origin": feed.origin,
        "created_at": feed.created_at,
    }


# --- rules ---------------------------------------------------------------------------------


def rule_row(rule: Rule) -> dict[str, Any]:
    """A rule without its secrets: channel URLs may hold tokens, so only their count."""
    return {
        "id": rule.id,
        "name": rule.name,
        "query": rule.query,
        "webhook_url": rule.webhook_url,
        "feed_id": rule.feed_id,
        "enabled": rule.enabled,
        "mode": rule.mode,
        "channel_count": len(rule.channels or []),
        "origin": rule.origin,
        "rotating_secret": bool(rule.previous_secrets),
        "consecutive_failures": rule.consecutive_failures,
        "endpoint_disabled_at": rule.disabled_at,
        "endpoint_disabled_reason": rule.disabled_reason,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def show_rule(rt: Runtime, ref: str) -> dict[str, Any]:
    with store.session_scope(rt.store_url) as session:
        return rule_row(store.require_rule(session, ref))


def parse_period(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` as a timedelta (at most a century)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or len(number) > 7:
        raise ConfigError(f"invalid period {text!r}: use a number and m, h, d or w (e.g. 7d)")
    return min(timedelta(**{units[unit]: int(number)}), timedelta(days=36500))


def backtest(rt: Runtime, ref: str, since: str, samples: int = 20) -> dict[str, Any]:
    """A saved rule over the articles stored in the period: how many it read, how many
    would have fired, and the first ``samples`` of those with their hits."""
    from pipeline.services.reports import backtest_rule, count_backtest_articles

    period = parse_period(since)
    with store.session_scope(rt.store_url) as session:
        name = store.require_rule(session, ref).name
    checked = count_backtest_articles(rt, ref, period)
    fired = backtest_rule(rt, ref, period)
    return {
        "rule": name,
        "since": since,
        "checked": checked,
        "matched": len(fired),
        "samples": fired[: max(0, samples)],
    }


# --- articles ------------------------------------------------------------------------------


def article_summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.canonical_url,
        "title": article.title,
        "published": article.published,
        "language": article.language,
        "fetch_status": article.fetch_status,
        "story_id": article.story_id,
        "created_at": article.created_at,
        "processed_at": article.processed_at,
    }


def list_articles(
    rt: Runtime,
    limit: int = 50,
    cursor: str | None = None,
    feed_id: int | None = None,
    story_id: int | None = None,
) -> Page:
    limit = _limit(limit)
    before = decode_cursor(cursor)
    with store.session_scope(rt.store_url) as session:
        rows = store.page_articles(session, limit + 1, before, feed_id, story_id)
        return _page(rows, limit, article_summary)


def show_article(rt: Runtime, article_id: int) -> dict[str, Any]:
    """One article with its text, its extraction, the feeds that list it and its alerts."""
    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        feeds = store.article_feeds(session, article_id)
        alert_ids = store.article_alert_ids(session, article_id)
    return {
        **article_summary(article),
        "author": article.author,
        "site_name": article.site_name,
        "summary": article.summary,
        "text": article.text,
        "word_count": article.word_count,
        "fetch_reason": article.fetch_reason,
        "alerts_suppressed": article.alerts_suppressed,
        "extraction": article.extraction,
        "feeds": [{"id": f.id, "name": f.name, "url": f.url} for f in feeds],
        "alert_ids": alert_ids,
    }


# --- stories -------------------------------------------------------------------------------


def show_story(rt: Runtime, story_id: int) -> dict[str, Any]:
    """A story with each version (article) in the order stored, and what each version
    added to the one before: new figures, revised figures (from -> to)."""
    from pipeline.stages.stories import story_changes

    with store.session_scope(rt.store_url) as session:
        story = store.get_story(session, story_id)
        if story is None:
            raise NotFoundError(f"no story with id {story_id}")
        versions = store.story_versions(session, story_id)
        alert_ids = store.story_alert_ids(session, story_id)
    rows = []
    previous: dict[str, Any] | None = None
    for article in versions:
        figures = (article.extraction or {}).get("figures") or []
        current = {"figures": figures}
        rows.append(
            {
                **article_summary(article),
                "figures": figures,
                "changes": story_changes(previous, current) if previous is not None else None,
            }
        )
        previous = current
    return {
        "id": story.id,
        "title": story.title,
        "article_count": story.article_count,
        "created_at": story.created_at,
        "updated_at": story.updated_at,
        "versions": rows,
        "alert_ids": alert_ids,
    }


# --- alerts --------------------------------------------------------------------------------


def list_alerts(
    rt: Runtime,
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    rule: str | None = None,
) -> Page:
    limit = _limit(limit)
    before = decode_cursor(cursor)
    with store.session_scope(rt.store_url) as session:
        rule_id = int(store.require_rule(session, rule).id) if rule else None  # type: ignore[arg-type]
        rows = store.page_alerts(session, limit + 1, before, status, rule_id)
        rules = store.rules_by_id(session, sorted({a.rule_id for a in rows}))
        articles = store.articles_by_id(session, sorted({a.article_id for a in rows}))

    def shape(alert: Alert) -> dict[str, Any]:
        rule_row, article = rules.get(alert.rule_id), articles.get(alert.article_id)
        return {
            "id": alert.id,
            "status": alert.status,
            "kind": alert.kind,
            "rule_id": alert.rule_id,
            "rule": rule_row.name if rule_row else None,
            "article_id": alert.article_id,
            "article": article.title if article else None,
            "url": article.canonical_url if article else None,
            "story_id": alert.story_id,
            "webhook_id": alert.webhook_id,
            "attempts": alert.attempts,
            "created_at": alert.created_at,
            "next_attempt_at": alert.next_attempt_at,
            "delivered_at": alert.delivered_at,
            "last_error": alert.last_error,
        }

    return _page(rows, limit, shape)


# --- counts --------------------------------------------------------------------------------


def counts(rt: Runtime) -> dict[str, Any]:
    """Rows by state: feeds by health, rules, articles, stories, alerts, notifications."""
    with store.session_scope(rt.store_url) as session:
        found = store.state_counts(session)
    feeds = {str(health): 0 for health in FeedHealth}
    feeds.update(found["feeds"])
    found["feeds"] = feeds
    found["rules"] = {"enabled": 0, "disabled": 0, **found["rules"]}
    found["delivery_attempts"] = {"ok": 0, "failed": 0, **found["delivery_attempts"]}
    return found


# --- trying a query ------------------------------------------------------------------------


def test_query_on_text(
    query: str, text: str, title: str = "", language: str | None = None
) -> dict[str, Any]:
    """Whether and why plain text (already clean: no HTML) matches a query; the text is
    extracted first, so figure, topic and place fields match as on a stored article."""
    from pipeline.stages.extract import extract

    compiled = _compile(query)
    extraction = extract(title, text, language)
    document = MatchDocument.from_extraction(title, text, (), extraction)
    return _result(compiled, document)


def test_query_on_articles(
    rt: Runtime, query: str, article_ids: list[int] | None = None, last: int = 50
) -> dict[str, Any]:
    """Try a query on stored articles (the given ids, or the ``last`` processed ones):
    how many were read, and each that matched with its hits."""
    compiled = _compile(query)
    with store.session_scope(rt.store_url) as session:
        if article_ids is None:
            ids = store.recent_processed_article_ids(session, max(1, min(last, MAX_LIVE_TEST)))
        else:
            ids = list(dict.fromkeys(article_ids))[:MAX_LIVE_TEST]
        articles = store.articles_by_id(session, ids)
        missing = [i for i in ids if i not in articles]
        if article_ids is not None and missing:
            raise NotFoundError(f"no article with id {missing[0]}")
        documents = {i: _stored_document(session, articles[i]) for i in ids}
    matched = []
    for article_id in ids:
        result = _result(compiled, documents[article_id])
        if result["matched"]:
            article = articles[article_id]
            matched.append(
                {
                    "article_id": article_id,
                    "title": article.title,
                    "url": article.canonical_url,
                    "hits": result["hits"],
                }
            )
    return {"query": query, "checked": len(ids), "matched": len(matched), "articles": matched}


test_query_on_text.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
test_query_on_articles.__test__ = False  # type: ignore[attr-defined]


def _stored_document(session: store.Session, article: Article) -> MatchDocument:
    article_id = int(article.id)  # type: ignore[arg-type]
    feeds = FeedRef.labels(store.article_feed_refs(session, [article_id]).get(article_id, []))
    return MatchDocument.from_extraction(
        article.title, article.text or "", feeds, Extraction.from_dict(article.extraction)
    )


def _compile(query: str) -> Any:
    from pipeline.stages.match import QueryError, compile_query

    try:
        return compile_query(query)
    except QueryError as exc:
        raise ConfigError(str(exc)) from exc


def _result(compiled: Any, document: MatchDocument) -> dict[str, Any]:
    from pipeline.stages.match import match_query

    result = match_query(compiled, document)
    return {"matched": result.matched, "hits": [hit.to_dict() for hit in result.hits]}
