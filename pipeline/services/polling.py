"""Polling feeds: claim the due ones, GET each conditionally, parse it, upsert its entries."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.errors import FetchError, HostBusyError, HTTPStatusError, NotFoundError
from pipeline.io import store
from pipeline.io.store import DueFeed
from pipeline.model import FeedHealth, FetchStatus, PollStatus
from pipeline.runtime import Runtime
from pipeline.stages.health import HealthPolicy, PollOutcome, health_event, next_health, usual_gap
from pipeline.stages.parse import parse_feed
from pipeline.stages.schedule import next_poll_at

log = logging.getLogger("newswatch")

_FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


# The first batch of a tick: small enough to be quick on a slow store, then batches grow
# to what the measured rate can claim in the time left; the largest keeps one UPDATE's
# id list well inside every database's parameter limit.
FIRST_CLAIM_BATCH = 200
MAX_CLAIM_BATCH = 5_000
# Share of a beat interval one claim tick may spend, so ticks never queue behind each other.
CLAIM_TICK_SHARE = 0.5


@dataclass
class ClaimReport:
    feeds: list[DueFeed] = field(default_factory=list)
    backlog: int = 0  # due feeds when the tick started
    batches: int = 0
    seconds: float = 0.0

    @property
    def feed_ids(self) -> list[int]:
        return [feed.feed_id for feed in self.feeds]


def refresh_due_feeds(
    rt: Runtime, enqueue: Callable[[list[DueFeed]], None] | None = None
) -> ClaimReport:
    """Claim the feeds due before the next tick in batches (one index-only read and one
    conditional UPDATE each), handing every batch to ``enqueue`` as soon as it is claimed.

    Each claimed feed comes with the time it is due, at most a beat interval ahead: the
    caller starts it then, so feeds are polled when due rather than all at the tick (which
    would also pile the feeds of one host onto the same moment).

    Batches are sized from the backlog and the rate this tick has claimed and enqueued so
    far, so a tick takes all that is due when it can and stops after half a beat interval
    when it cannot (the next tick goes on where it stopped).
    """
    settings = rt.settings
    started = time.monotonic()
    budget = settings.beat_interval * CLAIM_TICK_SHARE
    lease = timedelta(seconds=settings.claim_lease)
    until = rt.now() + timedelta(seconds=settings.beat_interval)
    with store.session_scope(rt.store_url) as session:
        backlog = store.count_due_feeds(session, until)
    report = ClaimReport(backlog=backlog)
    batch = min(FIRST_CLAIM_BATCH, backlog, settings.feeds_per_tick)
    while batch > 0:
        batch_started = time.monotonic()
        with store.session_scope(rt.store_url) as session:
            claimed = store.claim_due_feeds(session, rt.now(), lease, batch, until)
        if claimed and enqueue is not None:
            enqueue(claimed)
        report.feeds += claimed
        report.batches += 1
        now = time.monotonic()
        if len(claimed) < batch:  # the rest was claimed by another tick or is not due
            break
        batch = next_claim_batch(
            left=min(backlog, settings.feeds_per_tick) - len(report.feeds),
            claimed=len(claimed),
            seconds=now - batch_started,
            seconds_left=started + budget - now,
        )
    report.seconds = time.monotonic() - started
    if report.feeds or backlog:
        log.info(
            "claimed %d of %d due feeds in %d batches, %.2fs",
            len(report.feeds),
            backlog,
            report.batches,
            report.seconds,
            extra={"claimed": len(report.feeds), "backlog": backlog},
        )
    return report


def next_claim_batch(left: int, claimed: int, seconds: float, seconds_left: float) -> int:
    """The next batch: what the rate of the last one (``claimed`` in ``seconds``) fits in
    half the time left, never more than is ``left``; 0 once the tick's time is spent."""
    if left <= 0 or seconds_left <= 0:
        return 0
    rate = claimed / max(seconds, 1e-3)
    return min(left, MAX_CLAIM_BATCH, int(rate * seconds_left / 2))


@dataclass
class PollReport:
    feed_id: int
    status: PollStatus
    entries: int = 0
    new_article_ids: list[int] = field(default_factory=list)
    problem: str | None = None
    error: str | None = None
    health: FeedHealth = FeedHealth.OK
    # Operator messages about a change of the feed's health, to deliver after the commit.
    notification_ids: list[int] = field(default_factory=list)


