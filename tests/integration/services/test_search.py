"""Article search on a real store: results equal what a rule matches, stable cursors, filters,
the index kept up to date by processing and filled by the migration for older articles."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from pipeline.io.store import Article, dispose_all, get_engine, session_scope
from pipeline.io.store.migrate import upgrade_database
from pipeline.model import Extraction, MatchDocument
from pipeline.runtime import Runtime
from pipeline.services import catalog
from pipeline.services.search import search_articles
from pipeline.settings import Settings
from pipeline.stages.match import compile_query, match_query
from tests.e2e.harness import postgres_database
from tests.integration.services.support import poll_all
from worker.loopback import SiteServer

FEEDS = ("feeds/alpha.rss", "feeds/beta.atom", "feeds/gamma.rss", "stories/courier.rss")
QUERIES = (
    "ceasefire",
    "evacu*",
    '"chemical fire" OR landslide',
    "killed:>=20",
    "ceasefire OR killed:>=20",
    "evacuated -port",
    "title:ceasefire AND text:clashes",
    'feed:"Harbour Ledger"',
    "place:Sudan",
    "cease-fire",
    "nothingmatchesthisword",
)


@pytest.fixture
def stored(rt: Runtime, site: SiteServer) -> list[int]:
    for path in FEEDS:
        feed = catalog.add_feed(rt, f"{site.base_url}/{path}", path.split("/")[-1], backfill=True)
        poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    with session_scope(rt.store_url) as session:
        ids = session.exec(select(Article.id).where(Article.processed_at != None)).all()  # noqa: E711
    assert len(ids) >= 6
    return [int(i) for i in ids if i is not None]


def _rule_matches(rt: Runtime, query: str) -> set[int]:
    """What a rule with ``query`` matches among the stored articles, by brute force."""
    from pipeline.io.store import article_feeds

    compiled = compile_query(query, rt.settings.topics_file)
    found = set()
    with session_scope(rt.store_url) as session:
        for article in session.exec(select(Article).where(Article.processed_at != None)):  # noqa: E711
            feeds = tuple(
                v for f in article_feeds(session, int(article.id)) for v in (f.name, f.url) if v
            )
            doc = MatchDocument.from_extraction(
                article.title, article.text or "", feeds, Extraction.from_dict(article.extraction)
            )
            if match_query(compiled, doc).matched:
                found.add(int(article.id))  # type: ignore[arg-type]
    return found


def _all_pages(rt: Runtime, query: str | None, limit: int, **filters: object) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(100):
        page = search_articles(rt, query, cursor=cursor, limit=limit, **filters)  # type: ignore[arg-type]
        ids += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids
    raise AssertionError("pagination did not end")


def test_results_equal_what_a_rule_matches(rt: Runtime, stored: list[int]) -> None:
    for query in QUERIES:
        expected = _rule_matches(rt, query)
        page = search_articles(rt, query, limit=200)
        assert {item.id for item in page.items} == expected, query
        assert page.next_cursor is None
        assert all(item.hits for item in page.items), query
    # Not a vacuous equality: each of these matches some stored articles, not all.
    sizes = {query: len(_rule_matches(rt, query)) for query in QUERIES[:6]}
    assert all(0 < size < len(stored) for size in sizes.values()), sizes
    assert search_articles(rt, "killed:>=1000000", limit=5).items == []


def test_pages_are_newest_first_and_stable_when_articles_arrive(
    rt: Runtime, site: SiteServer, stored: list[int]
) -> None:
    everything = search_articles(rt, None, limit=200)
    keys = [(item.sort_at, item.id) for item in everything.items]
    assert keys == sorted(keys, reverse=True) and len(keys) == len(stored)

    first = search_articles(rt, None, limit=2)
    assert [item.id for item in first.items] == [item.id for item in everything.items[:2]]
    # New articles arrive between two pages: the next pages go on where the first ended.
    late = catalog.add_feed(rt, f"{site.base_url}/stories/tribune.rss", "late", backfill=True)
    poll_all(rt, int(late.id))  # type: ignore[arg-type]
    rest: list[int] = []
    cursor = first.next_cursor
    while cursor:
        page = search_articles(rt, None, limit=2, cursor=cursor)
        rest += [item.id for item in page.items]
        cursor = page.next_cursor
    seen = [item.id for item in first.items] + rest
    assert len(seen) == len(set(seen)), "no article twice"
    assert set(stored) <= set(seen), "no article skipped"

    # Paging through a query one article at a time gives what one page gives.
    whole = [item.id for item in search_articles(rt, "ceasefire OR evacu*", limit=200).items]
    assert len(whole) >= 3
    assert _all_pages(rt, "ceasefire OR evacu*", limit=1) == whole


def test_filters_by_feed_date_topic_place_and_figures(rt: Runtime, stored: list[int]) -> None:
    by_feed = _all_pages(rt, None, 50, feed="alpha.rss")
    assert len(by_feed) == 3
    assert set(_all_pages(rt, "ceasefire", 50, feed="beta.atom")) == set()
    assert set(_all_pages(rt, None, 50, place="Sudan")) == _rule_matches(rt, "place:Sudan")
    assert set(_all_pages(rt, None, 50, figures=["killed:>=20"])) == _rule_matches(
        rt, "killed:>=20"
    )
    assert set(_all_pages(rt, "ceasefire", 50, figures=["killed:>=1000"])) == set()
    with session_scope(rt.store_url) as session:
        dated = [
            a.published
            for a in session.exec(select(Article).where(Article.processed_at != None))  # noqa: E711
            if a.published
        ]
    middle = sorted(dated)[len(dated) // 2]
    since = set(_all_pages(rt, None, 50, since=middle))
    until = set(_all_pages(rt, None, 50, until=middle))
    assert since and until and not since & until
    assert since | until == set(stored)

    # A scan budget ends a page early, with a cursor to go on from.
    rt.settings.search_scan_limit = 2
    page = search_articles(rt, "killed:>=1000000", limit=5)
    assert page.items == [] and page.scanned == 2 and page.next_cursor is not None
    assert set(_all_pages(rt, "ceasefire", 50)) == _rule_matches(rt, "ceasefire")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "ceasefire AND"}, "invalid query"),
        ({"query": "x", "cursor": "not-a-cursor"}, "invalid cursor"),
        ({"query": "x", "limit": 0}, "limit must be"),
        ({"query": "x", "figures": ["killed>=10"]}, "invalid figure filter"),
        ({"query": "x", "feed": "no such feed"}, "no feed"),
        ({"query": "x", "place": 'a"b'}, "invalid place"),
    ],
)
def test_mistakes_are_one_clear_error(rt: Runtime, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(Exception, match=message) as caught:
        search_articles(rt, **kwargs)  # type: ignore[arg-type]
    assert caught.type.__name__ in {"ConfigError", "NotFoundError"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_indexes_articles_processed_before_it(tmp_path: Path, backend: str) -> None:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/old.db"
        else:
            url = stack.enter_context(postgres_database())
        upgrade_database(url, "0008")
        when = datetime(2026, 11, 28, 9, 0)
        with get_engine(url).begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO articles (canonical_url, title, text, fetch_status, relay_count,"
                    " extraction, created_at, processed_at, published) VALUES (:url, :title,"
                    " :text, 'fetched', 0, :extraction, :when, :when, :when)"
                ),
                {
                    "url": "https://old.example.invalid/a",
                    "title": "Truce holds in the old town",
                    "text": "Residents said the truce held overnight.",
                    "extraction": '{"figures": [], "topics": [], "places": []}',
                    "when": when,
                },
            )
        upgrade_database(url)
        rt = Runtime(settings=Settings(data_dir=tmp_path, database_url=url))
        assert [item.title for item in search_articles(rt, "truce").items] == [
            "Truce holds in the old town"
        ]
        assert search_articles(rt, "ceasefire").items == []
        dispose_all()
