"""The worker layout: queues, in the order a worker that consumes several serves them, and pools.

Beat ticks and deliveries never share a queue (or, in the shipped layout, a pool) with bulk
work, so an alert never waits behind page fetches. A worker given several queues takes
from the first non-empty one in this order (kombu's ``priority`` queue order, set in
celery_app), not round-robin.

Pools: the I/O queues run in a thread pool (many requests in flight per process; the HTTP
client and the database engines are thread-safe); extract runs in prefork children (CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.errors import ConfigError
from pipeline.settings import Settings


class QueueName(StrEnum):
    TICK = "tick"  # beat ticks: claim due feeds, relay due alerts and stuck articles, digests
    DELIVER = "deliver"  # alert webhooks and channel notifications
    POLL = "poll"  # one feed's conditional GET
    FETCH = "fetch"  # one article's page GET
    EXTRACT = "extract"  # clean, extract, match, store: CPU-bound


# kombu's Redis transport keeps one list per priority step (0, 3, 6, 9) and serves 0 first.
URGENT, BULK, BACKLOG = 0, 6, 9
# A poll that finds at most this many new articles is news as it breaks, not a backlog.
SMALL_BATCH = 3


def batch_priority(new_articles: int) -> int:
    """The priority of the fetch and extract work of one poll's (or relay's) new articles.

    A feed that adds an article or two gets them fetched, cleaned and matched ahead of a
    feed that lists forty at once (a new feed's backlog, a burst, a relay sweep), so a trickle
    of breaking news never queues behind bulk work on the same queues.
    """
    if new_articles <= SMALL_BATCH:
        return URGENT
    return BULK if new_articles <= 50 else BACKLOG


class Pool(StrEnum):
    AUTO = "auto"
    THREADS = "threads"
    PREFORK = "prefork"


TASK_QUEUES: dict[str, QueueName] = {
    "newswatch.refresh_due_feeds": QueueName.TICK,
    "newswatch.relay_due_alerts": QueueName.TICK,
    "newswatch.relay_stuck_articles": QueueName.TICK,
    "newswatch.send_digests": QueueName.TICK,
    "newswatch.deliver_alert": QueueName.DELIVER,
    "newswatch.deliver_notification": QueueName.DELIVER,
    "newswatch.refresh_feed": QueueName.POLL,
    "newswatch.refresh_feeds": QueueName.POLL,
    "newswatch.fetch_article": QueueName.FETCH,
    "newswatch.fetch_articles": QueueName.FETCH,
    "newswatch.process_article": QueueName.EXTRACT,
    "newswatch.process_articles": QueueName.EXTRACT,
}


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process of a layout: its queues, pool, concurrency and node name."""

    name: str
    queues: tuple[QueueName, ...]
    pool: Pool
    concurrency: int


def parse_queues(text: str) -> tuple[QueueName, ...]:
    """``tick,deliver`` -> queues in serving order; an unknown name is one ConfigError line."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {queue.value: queue for queue in QueueName}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(
            f"unknown queue {', '.join(unknown) or repr(text)}: "
            f"use one or more of {', '.join(known)} (comma-separated)"
        )
    chosen = {known[name] for name in names}
    return tuple(queue for queue in QueueName if queue in chosen)


def worker_spec(
    queues: tuple[QueueName, ...],
    settings: Settings,
    pool: Pool = Pool.AUTO,
    concurrency: int | None = None,
    name: str = "celery",
) -> WorkerSpec:
    if pool is Pool.AUTO:
        pool = Pool.PREFORK if QueueName.EXTRACT in queues else Pool.THREADS
    if concurrency is None:
        if pool is Pool.PREFORK:
            concurrency = settings.worker_concurrency
        elif {QueueName.POLL, QueueName.FETCH} & set(queues):
            concurrency = settings.io_threads
        else:
            concurrency = settings.deliver_threads
    return WorkerSpec(name, queues, pool, concurrency)


def run_layout(settings: Settings, extract_processes: int | None = None) -> list[WorkerSpec]:
    """`newswatch run`: the production split in one command, one pool per class of work."""
    return [
        worker_spec((QueueName.TICK, QueueName.DELIVER), settings, name="deliver"),
        worker_spec((QueueName.POLL, QueueName.FETCH), settings, name="io"),
        worker_spec((QueueName.EXTRACT,), settings, concurrency=extract_processes, name="extract"),
    ]
