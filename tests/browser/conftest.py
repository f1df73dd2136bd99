"""A real browser (Debian's headless Chromium, driven by Playwright) against a real
`newswatch serve` + `newswatch run` on an empty data directory, with a loopback site and receiver.

Nothing is downloaded: Playwright is pointed at /usr/bin/chromium (or
NEWSWATCH_TEST_CHROMIUM). Without it the tests skip with the reason, and fail instead
when NEWSWATCH_REQUIRE_SERVICES=1. Screenshots go to test-artifacts/browser/ (ignored by
git; NEWSWATCH_TEST_ARTIFACTS moves them).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, need_service
from tests.e2e.harness import Backend, newswatch_process, wait_until
from worker.loopback import SiteServer, WebhookReceiver

CHROMIUM = Path(os.environ.get("NEWSWATCH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "whsec_" + "dGVzdC1kYXNoYm9hcmQtc2VjcmV0LTAxMjM0NTY3OA=="
USER, PASSWORD = "analyst", "correct horse battery staple"


def artifacts_dir() -> Path:
    path = Path(os.environ.get("NEWSWATCH_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
    path = path / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss(title: str, items: list[tuple[str, str, str, str]]) -> str:
    now = datetime.now(UTC)
    entries = "".join(
        f"<item><title>{heading}</title><link>{{{{base}}}}/articles/{page}</link>"
        f"<guid>{guid}</guid><pubDate>{format_datetime(now - timedelta(minutes=10))}</pubDate>"
        f"<description>{summary}</description></item>"
        for heading, page, guid, summary in items
    )
    channel = f"<channel><title>{title}</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def _article(heading: str, *paragraphs: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{heading}</title></head><body><article><h1>{heading}</h1>"
        f"{body}</article></body></html>"
    )


def write_site(root: Path) -> None:
    """Two desks: the first is watched before the rule exists (the live test reads its
    article), the second after (its article raises the alert)."""
    (root / "feeds").mkdir(parents=True)
    (root / "articles").mkdir()
    # A web page that only links to its feed: adding it exercises feed discovery.
    (root / "desk.html").write_text(
        '<html><head><title>Night desk</title><link rel="alternate" '
        'type="application/rss+xml" href="{{base}}/feeds/desk.rss"></head>'
        "<body><p>The night desk's latest reports.</p></body></html>"
    )
    (root / "feeds" / "desk.rss").write_text(
        _rss(
            "Night desk",
            [("Guns fall silent in the north", "truce.html", "desk-1", "A ceasefire held.")],
        )
    )
    (root / "articles" / "truce.html").write_text(
        _article(
            "Guns fall silent as truce takes hold in the north",
            "A ceasefire agreed overnight took hold at dawn on Tuesday near Aleppo, local "
            "officials said, after four days of shelling that killed at least 23 people.",
            "Aid convoys were expected to reach the district by the evening, the officials "
            "added, while residents queued for bread in the damaged market.",
        )
    )
    (root / "feeds" / "wire.rss").write_text(
        _rss(
            "Wire",
            [("Ceasefire frays in Idlib", "idlib.html", "wire-1", "Shelling resumed.")],
        )
    )
    (root / "articles" / "idlib.html").write_text(
        _article(
            "Ceasefire frays as shelling resumes in Idlib",
            "The ceasefire in northern Syria frayed on Wednesday as shelling resumed around "
            "Idlib, killing at least 14 civilians, including five children, rescue workers said.",
            "More than 2,000 families fled towards the Turkish border overnight, the United "
            "Nations said, as aid agencies warned that camps were already full.",
        )
    )


@dataclass
class Dashboard:
    url: str  # http://127.0.0.1:PORT/dashboard
    site: SiteServer
    receiver: WebhookReceiver
    data_dir: Path
    log: Path


def _chromium_ready() -> tuple[bool, str]:
    if not CHROMIUM.is_file():
        return False, f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return False, f"playwright is not installed ({exc})"
    return True, str(CHROMIUM)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ok, detail = _chromium_ready()
    need_service("Headless Chromium", ok, detail)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Dashboard]:
    """`newswatch serve` and `newswatch run` (worker and beat) on one empty data
    directory: no feeds, no rules, nothing prepared but a dashboard user."""
    if sys.platform != "linux":
        pytest.skip("the browser tests run on Linux")
    base = tmp_path_factory.mktemp("dashboard")
    site_root, data_dir = base / "site", base / "data"
    write_site(site_root)
    site = SiteServer(site_root).start()
    # The first delivery fails, so the alert shows a failed and a successful attempt.
    receiver = WebhookReceiver(SECRET, script=[(500, {})]).start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(data_dir),
        NEWSWATCH_HTTP_ALLOW_HOSTS="127.0.0.1",
        NEWSWATCH_BEAT_INTERVAL="1",
        NEWSWATCH_DASHBOARD_USER=USER,
        NEWSWATCH_DASHBOARD_PASSWORD=PASSWORD,
    )
    log = base / "newswatch.log"
    nw = Backend("embedded", data_dir, env)
    url = f"http://127.0.0.1:{port}"
    try:
        # `serve` first: it migrates the empty store, then `run` (worker and beat) joins it.
        with ExitStack() as stack:
            stack.enter_context(newswatch_process(nw, log, "serve", f"--port={port}"))
            if not wait_until(lambda: _answers(f"{url}/healthz"), timeout=90):
                pytest.fail(f"newswatch serve did not answer:\n{log.read_text()[-3000:]}")
            stack.enter_context(newswatch_process(nw, log, "run"))
            yield Dashboard(f"{url}/dashboard", site, receiver, data_dir, log)
    finally:
        shutil.copy(log, artifacts_dir() / "newswatch.log")
        site.stop()
        receiver.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
