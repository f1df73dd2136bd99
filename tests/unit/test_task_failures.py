"""How the worker's tasks record failures the services cannot see themselves: a processing
attempt that raised, and a poll cut by Celery's soft time limit. The services are swapped
at their one seam (the module the task calls); the real paths are covered by
tests/integration/services/test_article_failure.py and tests/e2e/test_time_limits.py."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from pipeline.model import PollStatus
from pipeline.services import polling
from pipeline.services.polling import PollReport
from worker import tasks


def recorded_errors(monkeypatch: pytest.MonkeyPatch, process: Any) -> list[tuple[int, str]]:
    """Processing swapped for ``process``; the errors the task records for the relay."""
    recorded: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks, "get_runtime", lambda: object())
    monkeypatch.setattr(tasks.articles, "process_article", process)
    monkeypatch.setattr(
        tasks.articles,
        "record_process_error",
        lambda article_id, rt, exc: recorded.append((article_id, str(exc))),
    )
    return recorded


def test_process_task_keeps_the_error_for_the_relay_and_still_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def always_raises(article_id: int, rt: Any) -> None:
        raise ValueError("extraction blew up")

    recorded = recorded_errors(monkeypatch, always_raises)
    with pytest.raises(ValueError, match="blew up"):
        tasks.process_article(7)
    assert recorded == [(7, "extraction blew up")]


def recorded_cuts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The feeds whose poll the task records as cut by the time limit."""
    cut: list[int] = []

    def record_poll_cut(feed_id: int, rt: Any, limit: float | None) -> PollReport:
        cut.append(feed_id)
        return PollReport(feed_id=feed_id, status=PollStatus.ERROR, error="cut")

    monkeypatch.setattr(tasks, "get_runtime", lambda: object())
    monkeypatch.setattr(tasks.polling, "record_poll_cut", record_poll_cut)
    return cut


def test_poll_cut_by_the_soft_time_limit_is_recorded_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_poll(feed_id: int, rt: Any) -> None:
        raise SoftTimeLimitExceeded()

    cut = recorded_cuts(monkeypatch)
    monkeypatch.setattr(tasks.polling, "refresh_feed", slow_poll)
    tasks.refresh_feed(3)
    assert cut == [3]


def test_batch_cut_by_the_soft_time_limit_records_each_poll_left_unfinished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def cut_batch(report: polling.PollBatchReport, rt: Any, on_stored: Any = None) -> None:
        report.polls.append(PollReport(feed_id=1, status=PollStatus.NOT_MODIFIED))
        raise SoftTimeLimitExceeded()

    cut = recorded_cuts(monkeypatch)
    monkeypatch.setattr(tasks.polling, "refresh_feeds", cut_batch)
    assert tasks.refresh_feeds([1, 2, 3]) == 3
    assert cut == [2, 3]


def test_a_task_waiting_for_a_busy_host_waits_longer_at_each_retry() -> None:
    from worker.tasks import host_busy_countdown

    waits = [host_busy_countdown(0.25, retries) for retries in range(30)]
    assert 0.25 <= waits[0] <= 0.375
    assert all(0.25 * (1 + n) <= wait <= 0.375 * (1 + n) for n, wait in enumerate(waits))
    # 30 retries cover a host's queue of a few hundred fetches, never an hour.
    assert sum(waits) > 100 and max(host_busy_countdown(5, 29), waits[-1]) <= 90


def test_one_article_failing_in_a_batch_is_recorded_and_the_rest_are_processed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.model import FetchStatus
    from pipeline.services.articles import ProcessReport

    delivered: list[int] = []

    def process(article_id: int, rt: Any) -> ProcessReport:
        if article_id == 2:
            raise ValueError("extraction blew up")
        return ProcessReport(article_id, FetchStatus.FETCHED, alert_ids=[article_id * 10])

    recorded = recorded_errors(monkeypatch, process)
    monkeypatch.setattr(tasks.deliver_alert, "delay", delivered.append)
    assert tasks.process_articles([1, 2, 3]) == 2
    assert recorded == [(2, "extraction blew up")]
    assert delivered == [10, 30]


def test_a_page_batch_sends_its_articles_on_in_groups_and_puts_off_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.services.articles import FetchBatchReport

    groups: list[list[int]] = []
    resent: list[tuple[list[int], dict[str, Any]]] = []

    def fetch(ids: list[int], rt: Any, on_ready: Any, budget: float) -> FetchBatchReport:
        report = FetchBatchReport()
        for article_id in ids[:-2]:
            report.ready.append(article_id)
            on_ready(article_id)
        report.put_off(ids[-2:], 30.0)  # the host asked for half a minute
        return report

    monkeypatch.setattr(tasks, "get_runtime", lambda: object())
    monkeypatch.setattr(tasks.articles, "fetch_articles", fetch)
    monkeypatch.setattr(
        tasks.process_articles, "apply_async", lambda args, **kw: groups.append(args[0])
    )
    monkeypatch.setattr(
        tasks.fetch_articles, "apply_async", lambda args, **kw: resent.append((args[0], kw))
    )
    ids = list(range(1, 15))
    assert tasks.fetch_articles(ids) == 12
    sizes = [len(group) for group in groups]
    assert all(size == tasks.EXTRACT_BATCH for size in sizes[:-1]) and sizes[-1] > 0
    assert sorted(a for group in groups for a in group) == ids[:-2]
    assert [args for args, _ in resent] == [[13, 14]]
    assert resent[0][1]["countdown"] >= 30.0
