"""/metrics in the Prometheus text format.

Counts are read from the store and the broker at scrape time by a custom collector, so
they are right however many worker processes (or machines) do the work and survive every
restart. Figures only a worker process sees as it works (poll outcomes, cleaning and
extraction times, delivery latency) are recorded by the workers in prometheus-client's
multiprocess mode, in the directory named by NEWSWATCH_METRICS_DIR (or
PROMETHEUS_MULTIPROC_DIR), and read from there when the API shares it (``newswatch run
--serve`` does; see the README).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline.errors import NewswatchError
from pipeline.runtime import Runtime
from pipeline.services import browse, status
from worker.metrics import multiprocess_dir

log = logging.getLogger("newswatch")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_QUEUES = ("fetch", "extract")


def task_queues() -> tuple[str, ...]:
    """The queues the Celery app routes tasks to (read from it, so a new queue shows)."""
    try:
        from worker.celery_app import TASK_ROUTES
    except Exception:  # the broker config failed to load: still report the known queues
        return DEFAULT_QUEUES
    return tuple(sorted({route["queue"] for route in TASK_ROUTES.values()} | set(DEFAULT_QUEUES)))


class StoreCollector(Collector):
    """Rows by state in the store, and messages waiting in the broker, at scrape time."""

    def __init__(self, rt: Runtime, queues: tuple[str, ...]) -> None:
        self.rt = rt
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily(
            "newswatch_scrape_source_up",
            "1 when the source answered this scrape",
            labels=["source"],
        )
        try:
            counts = browse.counts(self.rt)
        except NewswatchError as exc:
            log.warning("metrics: cannot read the store: %s", exc)
            up.add_metric(["store"], 0)
        else:
            up.add_metric(["store"], 1)
            yield from _store_families(counts)
        try:
            depths = status.broker_queue_depths(self.rt, self.queues)
        except Exception as exc:  # an unreachable broker must not break the scrape
            log.warning("metrics: cannot read the broker: %s", exc)
            up.add_metric(["broker"], 0)
        else:
            up.add_metric(["broker"], 1)
            depth = GaugeMetricFamily(
                "newswatch_queue_depth", "Task messages waiting in a queue", labels=["queue"]
            )
            for queue, size in sorted(depths.items()):
                depth.add_metric([queue], size)
            yield depth
        yield up


def _store_families(counts: dict[str, object]) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    def gauge(name: str, doc: str, label: str, values: object) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=[label])
        for key, value in sorted(dict(values).items()):  # type: ignore[call-overload]
            family.add_metric([str(key)], float(value))
        return family

    yield gauge("newswatch_feeds", "Watched feeds by health", "health", counts["feeds"])
    yield gauge("newswatch_rules", "Rules by state", "state", counts["rules"])
    articles = dict(counts["articles"])  # type: ignore[call-overload]
    processed = articles.pop("processed", 0)
    yield gauge("newswatch_articles", "Stored articles by fetch status", "fetch_status", articles)
    done = CounterMetricFamily(
        "newswatch_articles_processed", "Articles cleaned, extracted and matched"
    )
    done.add_metric([], float(processed))
    yield done
    stories = GaugeMetricFamily("newswatch_stories", "Stories (near-duplicates grouped)")
    stories.add_metric([], float(counts["stories"]))  # type: ignore[arg-type]
    yield stories
    yield gauge("newswatch_alerts", "Alerts by outbox status", "status", counts["alerts"])
    yield gauge(
        "newswatch_notifications",
        "Channel messages and digests by outbox status",
        "status",
        counts["notifications"],
    )
    attempts = CounterMetricFamily(
        "newswatch_delivery_attempts", "Delivery attempts by outcome", labels=["outcome"]
    )
    for outcome, value in sorted(dict(counts["delivery_attempts"]).items()):  # type: ignore[call-overload]
        attempts.add_metric([outcome], float(value))
    yield attempts


def build_registry(rt: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(rt, task_queues()))
    folder = multiprocess_dir(rt.settings)
    if folder is not None:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
