"""Polling feeds: claim the due ones, GET each conditionally, parse it, upsert its entries."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.errors import FetchError, HostBusyError, HTTPStatusError, NotFoundError
from pipeline.io import store
from pipeline.io.store import DueFeed
from pipeline.io.threads import process_pool
from pipeline.model import FeedHealth, FetchStatus, PollStatus
from pipeline.runtime import Runtime
from pipeline.stages.health import HealthPolicy, PollOutcome, health_event, next_health, usual_gap
from pipeline.stages.parse import ParsedFeed, parse_feed
from pipeline.stages.schedule import due_batches, next_poll_at

if TYPE_CHECKING:
    from pipeline.io.http import FetchResult

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


@dataclass(frozen=True)
class _Target:
    """What a conditional GET of one feed needs, read before the request."""

    feed_id: int
    url: str
    etag: str | None
    last_modified: str | None
    interval: timedelta

    @classmethod
    def of(cls, feed: store.Feed) -> _Target:
        return cls(
            int(feed.id),  # type: ignore[arg-type]
            feed.url,
            feed.etag,
            feed.last_modified,
            timedelta(seconds=feed.interval_seconds),
        )


@dataclass
class _Answer:
    """What one GET came to, before anything of it is stored."""

    target: _Target
    response: FetchResult | None = None
    parsed: ParsedFeed | None = None  # None with a response: 304 Not Modified
    failure: str | None = None
    status: int | None = None
    retry_after: float | None = None
    busy: HostBusyError | None = None

    @property
    def has_entries(self) -> bool:
        return self.failure is None and self.parsed is not None and bool(self.parsed.entries)


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
        target = _Target.of(feed)
    answer = _ask(rt, target)
    if answer.busy is not None:
        if answer.busy.retry_in <= rt.settings.beat_interval:
            raise answer.busy  # soon free: the worker retries the task after a short countdown
        return _defer_poll(rt, feed_id, answer.busy)  # a long block (Retry-After): in the store
    return _record_answers(rt, [answer], removed_is_error=True)[0]


# Polls per batch task: Celery's cost per message (publish, receive, ack, events) is paid
# once per batch. Feeds of one batch fall due within a second, so none starts much late.
POLL_BATCH = 25
POLL_BATCH_SPREAD = timedelta(seconds=1)


def poll_batches(feeds: list[DueFeed]) -> list[list[DueFeed]]:
    """Claimed feeds grouped for ``refresh_feeds``; each batch is due when its last feed is."""
    return due_batches(feeds, POLL_BATCH, POLL_BATCH_SPREAD)


@dataclass
class PollBatchReport:
    feed_ids: list[int]
    polls: list[PollReport] = field(default_factory=list)
    # Feeds whose host was busy for a moment, with seconds to wait: nothing was sent, and
    # the caller polls each again shortly.
    busy: list[tuple[int, float]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def unfinished(self) -> list[int]:
        """Feeds of the batch with nothing recorded yet (for a batch that was cut)."""
        done = {p.feed_id for p in self.polls} | {f for f, _ in self.busy} | set(self.removed)
        return [feed_id for feed_id in self.feed_ids if feed_id not in done]


def refresh_feeds(
    report: PollBatchReport,
    rt: Runtime,
    on_stored: Callable[[PollReport], None] | None = None,
) -> PollBatchReport:
    """``refresh_feed`` for a batch: one read of the feeds, their GETs at once (each holding
    its host's slot), then one transaction for every answer without entries to store (a 304,
    a failure); a feed with entries is stored as ``refresh_feed`` stores it.

    Fills ``report`` as it goes, so a caller whose batch was cut knows what is left.
    ``on_stored`` hands a feed's poll over as soon as it is committed (see
    ``_record_answers``); the caller follows up the rest once the batch returns.
    """
    with store.session_scope(rt.store_url) as session:
        feeds = store.get_feeds(session, report.feed_ids)
        targets = [_Target.of(feeds[i]) for i in report.feed_ids if i in feeds]
    report.removed = [feed_id for feed_id in report.feed_ids if feed_id not in feeds]
    answers = _ask_all(rt, targets)
    for answer in answers:
        busy, feed_id = answer.busy, answer.target.feed_id
        if busy is not None and busy.retry_in <= rt.settings.beat_interval:
            report.busy.append((feed_id, busy.retry_in))
            log.info("feed %s put off: %s", feed_id, busy, extra={"feed_id": feed_id})
        elif busy is not None:
            report.polls.append(_defer_poll(rt, feed_id, busy))
    report.polls += _record_answers(rt, [a for a in answers if a.busy is None], on_stored=on_stored)
    return report


# GETs of poll batches in flight at once per process: room for the slow feeds of several
# batches. They share the HTTP client's connection pool with the worker's page fetches; a
# GET that waits there for a connection holds its host's slot meanwhile, so that pool
# should be at least this large (pipeline/io/http.py).
POLL_THREADS = 128


def _ask_all(rt: Runtime, targets: list[_Target]) -> list[_Answer]:
    if len(targets) <= 1:
        return [_ask(rt, target) for target in targets]
    futures = [
        process_pool("poll", POLL_THREADS).submit(_ask_safely, rt, target) for target in targets
    ]
    try:
        return [future.result() for future in futures]
    except BaseException:
        # Cut by the worker's time limit: GETs not started never start; one still stuck
        # ends at its own deadline and its answer is dropped.
        for future in futures:
            future.cancel()
        raise


def _ask_safely(rt: Runtime, target: _Target) -> _Answer:
    # One feed's surprise must not cost the batch: it is that feed's failed poll.
    try:
        return _ask(rt, target)
    except Exception as exc:
        log.exception("feed %s poll raised", target.feed_id, extra={"feed_id": target.feed_id})
        return _Answer(target, failure=f"unexpected error: {type(exc).__name__}: {exc}")


def _ask(rt: Runtime, target: _Target) -> _Answer:
    headers = {"Accept": _FEED_ACCEPT}
    if target.etag:
        headers["If-None-Match"] = target.etag
    if target.last_modified:
        headers["If-Modified-Since"] = target.last_modified
    try:
        response = rt.hosts.get(rt.http, target.url, headers)
        parsed = (
            None
            if response.status_code == 304
            else parse_feed(response.body, response.headers, response.url)
        )
    except HostBusyError as busy:
        return _Answer(target, busy=busy)
    except (FetchError, ValueError) as exc:
        if isinstance(exc, HTTPStatusError):
            return _Answer(
                target, failure=str(exc), status=exc.status_code, retry_after=exc.retry_after
            )
        return _Answer(target, failure=str(exc))
    if parsed is not None and not parsed.entries and (parsed.problem or not parsed.title):
        # Something answered, but not with a feed (a web page, an error page): a failure,
        # not an empty feed.
        reason = f"not a feed: {parsed.problem or 'no entries and no feed title'}"
        return _Answer(target, response, failure=reason, status=response.status_code)
    return _Answer(target, response, parsed)


def _record_answers(
    rt: Runtime,
    answers: list[_Answer],
    removed_is_error: bool = False,
    on_stored: Callable[[PollReport], None] | None = None,
) -> list[PollReport]:
    """Store answers: all without entries (a 304, an empty feed, a failure) in one
    transaction, each with entries in its own, the shortest feeds first.

    ``on_stored(report)`` is called once a feed's entries are committed, unless the batch
    has another feed listing one of its articles: that article's feeds are all linked
    before anyone processes it (its alerts name every feed), so the caller follows those
    up once the whole batch is stored.

    A feed removed during its poll is skipped, or with ``removed_is_error`` (one feed
    polled by itself) raises NotFoundError.
    """
    reports: list[PollReport] = []
    quick = [answer for answer in answers if not answer.has_entries]
    if quick:
        now = rt.now()
        with store.session_scope(rt.store_url) as session:
            feeds = store.get_feeds(session, [answer.target.feed_id for answer in quick])
            for answer in quick:
                feed_id = answer.target.feed_id
                feed = feeds.get(feed_id)
                if answer.failure is not None:
                    reports.append(
                        _apply_failure(
                            rt,
                            session,
                            feed_id,
                            feed,
                            answer.failure,
                            answer.status,
                            answer.retry_after,
                            now,
                        )
                    )
                elif feed is not None:
                    report = _poll_report(answer)
                    reports.append(_apply_poll(rt, session, feed, answer, report, 0, now))
                elif removed_is_error:
                    raise NotFoundError(f"feed {feed_id} was removed while it was being polled")
    with_entries = sorted(
        (answer for answer in answers if answer.has_entries),
        key=lambda answer: len(answer.parsed.entries),  # type: ignore[union-attr]
    )
    urls = [_urls(answer) for answer in with_entries]
    listed = Counter(url for feed_urls in urls for url in feed_urls)
    for answer, feed_urls in zip(with_entries, urls, strict=True):
        report = _store_entries(rt, answer)
        reports.append(report)
        if on_stored is not None and all(listed[url] == 1 for url in feed_urls):
            on_stored(report)
    for report in reports:
        _log_poll(report)
    return reports


def _urls(answer: _Answer) -> set[str]:
    return {entry.canonical_url for entry in answer.parsed.entries} if answer.parsed else set()


def _poll_report(answer: _Answer) -> PollReport:
    parsed, feed_id = answer.parsed, answer.target.feed_id
    if parsed is None:
        return PollReport(feed_id=feed_id, status=PollStatus.NOT_MODIFIED)
    return PollReport(
        feed_id=feed_id, status=PollStatus.OK, entries=len(parsed.entries), problem=parsed.problem
    )


def _store_entries(rt: Runtime, answer: _Answer) -> PollReport:
    parsed, feed_id = answer.parsed, answer.target.feed_id
    assert parsed is not None
    report = _poll_report(answer)
    now = rt.now()
    new_entries = 0
    with store.session_scope(rt.store_url) as session:
        backlog_before = _backlog_limit(_polled_feed(session, feed_id), now, rt)
    # Each batch is its own transaction: a 10,000-item feed must not hold SQLite's one
    # write lock for a minute. Storing an entry is idempotent, and the feed's validators
    # are saved last, so a poll cut half-way is simply repeated in full.
    for start in range(0, len(parsed.entries), ENTRIES_PER_TRANSACTION):
        rows = [
            (
                entry.guid,
                {
                    "canonical_url": entry.canonical_url,
                    "guid": entry.guid,
                    "title": entry.title,
                    "author": entry.author,
                    "published": entry.published,
                    "summary": entry.content or entry.summary,
                    "fetch_status": FetchStatus.PENDING,
                    "created_at": now,
                    "alerts_suppressed": _BACKLOG_REASON
                    if backlog_before is not None
                    and (entry.published is None or entry.published < backlog_before)
                    else None,
                },
            )
            for entry in parsed.entries[start : start + ENTRIES_PER_TRANSACTION]
        ]
        with store.session_scope(rt.store_url) as session:
            stored = store.store_feed_entries(session, feed_id, rows)
        new_entries += stored.new_links
        report.new_article_ids += stored.new_article_ids
    with store.session_scope(rt.store_url) as session:
        feed = _polled_feed(session, feed_id)
        return _apply_poll(rt, session, feed, answer, report, new_entries, now)


def _apply_poll(
    rt: Runtime,
    session: store.Session,
    feed: store.Feed,
    answer: _Answer,
    report: PollReport,
    new_entries: int,
    now: datetime,
) -> PollReport:
    response, parsed = answer.response, answer.parsed
    assert response is not None
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
        feed.last_error = (
            f"malformed feed, kept {report.entries} entries: {report.problem}"
            if report.problem
            else None
        )
    feed.last_status = response.status_code
    feed.last_polled_at = now
    feed.next_poll_at = next_poll_at(now, answer.target.interval)
    outcome = PollOutcome(failed=False, not_modified=parsed is None, new_entries=new_entries)
    report.health, report.notification_ids = _update_health(rt, session, feed, outcome, now)
    session.add(feed)
    return report


def _log_poll(report: PollReport) -> None:
    if report.status == PollStatus.ERROR:
        log.warning(
            "feed %s poll failed: %s",
            report.feed_id,
            report.error,
            extra={"feed_id": report.feed_id, "reason": report.error},
        )
        return
    log.info(
        "polled feed %s: %s, %d entries, %d new articles",
        report.feed_id,
        report.status,
        report.entries,
        len(report.new_article_ids),
        extra={
            "feed_id": report.feed_id,
            "status": report.status,
            "new": len(report.new_article_ids),
        },
    )


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


def _apply_failure(
    rt: Runtime,
    session: store.Session,
    feed_id: int,
    feed: store.Feed | None,
    message: str,
    status: int | None,
    retry_after: float | None,
    now: datetime,
) -> PollReport:
    report = PollReport(feed_id=feed_id, status=PollStatus.ERROR, error=message)
    if feed is None:
        return report
    feed.error_count += 1
    feed.last_error = message[:2000]
    feed.last_status = status
    feed.last_polled_at = now
    feed.next_poll_at = next_poll_at(
        now,
        timedelta(seconds=feed.interval_seconds),
        error_count=feed.error_count,
        retry_after=retry_after,
        max_backoff=timedelta(seconds=rt.settings.max_poll_backoff),
    )
    report.health, report.notification_ids = _update_health(
        rt, session, feed, PollOutcome(failed=True), now
    )
    session.add(feed)
    return report


def record_poll_cut(feed_id: int, rt: Runtime, limit: float | None) -> PollReport:
    """A poll stopped by the worker's time limit: a failed poll with its backoff."""
    after = f" after {limit:g}s" if limit else ""
    reason = f"poll cut by the worker's time limit{after} (the server was too slow)"
    with store.session_scope(rt.store_url) as session:
        feed = store.get_feed(session, feed_id)
        if feed is None:
            return PollReport(feed_id=feed_id, status=PollStatus.ERROR)
        report = _apply_failure(rt, session, feed_id, feed, reason, None, None, rt.now())
    _log_poll(report)
    return report


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
