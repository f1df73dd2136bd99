"""Articles: fetch each new page, then clean, extract and match it, and store the article,
its tags, its story and its alerts in one transaction; re-enqueue work that was lost."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline import observe
from pipeline.errors import FetchError, HostBusyError, NotFoundError, StoreUnavailableError
from pipeline.io import store
from pipeline.io.politeness import host_of
from pipeline.io.threads import process_pool
from pipeline.model import ArticleRef, FeedRef, FetchStatus, MatchDocument
from pipeline.runtime import Runtime
from pipeline.services import alerting, evidence
from pipeline.stages import alert as alert_stage

log = logging.getLogger("newswatch")


def fetch_article(article_id: int, rt: Runtime) -> FetchStatus:
    """GET the article page through the HTTP seam and keep it for process_article.

    Returns fetched, or fallback (the page could not be had: the feed's text is used).
    Raises HostBusyError, having changed nothing, when the page's host stays busy (per-host
    politeness): the caller tries again later.
    """
    with store.session_scope(rt.store_url) as session:
        targets = store.fetch_targets(session, [article_id])
    if article_id not in targets:
        raise NotFoundError(f"no article with id {article_id}")
    status, url = targets[article_id]
    if status != FetchStatus.PENDING:
        return status
    return _fetch_page(article_id, url, rt)


def _fetch_page(article_id: int, url: str, rt: Runtime) -> FetchStatus:
    """GET one pending article's page and record the outcome (HostBusyError: nothing done)."""
    html: bytes | None = None
    capture: dict[str, Any] | None = None
    reason: str | None = None
    if not url.startswith(("http://", "https://")):
        reason = "the feed entry has no link"
    else:
        try:
            fetched = rt.hosts.get(rt.http, url, {"Accept": "text/html,application/xhtml+xml"})
            html, capture = fetched.body, evidence.page_capture(fetched, rt.now())
        except HostBusyError:
            raise
        except FetchError as exc:
            # Not retried: the feed's own text now is worth more than the full page later.
            reason = f"page unavailable: {exc}"
        except Exception as exc:  # never leave an article stuck on an unexpected failure
            log.exception("page fetch failed", extra={"article_id": article_id})
            reason = f"page unavailable: {type(exc).__name__}: {exc}"
    status = FetchStatus.FETCHED if html is not None else FetchStatus.FALLBACK
    with store.session_scope(rt.store_url) as session:
        if not store.record_fetch(session, article_id, html, capture, status, reason):
            raise NotFoundError(f"article {article_id} was removed while it was being fetched")
    return status


