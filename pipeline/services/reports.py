"""Reports: read-only views of what newswatch did (alerts, stories), backtests of a saved
rule over stored articles, and one-off runs of the pipeline's stages on a document
(``rules test`` and ``extract``).

The stages are imported inside the functions that run them: listing alerts or stories
must not pay for the query compiler, the cleaner or the extractors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pipeline.errors import ConfigError
from pipeline.io import store
from pipeline.model import Extraction, MatchDocument
from pipeline.runtime import Runtime


def list_alerts(rt: Runtime, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with store.session_scope(rt.store_url) as session:
        rows = []
        for alert in store.list_alerts(session, status, limit):
            rule = store.get_rule(session, alert.rule_id)
            article = store.get_article(session, alert.article_id)
            rows.append(
                {
                    "id": alert.id,
                    "status": alert.status,
                    "attempts": alert.attempts,
                    "rule": rule.name if rule else None,
                    "article": article.title if article else None,
                    "url": article.canonical_url if article else None,
                    "webhook_id": alert.webhook_id,
                    "next_attempt_at": alert.next_attempt_at.isoformat(),
                    "last_error": alert.last_error,
                }
            )
        return rows


def list_stories(rt: Runtime, limit: int = 50) -> list[dict[str, Any]]:
    with store.session_scope(rt.store_url) as session:
        rows = []
        for story in store.recent_stories(session, limit):
            story_id = int(story.id)  # type: ignore[arg-type]
            rows.append(
                {
                    "id": story_id,
                    "title": story.title,
                    "articles": [
                        {"id": a, "url": u} for a, u in store.story_articles(session, story_id)
                    ],
                    "alerts": store.story_alert_ids(session, story_id),
                    "updated_at": story.updated_at.isoformat(),
                }
            )
        return rows


def count_backtest_articles(rt: Runtime, since: timedelta) -> int:
    """How many stored articles a backtest over ``since`` reads (for a progress bar)."""
    with store.session_scope(rt.store_url) as session:
        return store.count_processed_articles(session, rt.now() - since)


def backtest_rule(
    rt: Runtime, ref: str, since: timedelta, progress: Callable[[int], Any] | None = None
) -> list[dict[str, Any]]:
    """What a saved rule would have fired on among the articles stored in the period."""
    from pipeline.stages.match import compile_query, match_query

    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        query = compile_query(rule.query)
        ids = store.processed_article_ids(session, rt.now() - since)
    fired = []
    for article_id in ids:
        with store.session_scope(rt.store_url) as session:
            article = store.get_article(session, article_id)
            if article is None:
                continue
            links = store.article_feeds(session, article_id)
            feeds = tuple(value for f in links for value in (f.name, f.url) if value)
            document = MatchDocument.from_extraction(
                article.title, article.text or "", feeds, Extraction.from_dict(article.extraction)
            )
            title, url = article.title, article.canonical_url
        result = match_query(query, document)
        if result.matched:
            fired.append(
                {
                    "article_id": article_id,
                    "title": title,
                    "url": url,
                    "hits": [hit.to_dict() for hit in result.hits],
                }
            )
        if progress is not None:
            progress(1)
    return fired


def explain_match(query: str, document: bytes | str) -> dict[str, Any]:
    """Whether and why one document matches a query (`newswatch rules test`)."""
    from pipeline.stages.clean import clean_article
    from pipeline.stages.extract import extract
    from pipeline.stages.match import QueryError, compile_query, match_query

    try:
        compiled = compile_query(query)
    except QueryError as exc:
        raise ConfigError(str(exc)) from exc
    cleaned = clean_article(document)
    extraction = extract(cleaned.title, cleaned.text, cleaned.language)
    result = match_query(
        compiled, MatchDocument.from_extraction(cleaned.title, cleaned.text, (), extraction)
    )
    return {
        "matched": result.matched,
        "hits": [hit.to_dict() for hit in result.hits],
        "title": cleaned.title,
    }


def extract_document(
    document: bytes | str, url: str | None = None, topics_file: Any = None
) -> dict[str, Any]:
    """Clean + extract one document (HTML or plain text): the `newswatch extract` contract."""
    from pipeline.stages import alert as alert_stage
    from pipeline.stages.clean import clean_article
    from pipeline.stages.extract import extract

    cleaned = clean_article(document, url=url)
    extraction = extract(cleaned.title, cleaned.text, cleaned.language, topics_file).to_dict()
    return {
        "title": cleaned.title,
        "text": cleaned.text,
        "language": cleaned.language,
        "published": alert_stage.iso_or_none(cleaned.published),
        "author": cleaned.author,
        "site_name": cleaned.site_name,
        "reason": cleaned.reason,
        **{k: v for k, v in extraction.items() if k != "language"},
    }
