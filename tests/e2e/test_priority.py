"""An alert delivery never waits behind bulk work, with `newswatch run` as a user starts it.

A feed lists many pages on a loopback host whose pages hang until the test lets them go, so
page fetches pile up and hold every fetch thread. An alert replayed meanwhile (a beat tick,
then a delivery) must reach the receiver while the pile is still there.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from pipeline.stages.alert import generate_secret
from tests.conftest import FIXTURES
from tests.e2e.harness import Backend, backend, newswatch_process, running_worker, wait_until
from worker.loopback import SiteServer, WebhookReceiver

pytestmark = pytest.mark.e2e

BULK_PAGES = 40
HANG_LIMIT = 90.0  # a held page answers by itself after this long, whatever the test does


def _rss(base: str, title: str, links: list[str]) -> str:
    items = "".join(
        f"<item><title>{title} {n}</title><link>{base}{link}</link><guid>{base}{link}</guid>"
        f"<pubDate>Tue, 14 May 2024 06:00:00 GMT</pubDate><description>{title} {n}.</description>"
        "</item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>{base}/</link><description>{title}</description>"
        f"{items}</channel></rss>"
    )


def _site(root: Path, pages: int) -> None:
    """A one-article wire feed and a bulk feed of ``pages`` distinct pages."""
    (root / "wire").mkdir(parents=True)
    (root / "bulk").mkdir()
    shutil.copy(FIXTURES / "stories" / "copy-a.html", root / "wire" / "landslide.html")
    other = (FIXTURES / "stories" / "other.html").read_text()
    for n in range(pages):
        # Each page its own text, so no article is a cheap copy of another.
        own = f"<p>Council bulletin {n}: item {n * 7} of the agenda was deferred to week {n}.</p>"
        (root / "bulk" / f"{n}.html").write_text(other.replace("</body>", f"{own}</body>", 1))
    (root / "wire.rss").write_text(_rss("{{base}}", "Wire", ["/wire/landslide.html"]))
    links = [f"/bulk/{n}.html" for n in range(pages)]
    (root / "bulk.rss").write_text(_rss("{{base}}", "Bulk", links))


def _alert_ids(b: Backend) -> list[int]:
    rows = [json.loads(x) for x in b.cli("alerts", "list", "--json").stdout.splitlines()]
    return [int(row["id"]) for row in rows]


@pytest.mark.parametrize("kind", ["embedded", "services"])
def test_a_delivery_overtakes_a_backlog_of_page_fetches(kind: str, tmp_path: Path) -> None:
    _site(tmp_path / "site", BULK_PAGES)
    site = SiteServer(tmp_path / "site")
    site.host = "127.0.0.77"  # apart from the receiver, so no per-host limit links the two
    release = threading.Event()
    held: list[str] = []

    def hold_bulk_pages(path: str) -> None:
        if path.startswith("/bulk/"):
            held.append(path)
            release.wait(HANG_LIMIT)

    site.on_get = hold_bulk_pages
    site.start()
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    log = tmp_path / "worker.log"
    try:
        with backend(kind, tmp_path) as b:
            b.env["NEWSWATCH_HTTP_ALLOW_HOSTS"] = "127.0.0.0/8"
            b.env["NEWSWATCH_IO_THREADS"] = "4"
            b.cli("db", "upgrade")
            b.cli(
                "rules",
                "add",
                "landslide",
                "landslide",
                "--webhook",
                receiver.url,
                "--secret",
                secret,
            )
            b.cli("feeds", "add", f"{site.base_url}/wire.rss", "--name", "wire", "--backfill")
            with running_worker(b, log):
                assert receiver.wait_for(1, 150), log.read_text()[-3000:]
                b.cli("feeds", "add", f"{site.base_url}/bulk.rss", "--name", "bulk", "--backfill")
                # The bulk feed was polled and its page fetches hold the fetch threads.
                assert wait_until(lambda: len(held) >= 1, 60), log.read_text()[-3000:]
                (alert_id,) = _alert_ids(b)
                b.cli("alerts", "replay", str(alert_id))

                assert receiver.wait_for(2, 45), (
                    f"the replayed alert waited behind the page fetches; "
                    f"log:\n{log.read_text()[-3000:]}"
                )
                replayed = receiver.verified[1]
                assert replayed.webhook_id == receiver.verified[0].webhook_id
                assert not release.is_set()
                assert site.hits.get("/bulk.rss", 0) >= 1
                fetched = sum(site.hits.get(f"/bulk/{n}.html", 0) for n in range(BULK_PAGES))
                assert fetched < BULK_PAGES  # most of the bulk is still waiting
                release.set()
    finally:
        release.set()
        site.stop()
        receiver.stop()


BACKLOG_PAGES = 300


def _articles(b: Backend) -> list[dict[str, str | None]]:
    out = b.cli("articles", "list", "--json", "--limit", str(BACKLOG_PAGES + 10)).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("kind", ["embedded", "services"])
def test_a_breaking_article_overtakes_a_backlog_of_extraction(kind: str, tmp_path: Path) -> None:
    """One new article on a quiet feed is cleaned and matched before a bulk feed's backlog
    that was queued first (priority lanes), with one extract process, as `run` starts it."""
    _site(tmp_path / "site", BACKLOG_PAGES)
    site = SiteServer(tmp_path / "site")
    site.host = "127.0.0.78"
    site.start()
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    log = tmp_path / "worker.log"
    try:
        with backend(kind, tmp_path) as b:
            b.env["NEWSWATCH_HTTP_ALLOW_HOSTS"] = "127.0.0.0/8"
            # Pages come fast, so the backlog piles up in front of the one extract process.
            b.env["NEWSWATCH_HOST_LIMITS"] = "127.0.0.78=8/0"
            b.cli("db", "upgrade")
            b.cli("rules", "add", "landslide", "landslide", "--webhook", receiver.url,
                  "--secret", secret)  # fmt: skip
            with newswatch_process(b, log, "run", "--concurrency", "1"):
                b.cli("feeds", "add", f"{site.base_url}/bulk.rss", "--name", "bulk")
                # The bulk feed's entries are stored: its backlog is queued, or being worked.
                assert wait_until(lambda: len(_articles(b)) >= BACKLOG_PAGES, 120), log.read_text()[
                    -3000:
                ]
                b.cli("feeds", "add", f"{site.base_url}/wire.rss", "--name", "wire", "--backfill")
                assert receiver.wait_for(1, 120), log.read_text()[-3000:]
                assert wait_until(
                    lambda: all(a["processed_at"] for a in _articles(b)), 300, interval=2
                ), log.read_text()[-3000:]
            articles = _articles(b)
    finally:
        site.stop()
        receiver.stop()
    assert len(articles) == BACKLOG_PAGES + 1
    (wire,) = [a for a in articles if "/wire/" in str(a["url"])]
    bulk = [a for a in articles if "/bulk/" in str(a["url"])]
    overtaken = [
        a
        for a in bulk
        if str(a["created_at"]) < str(wire["created_at"])
        and str(a["processed_at"]) > str(wire["processed_at"])
    ]
    # First in, first out would put the wire article behind every bulk article stored
    # before it; the lane lets it pass all but the few already taken by the worker.
    assert len(overtaken) >= 20, (len(overtaken), wire)
