"""The broker seen from outside Celery: is it reachable, how many messages wait per queue.

Read at scrape time by /metrics and /readyz, so the figures are right however many worker
processes run. The broker is Redis (the embedded server or a configured one): kombu keeps
a queue as a list, plus one list per priority step.
"""

from __future__ import annotations

from pipeline.runtime import broker_redis
from pipeline.settings import Settings, mask_password

# kombu's Redis transport: a message with a priority goes to "<queue>\x06\x16<step>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_depths(settings: Settings, queues: tuple[str, ...]) -> dict[str, int]:
    """Messages waiting in each queue (not counting those a worker has taken); zeros when
    the embedded broker is not running (nothing can be queued then)."""
    client = broker_redis(settings)
    if client is None:
        return dict.fromkeys(queues, 0)
    with client.pipeline() as pipe:
        for queue in queues:
            pipe.llen(queue)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
        sizes = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {
        queue: int(sum(sizes[i * per_queue : (i + 1) * per_queue]))
        for i, queue in enumerate(queues)
    }


def broker_problem(settings: Settings) -> str | None:
    """Why the broker cannot be reached, or None when it answers."""
    client = broker_redis(settings)
    if client is None:
        return "the embedded broker is not running (it starts with `newswatch run`)"
    try:
        client.ping()
    except Exception as exc:  # redis raises many types; one line is what is needed
        return f"cannot reach the broker at {mask_password(settings.celery_broker_url)}: {exc}"
    return None