def refresh_feed(feed_id: int, rt: Runtime) -> PollReport:
    """Conditional GET, parse, upsert entries; returns the ids of articles new to the store.

    The GET holds a slot on the feed's host (per-host politeness). A host blocked for long
    (Retry-After) re-schedules the feed for then; a host busy for a moment raises
    HostBusyError having changed nothing, for the caller to try again shortly.

    A failed poll or an answer that is not a feed counts towards the feed's failures; the
    feed's health is updated and a change of health is queued for the operator.
    """
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is None:
            raise NotFoundError(f"no feed with id {feed_id}")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        interval = timedelta(seconds=feed.interval_seconds)
    headers = {"Accept": _FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = rt.hosts.get(rt.http, url, headers)
        parsed = (
            None
            if response.status_code == 304
            else parse_feed(response.body, response.headers, response.url)
        )
    except HostBusyError as busy:
        if busy.retry_in <= rt.settings.beat_interval:
            raise  # soon free: the worker retries the task after a short countdown
        return _defer_poll(rt, feed_id, busy)  # a long block (Retry-After): in the store
    except (FetchError, ValueError) as exc:
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        status = exc.status_code if isinstance(exc, HTTPStatusError) else None
        return _record_poll_failure(rt, feed_id, interval, str(exc), status, retry_after)
    if parsed is not None and not parsed.entries and (parsed.problem or not parsed.title):
        # Something answered, but not with a feed (a web page, an error page): a failure,
        # not an empty feed.
        reason = f"not a feed: {parsed.problem or 'no entries and no feed title'}"
        return _record_poll_failure(rt, feed_id, interval, reason, response.status_code, None)

    report = PollReport(
        feed_id=feed_id, status=PollStatus.NOT_MODIFIED if parsed is None else PollStatus.OK
    )
    now = rt.now()
    new_entries = 0
    if parsed is not None:
        report.entries = len(parsed.entries)
        report.problem = parsed.problem
        with store.session_scope(rt.store_url) as session:
            backlog_before = _backlog_limit(_polled_feed(session, feed_id), now, rt)
        # Each batch is its own transaction: a 10,000-item feed must not hold SQLite's one
        # write lock for a minute. Storing an entry is idempotent, and the feed's validators
        # are saved last, so a poll cut half-way is simply repeated in full.
        for start in range(0, len(parsed.entries), ENTRIES_PER_TRANSACTION):
            batch = parsed.entries[start : start + ENTRIES_PER_TRANSACTION]
            with store.session_scope(rt.store_url) as session:
                for entry in batch:
                    if entry.guid and store.article_for_guid(session, feed_id, entry.guid):
                        continue
                    quiet = backlog_before is not None and (
                        entry.published is None or entry.published < backlog_before
                    )
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
                            "alerts_suppressed": _BACKLOG_REASON if quiet else None,
                        },
                    )
                    if store.link_feed_article(session, feed_id, article_id, entry.guid):
                        new_entries += 1
                    if inserted:
                        report.new_article_ids.append(article_id)
    with store.session_scope(rt.store_url) as session:
        feed = _polled_feed(session, feed_id)
        if parsed is not None:
            feed.etag = response.headers.get("etag") or feed.etag
            feed.last_modified = response.headers.get("last-modified") or feed.last_modified
            if not feed.name and parsed.title:
                feed.name = parsed.title[:300]
            feed.first_polled_at = feed.first_polled_at or now
            gap = usual_gap([e.published for e in parsed.entries if e.published is not None])
            feed.entry_gap_seconds = gap or feed.entry_gap_seconds
            if new_entries:
                feed.last_new_entry_at = now
            # A 304 keeps the failure count: it never hides a failure.
            feed.error_count = 0
        if parsed is not None:
            feed.last_error = (
                f"malformed feed, kept {report.entries} entries: {report.problem}"
                if report.problem
                else None
            )
        feed.last_status = response.status_code
        feed.last_polled_at = now
        feed.next_poll_at = next_poll_at(now, interval)
        outcome = PollOutcome(failed=False, not_modified=parsed is None, new_entries=new_entries)
        report.health, report.notification_ids = _update_health(rt, session, feed, outcome, now)
        session.add(feed)
    log.info(
        "polled feed %s: %s, %d entries, %d new articles",
        feed_id,
        report.status,
        report.entries,
        len(report.new_article_ids),
        extra={"feed_id": feed_id, "status": report.status, "new": len(report.new_article_ids)},
    )
    return report


_BACKLOG_REASON = "backlog: older than the limit on the feed's first poll"
ENTRIES_PER_TRANSACTION = 200


