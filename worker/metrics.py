"""The worker's own Prometheus figures, in prometheus-client's multiprocess mode.

Active when NEWSWATCH_METRICS_DIR (or PROMETHEUS_MULTIPROC_DIR) names a directory
(`newswatch run` uses <data_dir>/metrics for its children; set it for separate workers, on a
volume the API shares): each worker process writes its counters and histograms there and the API's
/metrics adds them up. Counts of rows (alerts by status, feeds by health, queue depths) are
not here: the API reads those from the store and the broker at scrape time.
"""

from __future__ import annotations

import os
from typing import Any

from pipeline import observe
from pipeline.settings import Settings, get_settings

# name -> (kind, help, label names, buckets)
_METRICS: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...] | None]] = {
    "polls": ("counter", "Feed polls by outcome (ok, not-modified, error)", ("outcome",), None),
    "cleaning_seconds": (
        "histogram",
        "Seconds spent cleaning one article page",
        (),
        (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    ),
    "extraction_seconds": (
        "histogram",
        "Seconds spent extracting figures, topics and places from one article",
        (),
        (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    ),
    "deliveries": (
        "counter",
        "Delivery attempts by outbox (alert, notification) and result status",
        ("outbox", "status"),
        None,
    ),
    "delivery_latency_seconds": (
        "histogram",
        "Seconds from an alert's creation to its successful delivery",
        (),
        (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0),
    ),
}


class PrometheusSink:
    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.metrics: dict[str, Any] = {}
        for name, (kind, doc, labels, buckets) in _METRICS.items():
            full = f"newswatch_{name}"
            if kind == "counter":
                self.metrics[name] = Counter(full, doc, labels)
            else:
                self.metrics[name] = Histogram(full, doc, labels, buckets=buckets or ())

    def observe(self, name: str, value: float, labels: dict[str, str]) -> None:
        metric = self.metrics.get(name)
        if metric is not None:
            (metric.labels(**labels) if labels else metric).observe(value)

    def increment(self, name: str, labels: dict[str, str]) -> None:
        metric = self.metrics.get(name)
        if metric is not None:
            (metric.labels(**labels) if labels else metric).inc()


def multiprocess_dir(settings: Settings) -> str | None:
    """The directory of the workers' files: PROMETHEUS_MULTIPROC_DIR, else the setting.
    The variable is set from the setting here, before prometheus-client is first imported
    (it picks its storage when imported)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder and settings.metrics_dir is not None:
        folder = str(settings.metrics_dir.expanduser().resolve())
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder if folder and os.path.isdir(folder) else None


def install_if_enabled(settings: Settings | None = None) -> bool:
    """Install the Prometheus sink when a metrics directory is configured; True if so."""
    if multiprocess_dir(settings or get_settings()) is None:
        return False
    observe.install(PrometheusSink())
    return True
