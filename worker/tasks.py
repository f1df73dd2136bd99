"""Celery tasks: each maps an id to one pipeline.services function, then enqueues follow-ups.

Follow-up work is enqueued only after the service function returned, i.e. after its
transaction committed. Expected failures are recorded in the store by the services; a
task retries only for transient trouble (database busy, broker hiccup).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_process_init

from pipeline import observe
from pipeline.errors import HostBusyError, NotFoundError, StoreUnavailableError
from pipeline.runtime import Runtime, get_runtime, start_worker_process
from pipeline.services import articles, delivery, digests, polling
from worker import warmup  # noqa: F401  (connects the warm-up before the pool forks)
from worker.celery_app import app
from worker.layout import SMALL_BATCH, batch_priority
from worker.metrics import install_if_enabled

log = logging.getLogger("newswatch.tasks")
# Prometheus figures of this worker (poll outcomes, stage times, delivery latency), when
# PROMETHEUS_MULTIPROC_DIR is set; forked children keep the sink and write their own files.
install_if_enabled()
T = TypeVar("T")

_RETRY = {"max_retries": 5, "countdown": 5}


@worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    start_worker_process()


def _run(task: Task, work: Callable[[], T], **ids: int) -> T | None:
    try:
        return work()
    except NotFoundError as exc:
        log.info("skipped: %s", exc, extra=ids)
        return None
    except StoreUnavailableError as exc:
        raise task.retry(exc=exc, **_RETRY) from exc
    except HostBusyError as exc:
        # Nothing was sent; a short countdown, since long waits belong in the store.
        countdown = host_busy_countdown(exc.retry_in, task.request.retries or 0)
        raise task.retry(exc=exc, countdown=countdown, max_retries=30) from exc


def host_busy_countdown(retry_in: float, retries: int) -> float:
    """How long a task waits for a busy host: longer at each retry.

    Forty fetches for one host (a feed's new pages) that all came back every 0.3 s cost the
    I/O worker 3-4 task runs per fetch of CPU (bench_pipeline); growing waits need a few,
    and the first in line still gets the next free slot.
    """
    return min(retry_in * (1 + retries), 60.0) * random.uniform(1.0, 1.5)


def _priority(task: Task) -> int | None:
    """The priority this task was sent with, for the follow-up of the same article."""
    return (task.request.delivery_info or {}).get("priority")


def _record_safely(
    record: Callable[[int, Runtime, BaseException], None], item_id: int, exc: BaseException
) -> None:
    """Record a failure without hiding the error being handled (the store may be down)."""
    try:
        record(item_id, get_runtime(), exc)
    except Exception:
        log.exception("could not record the failure")


@app.task(name="newswatch.refresh_due_feeds", bind=True)
def refresh_due_feeds(self: Task) -> int:
    def enqueue(feeds: list[polling.DueFeed]) -> None:
        # One message per batch of feeds due within a moment of each other, all sent over
        # one producer; a batch starts when its last feed is due (at most a beat away).
        now = get_runtime().now()
        batches = polling.poll_batches(feeds)
        with app.producer_or_acquire() as producer:
            for batch in batches:
                countdown = max(0.0, (batch[-1].due_at - now).total_seconds())
                refresh_feeds.apply_async(
                    ([feed.feed_id for feed in batch],),
                    countdown=countdown or None,
                    producer=producer,
                )

    report = _run(self, lambda: polling.refresh_due_feeds(get_runtime(), enqueue))
    return len(report.feed_ids) if report else 0


@app.task(name="newswatch.refresh_feeds", bind=True)
def refresh_feeds(self: Task, feed_ids: list[int]) -> int:
    report = polling.PollBatchReport(list(feed_ids))
    followed: set[int] = set()

    def stored(poll: polling.PollReport) -> None:
        # A feed's new articles go on as soon as its entries are committed, not after
        # the whole batch: a breaking article does not wait for two dozen other feeds.
        _follow_up(poll)
        followed.add(poll.feed_id)

    try:
        _run(self, lambda: polling.refresh_feeds(report, get_runtime(), stored))
    except SoftTimeLimitExceeded:
        # As for one feed: every poll of the batch still running is a failed poll.
        limit = app.conf.task_soft_time_limit
        for feed_id in report.unfinished():
            report.polls.append(polling.record_poll_cut(feed_id, get_runtime(), limit))
    for feed_id, retry_in in report.busy:
        # Its host was busy for a moment: that feed alone, shortly, as refresh_feed retries.
        refresh_feed.apply_async((feed_id,), countdown=host_busy_countdown(retry_in, 0))
    for poll in report.polls:
        if poll.feed_id not in followed:
            _follow_up(poll)
    return len(report.polls)


@app.task(name="newswatch.refresh_feed", bind=True)
def refresh_feed(self: Task, feed_id: int) -> None:
    try:
        report = _run(self, lambda: polling.refresh_feed(feed_id, get_runtime()), feed_id=feed_id)
    except SoftTimeLimitExceeded:
        # A poll held past the soft limit is a failed poll: backoff and a reason, so the
        # same feed does not take a worker child for the whole limit at every tick.
        report = polling.record_poll_cut(feed_id, get_runtime(), app.conf.task_soft_time_limit)
    if report is not None:
        _follow_up(report)


def _follow_up(report: polling.PollReport) -> None:
    """Count the poll, fetch its new articles (a poll's few first), notify the operator."""
    observe.count("polls", outcome=str(report.status))
    fetch_all(report.new_article_ids)
    for notification_id in report.notification_ids:
        deliver_notification.delay(notification_id)


# Pages per fetch_articles message: a feed's backlog or a burst in a few messages, each
# small enough to finish well within the time limit at the default per-host gap.
PAGE_BATCH = 100


def fetch_all(article_ids: list[int], priority: int | None = None) -> None:
    """Fetch new articles' pages: a few one message each, at once; more in batches."""
    if priority is None:
        priority = batch_priority(len(article_ids))
    if len(article_ids) <= SMALL_BATCH:
        for article_id in article_ids:
            fetch_article.apply_async((article_id,), priority=priority)
        return
    for start in range(0, len(article_ids), PAGE_BATCH):
        chunk = article_ids[start : start + PAGE_BATCH]
        fetch_articles.apply_async((chunk,), priority=priority)


@app.task(name="newswatch.fetch_articles", bind=True)
def fetch_articles(self: Task, article_ids: list[int]) -> int:
    """Many pages in one task: each host's pages in turn, each as soon as its host allows,
    and their processing sent on in groups as they arrive.

    A task per page that finds its host busy goes back to the broker to be retried; for a
    feed's forty new pages on one host that cost the I/O worker several task runs per page.
    """
    priority = _priority(self)
    waiting: list[int] = []
    lock = threading.Lock()

    def send(chunk: list[int]) -> None:
        if chunk:
            process_articles.apply_async((chunk,), priority=priority)

    def ready(article_id: int) -> None:
        with lock:
            waiting.append(article_id)
            if len(waiting) < EXTRACT_BATCH:
                return
            chunk = waiting[:]
            waiting.clear()
        send(chunk)

    budget = app.conf.task_soft_time_limit / 2
    try:
        report = _run(
            self, lambda: articles.fetch_articles(article_ids, get_runtime(), ready, budget)
        )
    finally:
        with lock:
            chunk = waiting[:]
            waiting.clear()
        send(chunk)  # also when cut: what was stored is processed
    later = report.later if report else []
    if later:
        countdown = max(retry_in for _, retry_in in later)
        fetch_articles.apply_async(
            ([article_id for article_id, _ in later],),
            countdown=host_busy_countdown(countdown, 0) if countdown else None,
            priority=priority,
        )
    return len(report.ready) if report else 0


@app.task(name="newswatch.fetch_article", bind=True)
def fetch_article(self: Task, article_id: int) -> None:
    status = _run(
        self, lambda: articles.fetch_article(article_id, get_runtime()), article_id=article_id
    )
    if status is not None:
        process_article.apply_async((article_id,), priority=_priority(self))


@app.task(name="newswatch.process_article", bind=True)
def process_article(self: Task, article_id: int) -> None:
    try:
        report = _run(
            self, lambda: articles.process_article(article_id, get_runtime()), article_id=article_id
        )
    except Retry:
        raise
    except Exception as exc:
        # Kept for the relay: after article_max_attempts the article fails with this reason.
        _record_safely(articles.record_process_error, article_id, exc)
        raise
    if report is not None:
        _deliver(report)


# Articles per process_articles message from a batch of page fetches: Celery's cost per
# message (the prefork parent's hand-over, the child's run and ack) is paid once per
# group; small, so a breaking article waits for at most a few bulk ones in each child.
EXTRACT_BATCH = 3


@app.task(name="newswatch.process_articles", bind=True)
def process_articles(self: Task, article_ids: list[int]) -> int:
    """process_article for a few bulk articles, each in its own transaction."""
    done = 0
    for index, article_id in enumerate(article_ids):
        try:
            report = articles.process_article(article_id, get_runtime())
        except NotFoundError as exc:
            log.info("skipped: %s", exc, extra={"article_id": article_id})
            continue
        except StoreUnavailableError as exc:
            raise self.retry(args=(article_ids[index:],), exc=exc, **_RETRY) from exc
        except SoftTimeLimitExceeded:
            raise  # the rest stays unprocessed, for the relay
        except Exception as exc:
            # One article's failure is its own: recorded for the relay, the rest go on.
            log.exception("processing failed", extra={"article_id": article_id})
            _record_safely(articles.record_process_error, article_id, exc)
            continue
        _deliver(report)
        done += 1
    return done


def _deliver(report: articles.ProcessReport) -> None:
    for alert_id in report.alert_ids:
        deliver_alert.delay(alert_id)
    for notification_id in report.notification_ids:
        deliver_notification.delay(notification_id)


@app.task(name="newswatch.deliver_alert", bind=True)
def deliver_alert(self: Task, alert_id: int) -> None:
    _run(self, lambda: delivery.deliver_alert(alert_id, get_runtime()), alert_id=alert_id)


@app.task(name="newswatch.deliver_notification", bind=True)
def deliver_notification(self: Task, notification_id: int) -> None:
    _run(
        self,
        lambda: delivery.deliver_notification(notification_id, get_runtime()),
        notification_id=notification_id,
    )


@app.task(name="newswatch.relay_due_alerts", bind=True)
def relay_due_alerts(self: Task) -> int:
    alert_ids = _run(self, lambda: delivery.relay_due_alerts(get_runtime())) or []
    for alert_id in alert_ids:
        deliver_alert.delay(alert_id)
    notification_ids = _run(self, lambda: delivery.relay_due_notifications(get_runtime())) or []
    for notification_id in notification_ids:
        deliver_notification.delay(notification_id)
    return len(alert_ids) + len(notification_ids)


@app.task(name="newswatch.relay_stuck_articles", bind=True)
def relay_stuck_articles(self: Task) -> int:
    found = _run(self, lambda: articles.relay_stuck_articles(get_runtime()))
    to_fetch, to_process = found or ([], [])
    priority = batch_priority(len(to_fetch) + len(to_process))
    fetch_all(to_fetch, priority)
    for article_id in to_process:
        process_article.apply_async((article_id,), priority=priority)
    return len(to_fetch) + len(to_process)


@app.task(name="newswatch.send_digests", bind=True)
def send_digests(self: Task) -> int:
    notification_ids = _run(self, lambda: digests.send_digests(get_runtime())) or []
    for notification_id in notification_ids:
        deliver_notification.delay(notification_id)
    return len(notification_ids)