def _polled_feed(session: store.Session, feed_id: int) -> store.Feed:
    feed = store.get_feed(session, feed_id)
    if feed is None:
        raise NotFoundError(f"feed {feed_id} was removed while it was being polled")
    return feed


def _defer_poll(rt: Runtime, feed_id: int, busy: HostBusyError) -> PollReport:
    """The host is blocked: the feed is due again when the host should be free (the claim
    tick then picks it up), so no worker sits out the wait."""
    # A little jitter keeps the feeds of one host from all coming back at the same moment.
    delay = timedelta(seconds=busy.retry_in * random.uniform(1.0, 1.5))
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is not None:
            feed.next_poll_at = rt.now() + delay
            session.add(feed)
    log.info(
        "feed %s deferred: %s",
        feed_id,
        busy,
        extra={"feed_id": feed_id, "status": PollStatus.DEFERRED},
    )
    return PollReport(feed_id=feed_id, status=PollStatus.DEFERRED, error=str(busy))


def _backlog_limit(feed: store.Feed, now: datetime, rt: Runtime) -> datetime | None:
    """On a feed's first poll (unless added with backfill): entries published before this
    time, or undated, are stored but raise no alerts."""
    if feed.first_polled_at is not None or feed.backfill:
        return None
    return now - timedelta(seconds=rt.settings.backlog_max_age)


def _record_poll_failure(
    rt: Runtime,
    feed_id: int,
    interval: timedelta,
    message: str,
    status: int | None,
    retry_after: float | None,
) -> PollReport:
    now = rt.now()
    report = PollReport(feed_id=feed_id, status=PollStatus.ERROR, error=message)
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is not None:
            feed.error_count += 1
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
            report.health, report.notification_ids = _update_health(
                rt, session, feed, PollOutcome(failed=True), now
            )
            session.add(feed)
    log.warning(
        "feed %s poll failed: %s",
        feed_id,
        message,
        extra={"feed_id": feed_id, "reason": message},
    )
    return report


def record_poll_cut(feed_id: int, rt: Runtime, limit: float | None) -> PollReport:
    """A poll stopped by the worker's time limit: a failed poll with its backoff."""
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is None:
            return PollReport(feed_id=feed_id, status=PollStatus.ERROR)
        interval = timedelta(seconds=feed.interval_seconds)
    after = f" after {limit:g}s" if limit else ""
    reason = f"poll cut by the worker's time limit{after} (the server was too slow)"
    return _record_poll_failure(rt, feed_id, interval, reason, None, None)


def _update_health(
    rt: Runtime, session: store.Session, feed: store.Feed, outcome: PollOutcome, now: datetime
) -> tuple[FeedHealth, list[int]]:
    """Apply this poll to the feed's health; a change becomes an event in the outbox."""
    settings = rt.settings
    policy = HealthPolicy(
        failing_after=settings.feed_failing_after,
        silent_gaps=settings.feed_silent_gaps,
        silent_min=timedelta(seconds=settings.feed_silent_min),
    )
    previous = FeedHealth(feed.health)
    health = next_health(
        previous,
        outcome,
        feed.error_count,
        feed.last_new_entry_at,
        feed.entry_gap_seconds,
        now,
        policy,
    )
    kind = health_event(previous, health)
    if health != previous:
        feed.health, feed.health_changed_at = health, now
        feed.health_reason = feed.last_error if health == FeedHealth.FAILING else None
    if kind is None:
        return health, []
    from pipeline.services import operator

    notification_ids = operator.announce_feed_event(rt, session, feed, kind, previous, now)
    log.warning(
        "feed %s is %s (was %s): %s",
        feed.id,
        health,
        previous,
        feed.health_reason or "-",
        extra={"feed_id": feed.id, "event": str(kind), "reason": feed.health_reason},
    )
    return health, notification_ids


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
    try:
        poll = refresh_feed(feed_id, rt)
    except HostBusyError as busy:  # workers are polling this host right now
        poll = _defer_poll(rt, feed_id, busy)
    report = PollNowReport(feed_id=feed_id, poll=poll)
    for article_id in report.poll.new_article_ids:
        _fetch_now(article_id, rt)
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


def _fetch_now(article_id: int, rt: Runtime, attempts: int = 5) -> None:
    """Fetch a page here and now, waiting out a host busy with the workers' requests."""
    from pipeline.services import articles

    for attempt in range(attempts):
        try:
            articles.fetch_article(article_id, rt)
            return
        except HostBusyError as busy:
            if attempt == attempts - 1:
                raise
            time.sleep(min(busy.retry_in, 10.0))
