"""Articles: fetch each new page, then clean, extract and match it, and store the article,
its tags, its story and its alerts in one transaction; re-enqueue work that was lost."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.errors import FetchError, NotFoundError
from pipeline.io import store
from pipeline.model import ArticleRef, FeedRef, FetchStatus, MatchDocument
from pipeline.runtime import Runtime
from pipeline.services import alerting
from pipeline.stages import alert as alert_stage

log = logging.getLogger("newswatch")


def fetch_article(article_id: int, rt: Runtime) -> FetchStatus:
    """GET the article page through the HTTP seam and keep it for process_article.

    Returns fetched, or fallback (the page could not be had: the feed's text is used).
    """
    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        if article.fetch_status != FetchStatus.PENDING:
            return FetchStatus(article.fetch_status)
        url = article.canonical_url
    html: bytes | None = None
    reason: str | None = None
    if not url.startswith(("http://", "https://")):
        reason = "the feed entry has no link"
    else:
        try:
            html = rt.http.get(url, {"Accept": "text/html,application/xhtml+xml"}).body
        except FetchError as exc:
            # Not retried: the feed's own text now is worth more than the full page later.
            reason = f"page unavailable: {exc}"
        except Exception as exc:  # never leave an article stuck on an unexpected failure
            log.exception("page fetch failed", extra={"article_id": article_id})
            reason = f"page unavailable: {type(exc).__name__}: {exc}"
    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        if article is None:
            raise NotFoundError(f"article {article_id} was removed while it was being fetched")
        article.page_html = html
        article.fetch_status = FetchStatus.FETCHED if html is not None else FetchStatus.FALLBACK
        article.fetch_reason = reason
        session.add(article)
        return FetchStatus(article.fetch_status)


@dataclass
class ProcessReport:
    article_id: int
    fetch_status: FetchStatus
    alert_ids: list[int] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)


def process_article(article_id: int, rt: Runtime) -> ProcessReport:
    """Clean, extract and match one article; store it, its tags and its alerts in one go."""
    # Cleaning and extraction load large models: imported here so that commands which
    # never process an article (the CLI's lists) start at once.
    from pipeline.stages.clean import clean_article, detect_language
    from pipeline.stages.extract import extract
    from pipeline.stages.stories import story_signature

    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        if article.processed_at is not None:
            return ProcessReport(article_id, FetchStatus(article.fetch_status))
        page, summary, feed_title = article.page_html, article.summary or "", article.title
        fetch_status = FetchStatus(article.fetch_status)
        fetch_reason = article.fetch_reason
        url = article.canonical_url
        # A feed's backlog is stored and searchable but raises no alerts.
        quiet = article.alerts_suppressed is not None
        feeds = tuple(
            FeedRef(int(f.id), f.name, f.url)  # type: ignore[arg-type]
            for f in store.article_feeds(session, article_id)
        )

    cleaned = clean_article(page, url=url) if page else None
    if cleaned is not None and cleaned.text:
        title = feed_title or cleaned.title
        text = cleaned.text
        language = cleaned.language
    else:
        if cleaned is not None:
            fetch_status, fetch_reason = FetchStatus.FALLBACK, cleaned.reason
        elif fetch_status == FetchStatus.PENDING:
            fetch_status, fetch_reason = FetchStatus.FALLBACK, "the page was never fetched"
        title, text = feed_title, summary
        language = detect_language(f"{title}. {text}")
    extraction = extract(title, text, language, rt.settings.topics_file)
    matcher, rules = alerting.active_matcher(rt)
    feed_labels = tuple(value for feed in feeds for value in (feed.name, feed.url) if value)
    matches = matcher.match(MatchDocument.from_extraction(title, text, feed_labels, extraction))
    feed_ids = {feed.id for feed in feeds}
    signature = story_signature(title, text)

    now = rt.now()
    report = ProcessReport(article_id, fetch_status)
    with store.session_scope(rt.store_url) as session:
        store.lock_story_assignment(session)
        article = store.get_article(session, article_id)
        if article is None or article.processed_at is not None:
            return report
        story_id = alerting.assign_story(session, title, signature)
        article.story_id = story_id
        article.title = title
        article.text = text
        article.language = language
        article.content_hash = hashlib.sha256(text.encode()).hexdigest()
        article.word_count = extraction.word_count
        article.extraction = extraction.to_dict()
        article.fetch_status = fetch_status
        article.fetch_reason = fetch_reason
        article.page_html = None
        article.processed_at = now
        if cleaned is not None:
            article.author = article.author or cleaned.author
            article.site_name = cleaned.site_name
            article.published = article.published or cleaned.published
        session.add(article)
        described = ArticleRef(
            id=article_id,
            url=url,
            title=title,
            published=alert_stage.iso_or_none(article.published),
            language=language,
            author=article.author,
            site_name=article.site_name,
            fetch_status=fetch_status,
            feeds=feeds,
        )
        for rule_id, result in sorted(matches.items()) if not quiet else []:
            rule = rules.get(rule_id)
            if rule is None or (rule.feed_id is not None and rule.feed_id not in feed_ids):
                continue
            alert_id = alerting.alert_once_per_story(
                session, rule, story_id, described, result, extraction, now
            )
            if alert_id is not None:
                report.alert_ids.append(alert_id)
        report.notification_ids = store.notification_ids_for_alerts(session, report.alert_ids)
    log.info("processed article", extra={"article_id": article_id, "alerts": report.alert_ids})
    return report


def relay_stuck_articles(rt: Runtime) -> tuple[list[int], list[int]]:
    """Articles whose task was lost or failed: (ids to fetch, ids to process) again.

    After ``article_relay_limit`` tries an article is stored with the feed's text and the
    reason, so one poisonous page cannot loop forever, and its alerts are still created.
    """
    lease = timedelta(seconds=rt.settings.claim_lease)
    limit = rt.settings.article_relay_limit
    to_fetch: list[int] = []
    to_process: list[int] = []
    with store.session_scope(rt.store_url) as session:
        stuck = store.stuck_article_ids(
            session, rt.now(), lease, rt.settings.articles_per_relay_tick
        )
        for article_id, fetch_status, tries in stuck:
            if fetch_status == FetchStatus.PENDING and tries < limit:
                to_fetch.append(article_id)
            elif tries < limit:
                to_process.append(article_id)
            else:
                article = store.get_article(session, article_id)
                if article is not None:
                    article.page_html = None
                    article.fetch_status = FetchStatus.FALLBACK
                    article.fetch_reason = f"gave up on the page after {tries} tries"
                    session.add(article)
                    to_process.append(article_id)
    return to_fetch, to_process
