"""The worker layout: queue names, serving order, pools, and the routes of every task."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from worker.celery_app import TASK_ROUTES, celery_config
from worker.layout import Pool, QueueName, parse_queues, run_layout, worker_spec


def test_queues_are_served_in_priority_order_whatever_order_they_are_given() -> None:
    assert parse_queues("fetch, tick ,deliver") == (
        QueueName.TICK,
        QueueName.DELIVER,
        QueueName.FETCH,
    )


@pytest.mark.parametrize("text", ["fetch,bogus", "", " , "])
def test_an_unknown_queue_is_one_error_naming_the_known_ones(text: str) -> None:
    with pytest.raises(ConfigError, match="use one or more of tick, deliver, poll, fetch"):
        parse_queues(text)


def test_io_queues_get_threads_and_extract_gets_processes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, io_threads=20, deliver_threads=6, worker_concurrency=3)
    io = worker_spec(parse_queues("poll,fetch"), settings)
    assert (io.pool, io.concurrency) == (Pool.THREADS, 20)
    deliver = worker_spec(parse_queues("tick,deliver"), settings)
    assert (deliver.pool, deliver.concurrency) == (Pool.THREADS, 6)
    extract = worker_spec(parse_queues("extract"), settings)
    assert (extract.pool, extract.concurrency) == (Pool.PREFORK, 3)
    forced = worker_spec(parse_queues("fetch"), settings, Pool.PREFORK, 4)
    assert (forced.pool, forced.concurrency) == (Pool.PREFORK, 4)


def test_run_gives_ticks_and_deliveries_a_pool_of_their_own(tmp_path: Path) -> None:
    layout = run_layout(Settings(data_dir=tmp_path), extract_processes=1)
    queues = [spec.queues for spec in layout]
    assert queues[0] == (QueueName.TICK, QueueName.DELIVER)
    assert all(QueueName.DELIVER not in q and QueueName.TICK not in q for q in queues[1:])
    assert sorted(q for spec in queues for q in spec) == sorted(QueueName)
    assert layout[-1].concurrency == 1
    assert len({spec.name for spec in layout}) == len(layout)  # distinct Celery node names


def test_deliveries_and_ticks_never_share_a_queue_with_bulk_work() -> None:
    def queue(task: str) -> str:
        return TASK_ROUTES[task]["queue"]

    urgent = {queue("newswatch.deliver_alert"), queue("newswatch.relay_due_alerts")}
    bulk = {queue("newswatch.fetch_article"), queue("newswatch.refresh_feed")}
    assert not urgent & bulk
    assert queue("newswatch.process_article") == "extract"


def test_the_broker_serves_queues_in_order_not_round_robin(tmp_path: Path) -> None:
    config = celery_config(Settings(data_dir=tmp_path))
    assert config["broker_transport_options"]["queue_order_strategy"] == "priority"
    assert [q.name for q in config["task_queues"]] == [q.value for q in QueueName]


def test_a_poll_with_one_or_two_new_articles_is_served_before_a_backlog() -> None:
    from worker.layout import BACKLOG, BULK, URGENT, batch_priority

    # kombu's Redis transport serves priority 0 first.
    assert batch_priority(1) == batch_priority(2) == URGENT == 0
    assert URGENT < batch_priority(40) == BULK < batch_priority(500) == BACKLOG
    assert batch_priority(0) == URGENT
