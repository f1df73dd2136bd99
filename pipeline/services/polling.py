"""Polling feeds: claim the due ones, GET each conditionally, parse it, upsert its entries."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.errors import FetchError, HTTPStatusError, NotFoundError
from pipeline.io import store
from pipeline.model import FetchStatus, PollStatus
from pipeline.runtime import Runtime
from pipeline.stages.parse import parse_feed
from pipeline.stages.schedule import next_poll_at

log = logging.getLogger("newswatch")

_FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"


def refresh_due_feeds(rt: Runtime) -> list[int]:
    """Claim the feeds that are due (a conditional UPDATE each) and return their ids."""
    with store.session_scope(rt.store_url) as session:
        return store.claim_due_feeds(
            session,
            rt.now(),
            timedelta(seconds=rt.settings.claim_lease),
            rt.settings.feeds_per_tick,
        )


@dataclass
class PollReport:
    feed_id: int
    status: PollStatus
    entries: int = 0
    new_article_ids: list[int] = field(default_factory=list)
    problem: str | None = None
    error: str | None = None


def refresh_feed(feed_id: int, rt: Runtime) -> PollReport:
    """Conditional GET, parse, upsert entries; returns the ids of articles new to the store."""
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is None:
            raise NotFoundError(f"no feed with id {feed_id}")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        interval = timedelta(seconds=feed.interval_seconds)
        errors_so_far = feed.error_count
    headers = {"Accept": _FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = rt.http.get(url, headers)
        parsed = (
            None
            if response.status_code == 304
            else parse_feed(response.body, response.headers, response.url)
        )
    except (FetchError, ValueError) as exc:
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        status = exc.status_code if isinstance(exc, HTTPStatusError) else None
        return _record_poll_failure(
            rt, feed_id, interval, errors_so_far, str(exc), status, retry_after
        )

    report = PollReport(
        feed_id=feed_id, status=PollStatus.NOT_MODIFIED if parsed is None else PollStatus.OK
    )
    now = rt.now()
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is None:
            raise NotFoundError(f"feed {feed_id} was removed while it was being polled")
        if parsed is not None:
            report.entries = len(parsed.entries)
            report.problem = parsed.problem
            for entry in parsed.entries:
                if entry.guid and store.article_for_guid(session, feed_id, entry.guid):
                    continue
                article_id, inserted = store.upsert_article(
                    session,
                    {
                        "canonical_url": entry.canonical_url,
                        "guid": entry.guid,
                        "title": entry.title,
                        "author": entry.author,
                        "published": entry.published,
                        "summary": entry.content or entry.summary,
                        "fetch_status": FetchStatus.PENDING,
                        "created_at": now,
                    },
                )
                store.link_feed_article(session, feed_id, article_id, entry.guid)
                if inserted:
                    report.new_article_ids.append(article_id)
            feed.etag = response.headers.get("etag") or feed.etag
            feed.last_modified = response.headers.get("last-modified") or feed.last_modified
            if not feed.name and parsed.title:
                feed.name = parsed.title[:300]
        feed.error_count = 0
        feed.last_error = (
            f"malformed feed, kept {report.entries} entries: {report.problem}"
            if report.problem
            else None
        )
        feed.last_status = response.status_code
        feed.last_polled_at = now
        feed.next_poll_at = next_poll_at(now, interval)
        session.add(feed)
    log.info(
        "polled feed",
        extra={"feed_id": feed_id, "status": report.status, "new": len(report.new_article_ids)},
    )
    return report


def _record_poll_failure(
    rt: Runtime,
    feed_id: int,
    interval: timedelta,
    errors_so_far: int,
    message: str,
    status: int | None,
    retry_after: float | None,
) -> PollReport:
    now = rt.now()
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is not None:
            feed.error_count = errors_so_far + 1
            feed.last_error = message[:2000]
            feed.last_status = status
            feed.last_polled_at = now
            feed.next_poll_at = next_poll_at(
                now,
                interval,
                error_count=feed.error_count,
                retry_after=retry_after,
                max_backoff=timedelta(seconds=rt.settings.max_poll_backoff),
            )
            session.add(feed)
    log.warning("feed poll failed", extra={"feed_id": feed_id, "error": message})
    return PollReport(feed_id=feed_id, status=PollStatus.ERROR, error=message)


@dataclass
class ArticleOutcome:
    article_id: int
    fetch_status: FetchStatus
    alert_ids: list[int]
    deliveries: dict[int, str]  # alert id -> its status after the attempt (with deliver)


@dataclass
class PollNowReport:
    feed_id: int
    poll: PollReport
    articles: list[ArticleOutcome] = field(default_factory=list)


def poll_feed_now(rt: Runtime, ref: str, deliver: bool = False) -> PollNowReport:
    """The whole path for one feed, here and now (no worker): poll, fetch and process every
    new article, and with ``deliver`` send their alerts at once."""
    from pipeline.services import articles, delivery

    with store.session_scope(rt.store_url) as session:
        feed_id = int(store.require_feed(session, ref).id)  # type: ignore[arg-type]
    report = PollNowReport(feed_id=feed_id, poll=refresh_feed(feed_id, rt))
    for article_id in report.poll.new_article_ids:
        articles.fetch_article(article_id, rt)
        processed = articles.process_article(article_id, rt)
        sent = (
            {alert_id: delivery.deliver_alert(alert_id, rt) for alert_id in processed.alert_ids}
            if deliver
            else {}
        )
        report.articles.append(
            ArticleOutcome(article_id, processed.fetch_status, processed.alert_ids, sent)
        )
    return report
