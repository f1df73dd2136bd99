"""Delivery with a real worker: a scripted receiver, an injected clock, stories and updates.

The worker's clock is wall time plus the seconds in a file the test writes
(NEWSWATCH_CLOCK_OFFSET_FILE), so the whole retry schedule runs without waiting.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.stages.alert import generate_secret
from tests.conftest import FIXTURES
from tests.e2e.harness import Backend, backend, running_worker, wait_until
from worker.loopback import HANG, SiteServer, WebhookReceiver

pytestmark = pytest.mark.e2e


def _attempts(b: Backend, rule: str) -> int:
    rows = [json.loads(x) for x in b.cli("alerts", "list", "--json").stdout.splitlines()]
    return max((row["attempts"] for row in rows if row["rule"] == rule), default=0)


@pytest.mark.parametrize("kind", ["embedded", "services"])
def test_retries_410_stories_and_updates(kind: str, tmp_path: Path) -> None:
    secret = generate_secret()
    site = SiteServer(FIXTURES).start()
    flaky = WebhookReceiver(
        secret, script=[(500, {}), (429, {"Retry-After": "120"}), (HANG, {"seconds": "6"})]
    ).start()
    gone = WebhookReceiver(secret, script=[(410, {})]).start()
    clock = tmp_path / "clock-offset"
    clock.write_text("0")
    offset = 0.0

    def advance(seconds: float) -> None:
        nonlocal offset
        offset += seconds
        clock.write_text(str(offset))

    try:
        with backend(kind, tmp_path) as b:
            b.env["NEWSWATCH_CLOCK_OFFSET_FILE"] = str(clock)
            b.env["NEWSWATCH_WEBHOOK_TIMEOUT"] = "2"
            b.cli("db", "upgrade")
            b.cli(
                "rules", "add", "landslide", "landslide", "--webhook", flaky.url, "--secret", secret
            )
            b.cli("rules", "add", "gone", "landslide", "--webhook", gone.url, "--secret", secret)
            for name in ("courier.rss", "tribune.rss", "ledger.rss"):
                b.cli(
                    "feeds", "add", f"{site.base_url}/stories/{name}", "--name", name, "--backfill"
                )

            with running_worker(b, tmp_path / "worker.log") as worker:
                log = tmp_path / "worker.log"
                # Each failure is followed by a jump of the clock past the next retry time.
                for attempt in (1, 2, 3):
                    recorded = wait_until(
                        lambda n=attempt: _attempts(b, "landslide") >= n, 90, interval=3
                    )
                    assert recorded, (
                        f"attempt {attempt} was never recorded; log:\n{log.read_text()[-3000:]}"
                    )
                    advance(11 * 3600)
                assert wait_until(lambda: len(flaky.verified) >= 1, 90), log.read_text()[-3000:]
                assert gone.requests == 1

                b.cli(
                    "feeds",
                    "add",
                    f"{site.base_url}/stories/courier-update.rss",
                    "--name",
                    "upd",
                    "--backfill",
                )
                advance(60)
                assert wait_until(lambda: len(flaky.verified) >= 2, 90), log.read_text()[-3000:]
                advance(11 * 3600)
                wait_until(lambda: False, 4)  # a few more ticks: nothing else may arrive
                assert worker.poll() is None

            assert flaky.requests == 5 and len(flaky.verified) == 2
            first, second = (a.payload["data"] for a in flaky.verified)
            assert first["story"]["kind"] == "new" and second["story"]["kind"] == "update"
            assert first["story"]["id"] == second["story"]["id"]
            revised = second["story"]["changes"]["revised_figures"]
            assert [(r["category"], r["from"], r["to"]) for r in revised] == [
                ("killed", 23, 31),
                ("injured", 301, 412),
            ]
            assert flaky.rejected == [] and gone.requests == 1

            dead = [
                json.loads(x)
                for x in b.cli("alerts", "list", "--failed", "--json").stdout.splitlines()
            ]
            assert {row["rule"] for row in dead} == {"gone"}
            assert any("410" in (row["last_error"] or "") for row in dead)
            rules = b.cli("rules", "list").stdout
            assert "endpoint DISABLED" in rules
    finally:
        site.stop()
        flaky.stop()
        gone.stop()
