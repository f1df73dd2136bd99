"""The whole pipeline with a real Celery worker and beat: feeds in, verified webhooks out.

Runs twice: on the embedded defaults (embedded Redis broker + SQLite) and on Redis + PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.stages.alert import generate_secret
from tests.conftest import FIXTURES
from tests.e2e.harness import backend, running_worker, wait_until
from worker.loopback import SiteServer, WebhookReceiver

pytestmark = pytest.mark.e2e

EXPECTED = {
    ("ceasefire", "/articles/ceasefire-talks.html"),
    ("evacuation", "/articles/port-evacuation.html"),
    ("evacuation", "/articles/missing-page.html"),
}


def _key(payload: dict) -> tuple[str, str]:
    data = payload["data"]
    return data["rule"]["name"], "/" + data["article"]["url"].split("/", 3)[3]


@pytest.mark.parametrize("kind", ["embedded", "services"])
def test_feeds_to_signed_webhooks(kind: str, tmp_path: Path) -> None:
    secret = generate_secret()
    site = SiteServer(FIXTURES).start()
    receiver = WebhookReceiver(secret).start()
    try:
        with backend(kind, tmp_path) as b:
            b.cli("db", "upgrade")
            for name in ("alpha.rss", "beta.atom", "gamma.rss", "broken.rss"):
                b.cli("feeds", "add", f"{site.base_url}/feeds/{name}", "--name", name, "--backfill")
            for term in ("ceasefire", "evacuation"):
                b.cli("rules", "add", term, term, "--webhook", receiver.url, "--secret", secret)

            with running_worker(b, tmp_path / "worker.log") as worker:
                arrived = (
                    wait_until(
                        lambda: (
                            len(receiver.verified) >= len(EXPECTED) or worker.poll() is not None
                        ),
                        timeout=120,
                    )
                    and worker.poll() is None
                )
                log = (tmp_path / "worker.log").read_text(errors="replace")
                assert arrived, (
                    f"only {len(receiver.verified)} alerts arrived; worker log:\n{log[-4000:]}"
                )
                # A second poll of every feed finds nothing new and must not alert again.
                for name in ("alpha.rss", "beta.atom", "gamma.rss", "broken.rss"):
                    b.cli("poll", f"{site.base_url}/feeds/{name}")
                time.sleep(4)
                assert worker.poll() is None, "the worker died"

            keys = [_key(alert.payload) for alert in receiver.verified]
            assert Counter(keys) == Counter(EXPECTED), keys
            assert receiver.rejected == []
            assert len({a.webhook_id for a in receiver.verified}) == len(EXPECTED)
            for alert in receiver.verified:
                data = alert.payload["data"]
                assert alert.payload["type"] == "alert.matched"
                assert data["matches"], data
                term = data["rule"]["name"]
                assert any(term[:6] in m["sentence"].lower() for m in data["matches"]), data[
                    "matches"
                ]
                assert "extraction" in data and "figures" in data["extraction"]

            by_page = {_key(a.payload)[1]: a.payload["data"] for a in receiver.verified}
            evacuation = by_page["/articles/port-evacuation.html"]
            assert {f["name"] for f in evacuation["article"]["feeds"]} == {"alpha.rss", "beta.atom"}
            assert evacuation["article"]["fetch_status"] == "fetched"
            assert by_page["/articles/missing-page.html"]["article"]["fetch_status"] == "fallback"
            # The page an alert fired on is kept by the worker; the CLI hands back that file.
            assert by_page["/articles/missing-page.html"]["article"]["evidence"] is None
            kept = evacuation["article"]["evidence"]
            saved = tmp_path / "page.warc.gz"
            b.cli("articles", "evidence", str(evacuation["article"]["id"]), "-o", str(saved))
            assert hashlib.sha256(saved.read_bytes()).hexdigest() == kept["sha256"]

            listed = [
                json.loads(line) for line in b.cli("alerts", "list", "--json").stdout.splitlines()
            ]
            assert sorted(row["status"] for row in listed) == ["delivered"] * len(EXPECTED)
            feeds = [
                json.loads(line) for line in b.cli("feeds", "list", "--json").stdout.splitlines()
            ]
            broken = next(f for f in feeds if f["name"] == "broken.rss")
            assert broken["error_count"] == 0 and "malformed" in (broken["last_error"] or "")
    finally:
        site.stop()
        receiver.stop()
