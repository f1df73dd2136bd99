"""An article whose processing always raises ends failed, with its reason, and stays failed.

The services are called as the worker's tasks call them (the process task keeps the error
of an attempt that raised); the relay runs on an injected clock. Processing here fails the
way a broken deployment makes it fail: the topics file it reads is not valid YAML.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.model import ArticleState
from pipeline.runtime import Runtime, http_client_for
from pipeline.services import articles, catalog, polling, reports
from pipeline.settings import Settings
from tests.conftest import REPO_ROOT
from tests.integration.services.support import Clock
from worker.loopback import SiteServer


@pytest.fixture
def broken_rt(store_url: str, tmp_path: Path, clock: Clock) -> Runtime:
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics: [never closed\n")
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        topics_file=topics,
        article_relay_limit=2,
        article_max_attempts=4,
    )
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=clock)


def _process_as_the_task_does(article_id: int, rt: Runtime) -> None:
    try:
        articles.process_article(article_id, rt)
    except Exception as exc:
        articles.record_process_error(article_id, rt, exc)
    else:
        raise AssertionError("processing was expected to raise")


def test_always_failing_article_ends_failed_with_its_reason(
    broken_rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    rt = broken_rt
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    new_ids = polling.refresh_feed(int(feed.id), rt).new_article_ids  # type: ignore[arg-type]
    article_id = new_ids[0]
    articles.fetch_article(article_id, rt)
    _process_as_the_task_does(article_id, rt)

    relays = 0
    for _ in range(20):  # bounded: a loop forever is the bug under test
        clock.advance(seconds=rt.settings.claim_lease + 1)
        to_fetch, to_process = articles.relay_stuck_articles(rt)
        queued = article_id in to_fetch or article_id in to_process
        if not queued:
            break
        relays += 1
        _process_as_the_task_does(article_id, rt)
    assert relays == rt.settings.article_max_attempts

    [row] = [r for r in reports.list_articles(rt, ArticleState.FAILED) if r["id"] == article_id]
    assert row["state"] == ArticleState.FAILED
    assert "after 4 attempts" in row["error"] and "TopicConfigError" in row["error"]
    # Never re-queued again, however long it waits.
    for _ in range(3):
        clock.advance(seconds=rt.settings.claim_lease + 1)
        to_fetch, to_process = articles.relay_stuck_articles(rt)
        assert article_id not in to_fetch + to_process
    pending = {r["id"] for r in reports.list_articles(rt, ArticleState.PENDING)}
    assert article_id not in pending


def test_article_lost_without_an_error_fails_with_that_said(
    broken_rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    """A worker killed mid-task records nothing: the relay's count alone ends it."""
    rt = broken_rt
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    article_id = polling.refresh_feed(int(feed.id), rt).new_article_ids[0]  # type: ignore[arg-type]
    for _ in range(rt.settings.article_max_attempts + 1):
        clock.advance(seconds=rt.settings.claim_lease + 1)
        articles.relay_stuck_articles(rt)
    [row] = [r for r in reports.list_articles(rt, ArticleState.FAILED) if r["id"] == article_id]
    assert "no error recorded" in row["error"]


def test_cli_lists_failed_articles_with_their_reason(
    broken_rt: Runtime, site: SiteServer, clock: Clock, tmp_path: Path
) -> None:
    rt = broken_rt
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    article_id = polling.refresh_feed(int(feed.id), rt).new_article_ids[0]  # type: ignore[arg-type]
    for _ in range(rt.settings.article_max_attempts + 1):
        clock.advance(seconds=rt.settings.claim_lease + 1)
        articles.relay_stuck_articles(rt)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(tmp_path)
    env["NEWSWATCH_DATABASE_URL"] = rt.store_url
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "articles", "list", "--failed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    # Every article of the feed was lost the same way; each is listed with its reason.
    assert any(line.startswith(f"{article_id}\tfailed\t") for line in lines), result.stdout
    assert all("\tfailed\t" in line for line in lines)
    assert all("processing did not finish after 4 attempts" in line for line in lines)
