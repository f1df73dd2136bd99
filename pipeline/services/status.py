"""Is newswatch ready to work: the store reachable and migrated, the broker answering;
and the figures /metrics reads from them at scrape time."""

from __future__ import annotations

from typing import Any

from pipeline.errors import NewswatchError
from pipeline.io.broker import broker_problem, queue_depths
from pipeline.io.store.migrate import HEAD_REVISION, current_revision
from pipeline.runtime import Runtime
from pipeline.settings import mask_password


def readiness(rt: Runtime) -> dict[str, Any]:
    """``{"ready": bool, "store": "ok" | why, "broker": "ok" | why}``."""
    store = _store_problem(rt) or "ok"
    broker = broker_problem(rt.settings) or "ok"
    return {"ready": store == "ok" and broker == "ok", "store": store, "broker": broker}


def _store_problem(rt: Runtime) -> str | None:
    try:
        revision = current_revision(rt.store_url)
    except NewswatchError as exc:
        return str(exc)
    if revision is None:
        return f"the store {mask_password(rt.store_url)} has no schema yet (newswatch db upgrade)"
    if revision < HEAD_REVISION:
        return f"the store is at migration {revision}, newswatch needs {HEAD_REVISION}"
    return None


def broker_queue_depths(rt: Runtime, queues: tuple[str, ...]) -> dict[str, int]:
    return queue_depths(rt.settings, queues)
