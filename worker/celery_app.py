"""The Celery application, configured from newswatch settings.

Embedded defaults: kombu's filesystem transport under <data_dir>/broker. Production: Redis.
Queues: ``fetch`` for I/O-bound work (polls, page fetches, webhook deliveries, beat ticks)
and ``extract`` for CPU-bound work (cleaning, extraction, matching).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu import Exchange, Queue

from pipeline.runtime import ensure_writable_dir
from pipeline.settings import Settings, get_settings

FETCH_QUEUE = "fetch"
EXTRACT_QUEUE = "extract"

TASK_ROUTES = {
    "newswatch.refresh_due_feeds": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.refresh_feed": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.fetch_article": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.process_article": {"queue": EXTRACT_QUEUE, "routing_key": EXTRACT_QUEUE},
    "newswatch.deliver_alert": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.relay_due_alerts": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.deliver_notification": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.send_digests": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
    "newswatch.relay_stuck_articles": {"queue": FETCH_QUEUE, "routing_key": FETCH_QUEUE},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "broker_connection_retry_on_startup": True,
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
        "task_default_queue": FETCH_QUEUE,
        # Each queue gets its own exchange and key; left unset, Celery would bind both
        # queues to the default exchange and key, and every message would land in both.
        "task_queues": [
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in (FETCH_QUEUE, EXTRACT_QUEUE)
        ],
        "task_default_exchange": FETCH_QUEUE,
        "task_default_routing_key": FETCH_QUEUE,
        "task_routes": TASK_ROUTES,
        "worker_send_task_events": False,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": str((settings.data_dir / "beat-schedule").resolve()),
    }
    if settings.uses_filesystem_broker:
        broker = settings.broker_dir
        config["broker_transport_options"] = {
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "control_folder": str(broker / "control"),
        }
        # Broadcast control messages need a fanout exchange shared by every process;
        # on files they only add latency, and nothing here depends on them.
        config["worker_enable_remote_control"] = False
    else:
        # Longer than the hard time limit, so Redis never re-delivers a running task.
        config["broker_transport_options"] = {
            "visibility_timeout": max(3600, settings.task_time_limit * 4)
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


def prepare_broker(settings: Settings) -> None:
    if settings.uses_filesystem_broker:
        for name in ("queue", "control"):
            ensure_writable_dir(settings.broker_dir / name, "broker directory")


@setup_logging.connect
def _newswatch_logging(**_: Any) -> None:
    # A receiver here makes Celery leave logging to newswatch: its own format would drop
    # the ids and reasons the services log.
    from worker.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    prepare_broker(settings)
    application = Celery("newswatch", include=["worker.tasks"])
    application.conf.update(celery_config(settings))
    return application


app = create_app()
