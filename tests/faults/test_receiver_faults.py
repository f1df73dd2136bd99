"""Receivers that fail: 500 then 200, refusing connections, hanging, 429 with Retry-After,
410 — each behind its own rule, all in one real worker run per backend, the two backends
side by side. Every alert a receiver can take arrives, under the webhook-id its first
attempt carried."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.harness import Backend, backend, newswatch_process, wait_until
from tests.faults.conftest import Measure
from tests.faults.servers import free_port, install_tripwire
from tests.faults.world import (
    Concurrent,
    Outcome,
    add_feed,
    alerts,
    assert_promise,
    attempt,
    newsroom,
    store_rows,
    tail,
    wait_for_alerts,
)
from worker.loopback import HANG, WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

KINDS = ["services", "embedded"]
STORIES = 3
RETRY_AFTER = 8


def _retry_gaps(b: Backend, rule: str) -> list[float]:
    """For each of the rule's alerts that was tried more than once: seconds from its first
    attempt to its second."""
    gaps = []
    for row in alerts(b):
        if row["rule"] == rule and row["attempts"] > 1:
            shown = json.loads(b.cli("alerts", "show", str(row["id"]), "--json").stdout)
            times = sorted(datetime.fromisoformat(str(a["at"])) for a in shown["deliveries"])
            gaps.append((times[1] - times[0]).total_seconds())
    return gaps


def _receivers_fail(kind: str, tmp_path: Path, out: Outcome) -> None:
    log = tmp_path / "worker.log"
    with (
        backend(kind, tmp_path) as b,
        newsroom(b, b.data_dir / "site", STORIES, script=[(500, {})]) as room,
    ):
        tripwire = install_tripwire(tmp_path / "tripwire", b.env)
        secret = room.receiver.secret
        hanging = WebhookReceiver(secret, script=[(HANG, {"seconds": "20"})]).start()
        throttled = WebhookReceiver(
            secret, script=[(429, {"Retry-After": str(RETRY_AFTER)})]
        ).start()
        gone = WebhookReceiver(secret, script=[(410, {})] * STORIES).start()
        refused = WebhookReceiver(secret)
        refused_port = free_port()
        refused_url = f"http://127.0.0.1:{refused_port}/hooks/newswatch"
        try:
            for name, url in [
                ("hanging", hanging.url),
                ("throttled", throttled.url),
                ("gone", gone.url),
                ("refused", refused_url),
            ]:
                b.cli("rules", "add", name, "ceasefire", "--webhook", url, "--secret", secret)
            add_feed(b, room.feed_url(), "news")
            with newswatch_process(b, log, "run", "--concurrency", "2") as worker:
                # Nothing listens on the refused receiver's port until its first attempt
                # has been recorded as a failure.
                # Read from the store, not the CLI: the receiver must be up before the
                # retry 5 s later.
                refused_failed = wait_until(
                    lambda: bool(
                        store_rows(
                            b,
                            "SELECT 1 FROM alerts a JOIN rules r ON r.id = a.rule_id "
                            "WHERE r.name = 'refused' AND a.attempts > 0",
                        )
                    ),
                    150,
                    interval=0.2,
                )
                assert refused_failed, tail(log)
                refused.start(refused_port)
                back_at = time.monotonic()
                receivers = [room.receiver, hanging, throttled, refused]
                took = wait_for_alerts(receivers, 4 * STORIES, timeout=120)
                assert took is not None, tail(log)
                assert worker.poll() is None
                time.sleep(3)  # a few more relay ticks: the gone endpoint stays untouched
                throttled_gaps = _retry_gaps(b, "throttled")
            out.note("refused, then up", f"all delivered {took:.1f} s after the receiver came up")
            out.note("all receivers", f"{time.monotonic() - back_at:.1f} s to the last alert")
            expected = {"ceasefire": STORIES, "hanging": STORIES, "throttled": STORIES}
            expected["refused"] = STORIES
            assert_promise(expected, *receivers, log=log)
            # Each retry carried the webhook-id of the alert it retried.
            for receiver in receivers:
                delivered = {a.webhook_id for a in receiver.verified}
                assert set(receiver.attempt_ids) == delivered, receiver.url
            assert throttled_gaps, "the throttled alert was never retried"
            waited = min(throttled_gaps)
            assert waited >= RETRY_AFTER * 0.9, f"Retry-After {RETRY_AFTER}: retried after {waited}"
            out.note("429 Retry-After 8", f"retried after {waited:.1f} s")
            # 410: no retry, the alerts are dead and the endpoint switched off.
            assert gone.verified == [] and gone.requests <= STORIES
            gone_rows = [r for r in alerts(b) if r["rule"] == "gone"]
            assert not any(r["status"] == "delivered" for r in gone_rows), gone_rows
            assert any(r["status"] == "dead" for r in gone_rows), gone_rows
            assert "endpoint DISABLED" in b.cli("rules", "list").stdout
            assert tripwire.read_text() == ""
        finally:
            for server in (hanging, throttled, gone, refused):
                server.stop()


@pytest.fixture(scope="module")
def receiver_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Concurrent[Outcome]]:
    """Both backends at once: most of a run is waiting on retry delays and timeouts."""
    runs = Concurrent(
        {
            kind: functools.partial(
                attempt,
                functools.partial(
                    _receivers_fail, kind, tmp_path_factory.mktemp(f"receivers-{kind}")
                ),
            )
            for kind in KINDS
        }
    )
    yield runs
    runs.join()


@pytest.mark.parametrize("kind", KINDS)
def test_receivers_that_fail(
    kind: str, receiver_runs: Concurrent[Outcome], measure: Measure
) -> None:
    receiver_runs.result(kind).report(measure)
