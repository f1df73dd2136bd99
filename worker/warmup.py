"""Warm-up before the pool forks: a worker that consumes the extract queue builds the
cleaner's caches, the gazetteers, the topic automaton and the rule matcher once, in its
parent process, so every child inherits them (copy-on-write) instead of building them on
its first article."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from celery.signals import worker_init

from pipeline.runtime import get_runtime

log = logging.getLogger("newswatch")

PROCESS_TASK = "newswatch.process_article"


def consumes_extract(worker: Any) -> bool:
    """Whether this worker will process articles (no queue selection means every queue)."""
    app = worker.app
    route = app.conf.task_routes.get(PROCESS_TASK, {}) if app.conf.task_routes else {}
    queue = route.get("queue")
    selected = app.amqp.queues.consume_from
    return queue is None or not selected or queue in selected


@worker_init.connect
def warm_up_before_fork(sender: Any = None, **_: Any) -> None:
    if sender is None or not consumes_extract(sender):
        return
    from pipeline.services.articles import warm_up

    started = time.monotonic()
    warm_up(get_runtime())
    # Objects built so far never change: keeping them out of the collector's scans stops
    # it from touching (and so copying) their pages in every child.
    gc.freeze()
    log.info("warmed up before fork in %.1f s", time.monotonic() - started)