@dataclass
class FetchBatchReport:
    """What ``fetch_articles`` did: articles ready to process, and articles put off (their
    host stayed busy, or the batch's time ran out), with seconds to wait before trying."""

    ready: list[int] = field(default_factory=list)
    later: list[tuple[int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def put_off(self, article_ids: list[int], retry_in: float) -> None:
        with self.lock:
            self.later += [(article_id, retry_in) for article_id in article_ids]


def fetch_articles(
    article_ids: list[int],
    rt: Runtime,
    on_ready: Callable[[int], None],
    budget: float,
) -> FetchBatchReport:
    """``fetch_article`` for a poll's many new pages: one read of their targets, then one
    thread per host taking that host's pages in turn, each waiting for its host's next free
    slot (per-host politeness) instead of giving the worker back a task to retry.

    ``on_ready(article_id)`` is called as each page is stored (or falls back), so its
    processing starts at once. Pages not started within ``budget`` seconds, and the rest of
    a host that asks for a long wait (Retry-After), are returned in ``later``.
    """
    report = FetchBatchReport()
    with store.session_scope(rt.store_url) as session:
        targets = store.fetch_targets(session, article_ids)
    by_host: dict[str, list[tuple[int, str]]] = {}
    for article_id in article_ids:
        if article_id not in targets:
            continue  # removed since the poll
        status, url = targets[article_id]
        if status != FetchStatus.PENDING:
            report.ready.append(article_id)
            on_ready(article_id)
        else:
            by_host.setdefault(host_of(url), []).append((article_id, url))
    deadline = time.monotonic() + budget
    futures = [
        process_pool("fetch", FETCH_THREADS).submit(
            _fetch_host, pages, rt, report, on_ready, deadline
        )
        for pages in by_host.values()
    ]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # Cut by the worker's time limit: hosts not started never start (their articles
        # stay pending, for the relay); one under way stops at its next page.
        for future in futures:
            future.cancel()
        raise
    return report


# Longest wait for one host's slot that a batch sits out itself; a longer one (Retry-After)
# goes back to the broker with the host's remaining pages.
_SIT_OUT = 5.0


def _fetch_host(
    pages: list[tuple[int, str]],
    rt: Runtime,
    report: FetchBatchReport,
    on_ready: Callable[[int], None],
    deadline: float,
) -> None:
    for index, (article_id, url) in enumerate(pages):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                report.put_off([a for a, _ in pages[index:]], 0.0)
                return
            try:
                _fetch_page(article_id, url, rt)
            except HostBusyError as busy:
                if busy.retry_in > min(_SIT_OUT, left):
                    report.put_off([a for a, _ in pages[index:]], busy.retry_in)
                    return
                time.sleep(busy.retry_in)
                continue
            except NotFoundError:
                break
            except StoreUnavailableError as exc:
                log.warning("page fetches put off: %s", exc, extra={"article_id": article_id})
                report.put_off([a for a, _ in pages[index:]], 5.0)
                return
            except Exception:
                log.exception("page fetch failed", extra={"article_id": article_id})
                report.put_off([article_id], 5.0)
                break
            with report.lock:
                report.ready.append(article_id)
            on_ready(article_id)
            break


# Hosts fetched at once per process by page batches (one thread per host, taking its
# pages in turn); a single page fetch does not wait for these.
FETCH_THREADS = 8


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
    from pipeline.stages.query.document import DocumentIndex
    from pipeline.stages.search import index_terms
    from pipeline.stages.stories import story_signature

    with store.session_scope(rt.store_url) as session:
        article = store.article_input(session, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        if article.processed_at is not None:
            return ProcessReport(article_id, article.fetch_status)
        feeds = tuple(store.article_feed_refs(session, [article_id]).get(article_id, []))
        rules_version = store.rules_version(session)
    matcher, rules = alerting.active_matcher(rt, rules_version)
    page, summary, feed_title = article.page_html, article.summary or "", article.title
    fetch_status = article.fetch_status
    fetch_reason = article.fetch_reason
    capture = article.page_capture
    url = article.canonical_url
    # The feed entry's date wins over the page's, so the page's is not searched for.
    dated = article.published is not None
    # A feed's backlog is stored and searchable but raises no alerts.
    quiet = article.alerts_suppressed is not None

    cleaned = None
    if page:
        with observe.timed("cleaning_seconds"):
            cleaned = clean_article(page, url=url, search_date=not dated)
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
    with observe.timed("extraction_seconds"):
        extraction = extract(title, text, language, rt.settings.topics_file)
    # One normalisation of the article serves the matcher and the search index.
    normalised = DocumentIndex(
        MatchDocument.from_extraction(title, text, FeedRef.labels(feeds), extraction)
    )
    matches = matcher.match_index(normalised)
    feed_ids = {feed.id for feed in feeds}
    signature = story_signature(title, text)
    terms = index_terms(title, text, normalised)
    # The page is kept only if an alert is raised, but built here, outside the transaction.
    warc = evidence.build_evidence(capture, page) if matches and not quiet else None
    stored = extraction.to_dict()
    capture_time = datetime.fromisoformat(capture["fetched_at"]) if capture else rt.now()

    now = rt.now()
    report = ProcessReport(article_id, fetch_status)
    notified = False
    with store.session_scope(rt.store_url) as session:
        # A row lock: a second delivery of this task waits here, then sees processed_at.
        locked = store.lock_article(session, article_id)
        if locked is None or locked.processed_at is not None:
            return report
        story_id = alerting.assign_story(session, title, signature)
        author = locked.author or (cleaned.author if cleaned is not None else None)
        published = locked.published or (cleaned.published if cleaned is not None else None)
        site_name = cleaned.site_name if cleaned is not None else None
        finished = {
            "story_id": story_id,
            "title": title,
            "text": text,
            "language": language,
            "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            "word_count": extraction.word_count,
            "extraction": stored,
            "fetch_status": fetch_status,
            "fetch_reason": fetch_reason,
            "processed_at": now,
            "author": author,
            "published": published,
        }
        if cleaned is not None:
            finished["site_name"] = site_name
        store.finish_article(session, article_id, finished)
        described = ArticleRef(
            id=article_id,
            url=url,
            title=title,
            published=alert_stage.iso_or_none(published),
            language=language,
            author=author,
            site_name=site_name,
            fetch_status=fetch_status,
            feeds=feeds,
            evidence=evidence.payload_ref(article_id, warc),
        )
        alerting_rules = [
            (rule, result)
            for rule_id, result in (sorted(matches.items()) if not quiet else [])
            if (rule := rules.get(rule_id)) is not None
            and (rule.feed_id is None or rule.feed_id in feed_ids)
        ]
        states = store.story_alert_states(session, story_id, [r.id for r, _ in alerting_rules])
        for rule, result in alerting_rules:
            alert_id = alerting.alert_once_per_story(
                session, rule, story_id, described, result, stored, now, states.get(rule.id)
            )
            if alert_id is not None:
                report.alert_ids.append(alert_id)
                notified = notified or bool(rule.channels)
        if report.alert_ids and warc is not None:
            store.add_evidence(session, article_id, warc.data, warc.sha256, capture_time, now)
        store.write_index_terms(session, article_id, terms)
        if notified:  # only a rule with channels queues notifications
            report.notification_ids = store.notification_ids_for_alerts(session, report.alert_ids)
    log.info("processed article", extra={"article_id": article_id, "alerts": report.alert_ids})
    return report


def relay_stuck_articles(rt: Runtime) -> tuple[list[int], list[int]]:
    """Articles whose task was lost or failed: (ids to fetch, ids to process) again.

    After ``article_relay_limit`` tries an article is stored with the feed's text and the
    reason, so one poisonous page cannot loop forever, and its alerts are still created.
    After ``article_max_attempts`` tries it is failed (terminal) with the last error, and
    never re-queued: processing that raises whatever the text cannot loop either.
    """
    # Evidence retention rides on this slow tick: a small, bounded delete.
    evidence.sweep_evidence(rt)
    lease = timedelta(seconds=rt.settings.claim_lease)
    limit = rt.settings.article_relay_limit
    max_attempts = rt.settings.article_max_attempts
    to_fetch: list[int] = []
    to_process: list[int] = []
    with store.session_scope(rt.store_url) as session:
        stuck = store.stuck_article_ids(
            session, rt.now(), lease, rt.settings.articles_per_relay_tick
        )
        for article_id, fetch_status, tries in stuck:
            if tries >= max_attempts:
                _fail_article(session, article_id, tries, rt)
            elif fetch_status == FetchStatus.PENDING and tries < limit:
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


def _fail_article(session: store.Session, article_id: int, tries: int, rt: Runtime) -> None:
    article = store.get_article(session, article_id)
    last_error = article.process_error if article is not None else None
    why = last_error or "no error recorded (the task was lost or its worker killed)"
    reason = f"processing did not finish after {tries} attempts: {why}"
    store.fail_article(session, article_id, rt.now(), reason[:_REASON_CHARS])
    log.warning("article failed: %s", reason, extra={"article_id": article_id, "reason": reason})


def record_process_error(article_id: int, rt: Runtime, exc: BaseException) -> None:
    """Keep why a processing attempt raised: the reason the article shows if it fails."""
    error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:_REASON_CHARS]
    with store.session_scope(rt.store_url) as session:
        store.record_process_error(session, article_id, error)


_REASON_CHARS = 2000


def warm_up(rt: Runtime) -> None:
    """Build everything processing builds on first use: the cleaner's caches and models,
    the gazetteers, the topic automaton, the story hashing and the rule matcher.

    Called once in a worker's parent process before its pool forks, so every child
    starts warm (copy-on-write) and its first article is as fast as its hundredth.
    """
    from pipeline.stages import clean
    from pipeline.stages.extract import warm_up as warm_up_extraction
    from pipeline.stages.search import index_terms
    from pipeline.stages.stories import story_signature

    clean.warm_up()
    warm_up_extraction(rt.settings.topics_file)
    story_signature("Warm-up", "Warm-up text for the story signature of one article.")
    index_terms("Warm-up", "Warm-up text for the search index.")
    try:
        alerting.active_matcher(rt)
    except Exception as exc:  # the store may not be up yet: the first article compiles it
        log.warning("rules not compiled before the first article: %s", exc)
