"""The warm-up before fork runs only in a worker that will process articles."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from worker import warmup


def _worker(consume_from: dict[str, Any], routes: dict[str, Any] | None = None) -> Any:
    routes = {"newswatch.process_article": {"queue": "extract"}} if routes is None else routes
    conf = SimpleNamespace(task_routes=routes)
    queues = SimpleNamespace(consume_from=consume_from)
    return SimpleNamespace(app=SimpleNamespace(conf=conf, amqp=SimpleNamespace(queues=queues)))


def test_only_a_worker_on_the_extract_queue_warms_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr("pipeline.services.articles.warm_up", calls.append)
    monkeypatch.setattr(warmup, "get_runtime", lambda: "rt")
    monkeypatch.setattr(warmup.gc, "freeze", lambda: None)

    warmup.warm_up_before_fork(sender=_worker({"poll": object(), "fetch": object()}))
    assert calls == []
    warmup.warm_up_before_fork(sender=_worker({"extract": object()}))
    assert calls == ["rt"]


def test_a_worker_without_a_queue_selection_consumes_extract() -> None:
    assert warmup.consumes_extract(_worker({}))
    assert not warmup.consumes_extract(_worker({"deliver": object()}))
