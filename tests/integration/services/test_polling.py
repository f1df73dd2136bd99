"""Polling on a real store: malformed and unreachable feeds.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from pipeline.io import store
from pipeline.io.politeness import HostGate, LocalSlots, PolitenessPolicy
from pipeline.io.store import Feed, session_scope
from pipeline.runtime import Runtime
from pipeline.services import catalog, polling
from pipeline.settings import HostLimit
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


def test_a_batch_records_each_feed_as_its_own_poll_would(rt: Runtime, site: SiteServer) -> None:
    broken = catalog.add_feed(rt, f"{site.base_url}/feeds/broken.rss", "broken", backfill=True)
    missing = catalog.add_feed(rt, f"{site.base_url}/feeds/nope.rss", "nope", backfill=True)
    ids = [int(broken.id), int(missing.id), 10**9]  # type: ignore[arg-type]
    report = polling.refresh_feeds(polling.PollBatchReport(ids), rt)
    polls = {poll.feed_id: poll for poll in report.polls}
    assert polls[ids[0]].status == "ok" and len(polls[ids[0]].new_article_ids) == 2
    assert polls[ids[1]].status == "error" and "404" in (polls[ids[1]].error or "")
    assert report.removed == [10**9] and report.busy == [] and report.unfinished() == []
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, missing.id)
        assert feed is not None and feed.error_count == 1 and "404" in (feed.last_error or "")
    again = polling.refresh_feeds(polling.PollBatchReport(ids[:2]), rt)
    assert sorted(poll.feed_id for poll in again.polls) == ids[:2]
    assert all(poll.new_article_ids == [] for poll in again.polls)


def test_a_batch_hands_each_feed_over_once_stored_unless_another_lists_its_articles(
    rt: Runtime, site: SiteServer
) -> None:
    # alpha and beta both list the port evacuation; escaped lists pages of its own. All
    # three are on the loopback site's one host, here polled at once.
    rt = replace(rt, host_gate=HostGate(LocalSlots(), PolitenessPolicy(HostLimit(8, 0.0))))
    names = ("alpha.rss", "beta.atom", "escaped.rss")
    feeds = [catalog.add_feed(rt, f"{site.base_url}/feeds/{n}", n, backfill=True) for n in names]
    alpha, beta, escaped = (int(feed.id) for feed in feeds)  # type: ignore[arg-type]
    handed: list[tuple[int, list[int]]] = []

    def stored(poll: polling.PollReport) -> None:
        with session_scope(rt.store_url) as session:  # committed when handed over
            linked = [len(store.article_feeds(session, a)) for a in poll.new_article_ids]
        handed.append((poll.feed_id, linked))

    report = polling.refresh_feeds(polling.PollBatchReport([alpha, beta, escaped]), rt, stored)
    assert [feed_id for feed_id, _ in handed] == [escaped]
    assert handed[0][1] and all(count == 1 for count in handed[0][1])
    polls = {poll.feed_id: poll for poll in report.polls}
    assert set(polls) == {alpha, beta, escaped}
    # The article both list is linked to both before the caller follows it up.
    shared = set(polls[alpha].new_article_ids) | set(polls[beta].new_article_ids)
    with session_scope(rt.store_url) as session:
        assert any(len(store.article_feeds(session, a)) == 2 for a in shared)
