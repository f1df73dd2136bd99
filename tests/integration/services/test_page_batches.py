"""A poll's many new pages fetched in one batch: each host's pages in turn, each handed
over for processing as soon as it is stored, a busy host's pages put off, none lost."""

from __future__ import annotations

from dataclasses import replace

from pipeline.io import store
from pipeline.io.politeness import HostGate, LocalSlots, PolitenessPolicy
from pipeline.model import FetchStatus
from pipeline.runtime import Runtime
from pipeline.services import articles, catalog, polling
from worker.loopback import SiteServer


def _own_gate(rt: Runtime) -> Runtime:
    """The runtime with politeness slots of its own (the process-wide ones are shared)."""
    gate = HostGate(LocalSlots(), PolitenessPolicy.from_settings(rt.settings))
    return replace(rt, host_gate=gate)


def _new_articles(rt: Runtime, site: SiteServer, *names: str) -> list[int]:
    ids: list[int] = []
    for name in names:
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/{name}", name, backfill=True)
        ids += polling.refresh_feed(int(feed.id), rt).new_article_ids  # type: ignore[arg-type]
    return ids


def _statuses(rt: Runtime, ids: list[int]) -> dict[int, FetchStatus]:
    with store.session_scope(rt.store_url) as session:
        return {i: status for i, (status, _) in store.fetch_targets(session, ids).items()}


def test_a_batch_fetches_each_page_once_and_hands_each_over(rt: Runtime, site: SiteServer) -> None:
    rt = _own_gate(rt)
    ids = _new_articles(rt, site, "alpha.rss", "gamma.rss")
    assert len(ids) >= 4
    handed: list[int] = []
    report = articles.fetch_articles([*ids, max(ids) + 1000], rt, handed.append, budget=60)
    assert sorted(handed) == sorted(report.ready) == sorted(ids)  # the unknown id skipped
    assert report.later == []
    assert set(_statuses(rt, ids).values()) <= {FetchStatus.FETCHED, FetchStatus.FALLBACK}
    assert FetchStatus.FETCHED in _statuses(rt, ids).values()
    fetched_now = sum(site.hits.values())
    # Again (a redelivered message): every page is already there, nothing is requested.
    again: list[int] = []
    articles.fetch_articles(ids, rt, again.append, budget=60)
    assert sorted(again) == sorted(ids) and sum(site.hits.values()) == fetched_now
    for article_id in handed:
        assert articles.process_article(article_id, rt).fetch_status in {
            FetchStatus.FETCHED,
            FetchStatus.FALLBACK,
        }


def test_a_host_that_asks_for_a_long_wait_has_its_pages_put_off(
    rt: Runtime, site: SiteServer
) -> None:
    rt = _own_gate(rt)
    ids = _new_articles(rt, site, "alpha.rss")
    requests = sum(site.hits.values())
    rt.hosts.block(site.base_url, 120)  # a Retry-After of two minutes
    handed: list[int] = []
    report = articles.fetch_articles(ids, rt, handed.append, budget=60)
    assert handed == [] and report.ready == []
    assert sorted(a for a, _ in report.later) == sorted(ids)
    assert all(100 < wait <= 120 for _, wait in report.later)
    assert sum(site.hits.values()) == requests  # nothing was sent to the host
    assert set(_statuses(rt, ids).values()) == {FetchStatus.PENDING}


def test_pages_not_started_within_the_budget_are_put_off_not_lost(
    rt: Runtime, site: SiteServer
) -> None:
    rt = _own_gate(rt)
    ids = _new_articles(rt, site, "alpha.rss")
    report = articles.fetch_articles(ids, rt, lambda _: None, budget=0)
    assert report.ready == [] and sorted(a for a, _ in report.later) == sorted(ids)
    assert set(_statuses(rt, ids).values()) == {FetchStatus.PENDING}
    # Put off, then tried again: every page arrives.
    later = [article_id for article_id, _ in report.later]
    assert sorted(articles.fetch_articles(later, rt, lambda _: None, budget=60).ready) == sorted(
        ids
    )
