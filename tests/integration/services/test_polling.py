"""Polling on a real store: malformed and unreachable feeds.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from datetime import timedelta

from pipeline.io.store import Feed, session_scope
from pipeline.runtime import Runtime
from pipeline.services import catalog, polling
from worker.loopback import SiteServer


def test_malformed_feed_and_unreachable_feed(rt: Runtime, site: SiteServer) -> None:
    broken = catalog.add_feed(rt, f"{site.base_url}/feeds/broken.rss", "broken", backfill=True)
    report = polling.refresh_feed(int(broken.id), rt)  # type: ignore[arg-type]
    assert report.status == "ok" and len(report.new_article_ids) == 2 and report.problem
    missing = catalog.add_feed(rt, f"{site.base_url}/feeds/nope.rss", "nope", backfill=True)
    failed = polling.refresh_feed(int(missing.id), rt)  # type: ignore[arg-type]
    assert failed.status == "error" and "404" in (failed.error or "")
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, missing.id)
        assert feed is not None and feed.error_count == 1 and "404" in (feed.last_error or "")
        assert feed.next_poll_at > rt.now() + timedelta(seconds=feed.interval_seconds)
    # A second poll of the same feed adds nothing.
    again = polling.refresh_feed(int(broken.id), rt)  # type: ignore[arg-type]
    assert again.new_article_ids == []
