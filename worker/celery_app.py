"""The Celery application, configured from newswatch settings.

Both backends use the Redis transport: production names its server with
NEWSWATCH_BROKER_URL; the embedded default is a server newswatch runs in the data directory
(pipeline.io.embedded_redis). Queues and pools: worker.layout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu import Exchange, Queue

from pipeline.settings import Settings, get_settings
from worker.layout import TASK_QUEUES, QueueName

TASK_ROUTES = {
    task: {"queue": queue.value, "routing_key": queue.value} for task, queue in TASK_QUEUES.items()
}


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        # A worker waits for its broker for as long as it is away, at start and after a
        # lost connection: `newswatch run` restarts a worker that exits, but one that exits
        # while the broker is down only exits again. (Celery gives up after 100 tries by
        # default, some 46 minutes, then stops with an "Unrecoverable error".)
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        # Celery's consumer, fixed to survive a lost connection while tasks run: see there.
        "worker_consumer": "worker.consumer:Consumer",
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "task_default_queue": QueueName.TICK.value,
        # Each queue gets its own exchange and key; left unset, Celery would bind every
        # queue to the default exchange and key, and every message would land in all.
        # Listed in serving order: a worker consumes its queues in this order.
        "task_queues": [
            Queue(name.value, Exchange(name.value, type="direct"), routing_key=name.value)
            for name in QueueName
        ],
        "task_default_exchange": QueueName.TICK.value,
        "task_default_routing_key": QueueName.TICK.value,
        "task_routes": TASK_ROUTES,
        # Task events (received, started, succeeded, failed) so Flower or `celery events`
        # can watch the tasks; with nobody listening they are dropped by the broker.
        "worker_send_task_events": True,
        # A "sent" event is one more publish per message on the sender's side, which a
        # tick enqueueing thousands of polls paid for; Flower shows tasks without it.
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": str((settings.data_dir / "beat-schedule").resolve()),
    }
    config["broker_transport_options"] = {
        # Longer than the hard time limit, so Redis never re-delivers a running task.
        "visibility_timeout": max(3600, settings.task_time_limit * 4),
        # A worker on several queues BRPOPs them in the order given (task_queues order),
        # instead of kombu's default round-robin that rotates the last-used queue to the back:
        # a tick or a delivery is taken before any waiting poll or page fetch.
        "queue_order_strategy": "priority",
    }
    return config


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Ticks: polls and outbox relays every beat_interval; the slower sweeps less often."""
    fast = timedelta(seconds=settings.beat_interval)
    slow = timedelta(seconds=max(settings.beat_interval, 30))
    ticks = {
        "refresh-due-feeds": ("newswatch.refresh_due_feeds", fast),
        "relay-due-alerts": ("newswatch.relay_due_alerts", fast),
        "relay-stuck-articles": ("newswatch.relay_stuck_articles", slow),
        "send-digests": ("newswatch.send_digests", slow),
    }
    return {
        name: {
            "task": task,
            "schedule": every,
            # A tick that waited this long is stale: the next one does the same work.
            "options": {"expires": max(every.total_seconds() * 3, 30)},
        }
        for name, (task, every) in ticks.items()
    }


@setup_logging.connect
def _newswatch_logging(**_: Any) -> None:
    # A receiver here makes Celery leave logging to newswatch: its own format would drop
    # the ids and reasons the services log.
    from worker.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    application = Celery("newswatch", include=["worker.tasks"])
    application.conf.update(celery_config(settings))
    return application


app = create_app()
