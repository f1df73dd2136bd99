"""Search over stored articles with the rule query language.

A search is a rule run over the store: the full-text index narrows the articles to those
holding what the query requires (the matcher's own prefilter, run by the database), and
each candidate is then checked by the rule matcher, so the results are exactly the stored
articles a rule with that query would match (feeds as they are named now). Results come
newest first (published, or stored when undated) in pages; a page's cursor continues after
its last article, so articles stored meanwhile never shift or repeat a later page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import ConfigError
from pipeline.io import store
from pipeline.model import FIGURE_CATEGORIES, Extraction, FeedRef, MatchDocument
from pipeline.runtime import Runtime

MAX_LIMIT = 200


@dataclass(frozen=True)
class SearchHit:
    """One matching article; ``hits`` say which query terms matched and where."""

    id: int
    url: str
    title: str
    published: datetime | None
    sort_at: datetime  # the ordering key: published, or when stored if undated
    language: str | None
    story_id: int | None
    feeds: tuple[str, ...]
    hits: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "language": self.language,
            "story_id": self.story_id,
            "feeds": list(self.feeds),
            "hits": self.hits,
        }


@dataclass(frozen=True)
class SearchPage:
    """``next_cursor`` is None on the last page. A page may hold fewer than ``limit`` items
    and still have a cursor when the scan budget (``search_scan_limit``) ran out first."""

    items: list[SearchHit]
    next_cursor: str | None
    query: str  # the query actually run: the user's, with the filters as clauses
    scanned: int  # candidates checked by the matcher for this page


def search_articles(
    rt: Runtime,
    query: str | None,
    *,
    feed: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    topic: str | None = None,
    place: str | None = None,
    figures: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> SearchPage:
    """Stored articles matching ``query`` (rule query language; None or blank: all), newest
    first, ``limit`` (1-200) per page; ``cursor`` is a previous page's ``next_cursor``.

    ``feed`` is a feed id, URL or name; ``since``/``until`` bound the published time (until
    exclusive; without a zone, UTC); ``topic`` and ``place`` are the query fields
    ``topic:``/``place:``; ``figures`` are thresholds such as ``killed:>=10``. A mistake in
    any of them, or a cursor this function did not make, is a ConfigError naming it (an
    unknown feed: NotFoundError)."""
    from pipeline.stages.match import QueryError, compile_query, match_query
    from pipeline.stages.search import Cursor, index_query

    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    text = compose_query(query, topic=topic, place=place, figures=figures)
    try:
        compiled = compile_query(text, rt.settings.topics_file) if text else None
    except QueryError as exc:
        raise ConfigError(f"invalid query: {exc}") from exc
    terms = index_query(compiled) if compiled is not None else None
    try:
        after = Cursor.decode(cursor) if cursor else None
    except ValueError as exc:
        raise ConfigError(f"{exc}: pass the next_cursor of a previous page") from exc
    position = (_utc(after.sort_at), after.article_id) if after else None
    since = _utc(since) if since else None
    until = _utc(until) if until else None
    budget = rt.settings.search_scan_limit
    batch_size = min(max(limit * 2, 50), 500)
    items: list[SearchHit] = []
    scanned = 0
    with store.session_scope(rt.store_url) as session:
        feed_id = int(store.require_feed(session, feed).id) if feed else None  # type: ignore[arg-type]
        filters = store.SearchFilters(feed_id=feed_id, since=since, until=until)
        while True:
            batch = store.search_candidates(session, terms, filters, position, batch_size)
            linked = store.article_feed_refs(session, [int(a.id) for a, _ in batch])  # type: ignore[arg-type]
            for article, sort_at in batch:
                article_id = int(article.id)  # type: ignore[arg-type]
                feeds = linked.get(article_id, [])
                position = (sort_at, article_id)
                scanned += 1
                hits: list[dict[str, str]] = []
                if compiled is not None:
                    document = MatchDocument.from_extraction(
                        article.title,
                        article.text or "",
                        FeedRef.labels(feeds),  # as the matcher saw the article
                        Extraction.from_dict(article.extraction),
                    )
                    result = match_query(compiled, document)
                    if not result.matched:
                        if scanned >= budget:
                            return SearchPage(items, Cursor(*position).encode(), text, scanned)
                        continue
                    hits = [hit.to_dict() for hit in result.hits]
                names = tuple(feed.name or feed.url for feed in feeds)
                items.append(_hit(article, sort_at, names, hits))
                if len(items) == limit or scanned >= budget:
                    return SearchPage(items, Cursor(*position).encode(), text, scanned)
            if len(batch) < batch_size:
                return SearchPage(items, None, text, scanned)


def _utc(value: datetime) -> datetime:
    """A time without a zone is taken as UTC, as the store keeps times."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def compose_query(
    query: str | None,
    *,
    topic: str | None = None,
    place: str | None = None,
    figures: list[str] | None = None,
) -> str:
    """The user's query with the topic, place and figure filters AND-ed as clauses."""
    from pipeline.stages.search import figure_clause, quoted

    clauses = [f"({query.strip()})"] if query and query.strip() else []
    try:
        if topic:
            clauses.append(f"topic:{quoted(topic, 'topic')}")
        if place:
            clauses.append(f"place:{quoted(place, 'place')}")
        clauses.extend(figure_clause(item, FIGURE_CATEGORIES) for item in figures or [])
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return " AND ".join(clauses)


def _hit(
    article: store.Article, sort_at: datetime, feeds: tuple[str, ...], hits: list[dict[str, str]]
) -> SearchHit:
    return SearchHit(
        id=int(article.id),  # type: ignore[arg-type]
        url=article.canonical_url,
        title=article.title,
        published=article.published,
        sort_at=sort_at,
        language=article.language,
        story_id=article.story_id,
        feeds=feeds,
        hits=hits,
    )
