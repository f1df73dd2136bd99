"""Articles on a real store: lost fetch/process tasks are relayed.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

import pytest

from pipeline.errors import NotFoundError
from pipeline.io import store
from pipeline.model import FetchStatus
from pipeline.runtime import Runtime
from pipeline.services import articles, catalog, polling
from tests.integration.services.support import Clock
from worker.loopback import SiteServer


def test_lost_article_tasks_are_relayed(rt: Runtime, site: SiteServer, clock: Clock) -> None:
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    report = polling.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
    assert len(report.new_article_ids) == 3  # ... and every follow-up task is lost
    assert articles.relay_stuck_articles(rt) == ([], [])  # not overdue yet
    clock.advance(seconds=rt.settings.claim_lease + 1)
    to_fetch, to_process = articles.relay_stuck_articles(rt)
    assert sorted(to_fetch) == sorted(report.new_article_ids) and to_process == []
    assert articles.relay_stuck_articles(rt) == ([], [])  # not again at once
    for article_id in to_fetch:
        articles.fetch_article(article_id, rt)
    clock.advance(seconds=rt.settings.claim_lease + 1)
    assert sorted(articles.relay_stuck_articles(rt)[1]) == sorted(report.new_article_ids)
    for article_id in report.new_article_ids:
        articles.process_article(article_id, rt)
    clock.advance(seconds=rt.settings.claim_lease + 1)
    assert articles.relay_stuck_articles(rt) == ([], [])


def test_a_fetch_keeps_the_page_for_processing_and_is_not_repeated(
    rt: Runtime, site: SiteServer
) -> None:
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    article_id = polling.refresh_feed(int(feed.id), rt).new_article_ids[0]  # type: ignore[arg-type]
    assert articles.fetch_article(article_id, rt) == FetchStatus.FETCHED
    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        assert article is not None and article.page_html and article.page_capture
        page = article.page_html
    # A second delivery of the task finds the page there and fetches nothing.
    requests = sum(site.hits.values())
    assert articles.fetch_article(article_id, rt) == FetchStatus.FETCHED
    assert sum(site.hits.values()) == requests
    articles.process_article(article_id, rt)
    with store.session_scope(rt.store_url) as session:
        article = store.get_article(session, article_id)
        assert article is not None and article.processed_at is not None
        assert article.page_html is None and article.text
    assert page.startswith(b"<")
    with pytest.raises(NotFoundError):
        articles.fetch_article(article_id + 1000, rt)
