"""/metrics scraped from `newswatch run --serve` while real worker processes poll, clean,
extract and deliver: the store and queue figures and every worker's own counters and
histograms (multiprocess mode) add up in one scrape."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.stages.alert import generate_secret
from tests.conftest import FIXTURES
from tests.e2e.harness import backend, newswatch_process, wait_until
from worker.loopback import SiteServer, WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_add_up_the_work_of_every_worker_process(tmp_path: Path) -> None:
    secret = generate_secret()
    site = SiteServer(FIXTURES).start()
    receiver = WebhookReceiver(secret).start()
    port = _free_port()
    log = tmp_path / "run.log"
    try:
        with backend("embedded", tmp_path) as b:
            b.cli("rules", "add", "landslide", "landslide", "--webhook", receiver.url,
                  "--secret", secret)  # fmt: skip
            for name in ("courier.rss", "tribune.rss", "ledger.rss"):
                b.cli("feeds", "add", f"{site.base_url}/stories/{name}", "--backfill")
            with newswatch_process(b, log, "run", "--serve", "--port", str(port)):
                assert receiver.wait_for(1, timeout=120), log.read_text()[-3000:]

                def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                    return _samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)

                # The attempt is recorded just after the receiver answered; the other three
                # articles need not be processed before the one that alerts (each feed's
                # articles go on as soon as that feed is stored, in any order).
                def settled() -> bool:
                    now = scraped()
                    return (
                        now.get(("newswatch_delivery_latency_seconds_count", ()), 0) >= 1
                        and now.get(("newswatch_articles_processed_total", ()), 0) >= 4
                    )

                assert wait_until(settled, timeout=60), log.read_text()[-3000:]
                found = scraped()
    finally:
        receiver.stop()
        site.stop()

    assert found[("newswatch_feeds", (("health", "ok"),))] == 3
    assert found[("newswatch_alerts", (("status", "delivered"),))] == 1
    assert found[("newswatch_articles_processed_total", ())] == 4
    assert found[("newswatch_polls_total", (("outcome", "ok"),))] >= 3
    assert found[("newswatch_cleaning_seconds_count", ())] >= 1
    assert found[("newswatch_extraction_seconds_count", ())] >= 4
    delivered = (("outbox", "alerts"), ("status", "delivered"))
    assert found[("newswatch_deliveries_total", delivered)] == 1
    assert ("newswatch_queue_depth", (("queue", "extract"),)) in found
    assert "Traceback" not in log.read_text()
