"""Views for people: what the dashboard shows, read from the store and shaped once.

Built on the API's read-only views (``pipeline.services.browse``): feed health at a glance,
a query tried live on the newest stored articles (the API's test function, with the terms
marked in each sentence), one article with every highlight in place and its story's other
versions, article counts per country for the map, and the rates of recent work. Nothing
here writes.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipeline.errors import NotFoundError
from pipeline.io import store
from pipeline.model import Extraction, FeedHealth, Hit
from pipeline.runtime import Runtime

log = logging.getLogger("newswatch")

# --- feeds ---------------------------------------------------------------------------------


def feed_health(rt: Runtime) -> list[dict[str, Any]]:
    """Every feed with its health (paused when disabled), last error and last new entry."""
    from pipeline.services.browse import feed_row

    with store.session_scope(rt.store_url) as session:
        return [feed_row(feed) for feed in store.list_feeds(session)]


# --- live rule test ------------------------------------------------------------------------


def test_query(rt: Runtime, query: str) -> dict[str, Any]:
    """The query tried on the newest ``dashboard_test_articles`` stored articles (the same
    function as the API's test route), with the warnings ``rules add`` would print."""
    from pipeline.services.browse import test_query_on_articles
    from pipeline.stages.highlight import segments, term_marks
    from pipeline.stages.match import query_warnings

    result = test_query_on_articles(rt, query, last=rt.settings.dashboard_test_articles)
    for article in result["articles"]:
        for hit in article["hits"]:
            # The sentence with the term's words marked in it, as the article view marks them.
            words_only = Hit(hit["term"], hit["field"], "")
            hit["segments"] = segments(hit["sentence"], term_marks(hit["sentence"], [words_only]))
    return {**result, "warnings": query_warnings(query)}


test_query.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --- one article ---------------------------------------------------------------------------


@dataclass
class ArticleView:
    """An article as a reader sees it: ``segments`` is its text with every highlight in
    place (pipeline.stages.highlight), ``versions`` its story's articles with what each
    added to the one before, ``evidence`` the kept page's digest when there is one."""

    article: dict[str, Any]  # browse.show_article
    extraction: Extraction
    segments: list[Any]
    hits: list[Hit]
    alerts: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    evidence: dict[str, Any] | None


def article_view(rt: Runtime, article_id: int, query: str | None = None) -> ArticleView:
    """One article: cleaned text with matched terms (those its alerts recorded, or those of
    ``query``), figures and places highlighted; its alerts; its story's versions."""
    from pipeline.services import browse
    from pipeline.stages.highlight import highlight

    article = browse.show_article(rt, article_id)
    extraction = Extraction.from_dict(article["extraction"])
    alerts = []
    hits: dict[tuple[str, str], Hit] = {}
    with store.session_scope(rt.store_url) as session:
        for alert_id in article["alert_ids"]:
            alert = store.get_alert(session, alert_id)
            if alert is None:
                continue
            rule = store.get_rule(session, alert.rule_id)
            alerts.append(
                {"id": alert.id, "rule": rule.name if rule else None, "status": alert.status}
            )
            for hit in _payload_hits(alert.payload):
                hits.setdefault((hit.term, hit.field), hit)
    if query:
        result = browse.test_query_on_articles(rt, query, [article_id])
        hits = {}
        for found in result["articles"]:
            for raw in found["hits"]:
                hit = Hit(raw["term"], raw["field"], raw["sentence"])
                hits[(hit.term, hit.field)] = hit
    text = article["text"] or ""
    story = browse.show_story(rt, article["story_id"]) if article["story_id"] else None
    return ArticleView(
        article=article,
        extraction=extraction,
        segments=highlight(text, list(hits.values()), extraction.figures, extraction.places),
        hits=list(hits.values()),
        alerts=alerts,
        versions=story["versions"] if story else [],
        evidence=_evidence(rt, article_id),
    )


def _payload_hits(payload: str | None) -> list[Hit]:
    try:
        data = json.loads(payload or "{}").get("data") or {}
    except (ValueError, AttributeError):
        return []
    return [
        Hit(str(m.get("term", "")), str(m.get("field", "")), str(m.get("sentence", "")))
        for m in data.get("matches") or []
        if isinstance(m, dict)
    ]


def _evidence(rt: Runtime, article_id: int) -> dict[str, Any] | None:
    """The kept page's name, digest and time (not its bytes), or None when none is kept."""
    from pipeline.services.evidence import evidence_for_article

    try:
        found = evidence_for_article(rt, article_id)
    except NotFoundError:
        return None
    return {"filename": found.filename, "sha256": found.sha256, "captured_at": found.captured_at}


# --- places --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryCount:
    alpha2: str
    numeric: str  # ISO 3166-1 numeric, as world-atlas names its shapes
    name: str
    articles: int


def articles_per_country(rt: Runtime, since: timedelta, limit: int = 20000) -> list[CountryCount]:
    """How many recent articles mention each country (any place in it), most first."""
    import pycountry

    with store.session_scope(rt.store_url) as session:
        extractions = store.article_extractions_since(session, rt.now() - since, limit)
    counts: Counter[str] = Counter()
    for data in extractions:
        countries = {
            str(place.get("country")).upper()
            for place in (data or {}).get("places") or []
            if isinstance(place, dict) and place.get("country")
        }
        counts.update(countries)
    rows = []
    for alpha2, n in counts.most_common():
        country = pycountry.countries.get(alpha_2=alpha2)
        if country is not None:
            rows.append(CountryCount(alpha2, country.numeric, country.name, n))
    return rows


# --- activity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    window_minutes: int
    polls_per_minute: float
    articles_per_minute: float
    alerts_per_minute: float
    failing_feeds: list[dict[str, Any]]
    counts: dict[str, Any]
    queues: dict[str, int | None]


def activity(
    rt: Runtime, queues: tuple[str, ...], window: timedelta = timedelta(minutes=10)
) -> Activity:
    """Feeds polled, articles processed and alerts raised per minute over ``window`` (a
    feed polled twice in the window counts once), messages waiting per queue (None when the
    broker does not answer), failing feeds and the counts by state."""
    from pipeline.services import browse, status

    since = rt.now() - window
    minutes = max(window.total_seconds() / 60, 1.0)
    with store.session_scope(rt.store_url) as session:
        polls = store.count_feeds_polled_since(session, since)
        articles = store.count_articles_processed_since(session, since)
        alerts = store.count_alerts_since(session, since)
    depths: dict[str, int | None]
    try:
        depths = dict(status.broker_queue_depths(rt, queues))
    except Exception as exc:  # any broker failure: shown as unknown, the page still answers
        log.warning("cannot read queue depths: %s", exc)
        depths = dict.fromkeys(queues)
    return Activity(
        window_minutes=round(minutes),
        polls_per_minute=round(polls / minutes, 2),
        articles_per_minute=round(articles / minutes, 2),
        alerts_per_minute=round(alerts / minutes, 2),
        failing_feeds=[row for row in feed_health(rt) if row["health"] == FeedHealth.FAILING],
        counts=browse.counts(rt),
        queues=depths,
    )


# --- alerts --------------------------------------------------------------------------------


def alerts_timeline(
    rt: Runtime, rule: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest alerts, optionally of one rule and one status, with rule and article."""
    from pipeline.services.browse import list_alerts

    return list_alerts(rt, limit, None, status or None, rule or None).items
