"""Reports: read-only views of what newswatch did (alerts, stories), backtests of a saved
rule over stored articles, and one-off runs of the pipeline's stages on a document
(``rules test`` and ``extract``).

The stages are imported inside the functions that run them: listing alerts or stories
must not pay for the query compiler, the cleaner or the extractors.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, NotFoundError
from pipeline.io import store
from pipeline.model import ArticleState, Extraction, FeedRef, MatchDocument
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


def list_articles(
    rt: Runtime, state: ArticleState | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest articles with their processing state; failed ones carry their reason."""
    with store.session_scope(rt.store_url) as session:
        return [
            {
                "id": article.id,
                "state": article_state,
                "fetch_status": article.fetch_status,
                "title": article.title,
                "url": article.canonical_url,
                "attempts": article.relay_count,
                "created_at": article.created_at.isoformat(),
                "processed_at": article.processed_at and article.processed_at.isoformat(),
                "failed_at": article.failed_at and article.failed_at.isoformat(),
                "error": article.process_error,
            }
            for article, article_state in store.list_articles(session, state, limit)
        ]


def count_alerts(rt: Runtime, status: str | None = None) -> int:
    with store.session_scope(rt.store_url) as session:
        return store.count_alerts(session, status)


def show_alert(rt: Runtime, alert_id: int) -> dict[str, Any]:
    """One alert with its rule, article, payload and every delivery attempt."""
    with store.session_scope(rt.store_url) as session:
        alert = store.get_alert(session, alert_id)
        if alert is None:
            raise NotFoundError(f"no alert with id {alert_id} (see `newswatch alerts list`)")
        rule = store.get_rule(session, alert.rule_id)
        article = store.get_article(session, alert.article_id)
        attempts = store.delivery_attempts(session, alert_id)
        return {
            "id": alert.id,
            "status": alert.status,
            "kind": alert.kind,
            "webhook_id": alert.webhook_id,
            "rule": rule.name if rule else None,
            "article": {
                "id": alert.article_id,
                "title": article.title if article else None,
                "url": article.canonical_url if article else None,
            },
            "story_id": alert.story_id,
            "attempts": alert.attempts,
            "next_attempt_at": alert.next_attempt_at.isoformat(),
            "created_at": alert.created_at.isoformat(),
            "delivered_at": alert.delivered_at.isoformat() if alert.delivered_at else None,
            "last_error": alert.last_error,
            "deliveries": [
                {
                    "at": attempt.attempted_at.isoformat(),
                    "to": "webhook" if attempt.alert_id is not None else "channel",
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                }
                for attempt in attempts
            ],
            "payload": json.loads(alert.payload or "{}"),
        }


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


def count_backtest_articles(rt: Runtime, ref: str, since: timedelta) -> int:
    """How many stored articles a backtest of rule ``ref`` over ``since`` reads (for a
    progress bar); an unknown rule is refused here, before any progress is shown."""
    with store.session_scope(rt.store_url) as session:
        store.require_rule(session, ref)
        return store.count_processed_articles(session, rt.now() - since)


def backtest_rule(
    rt: Runtime, ref: str, since: timedelta, progress: Callable[[int], Any] | None = None
) -> list[dict[str, Any]]:
    """What a saved rule would have fired on among the articles stored in the period."""
    from pipeline.stages.match import compile_query, match_query

    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        query = compile_query(rule.query, rt.settings.topics_file)
        ids = store.processed_article_ids(session, rt.now() - since)
    fired = []
    for article_id in ids:
        with store.session_scope(rt.store_url) as session:
            article = store.get_article(session, article_id)
            if article is None:
                continue
            feeds = FeedRef.labels(
                store.article_feed_refs(session, [article_id]).get(article_id, [])
            )
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


def explain_match(
    query: str, document: bytes | str, topics_file: Path | None = None
) -> dict[str, Any]:
    """Whether and why one document matches a query (`newswatch rules test`)."""
    from pipeline.stages.clean import clean_article
    from pipeline.stages.extract import extract
    from pipeline.stages.match import QueryError, compile_query, match_query

    try:
        compiled = compile_query(query, topics_file)
    except QueryError as exc:
        raise ConfigError(str(exc)) from exc
    cleaned = clean_article(document)
    extraction = extract(cleaned.title, cleaned.text, cleaned.language, topics_file)
    result = match_query(
        compiled, MatchDocument.from_extraction(cleaned.title, cleaned.text, (), extraction)
    )
    return {
        "matched": result.matched,
        "hits": [hit.to_dict() for hit in result.hits],
        "title": cleaned.title,
    }


def extract_document(
    document: bytes | str, url: str | None = None, topics_file: Path | None = None
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


def test_rules_jsonl(lines: Iterable[str], topics_file: Path | None = None) -> Iterator[str]:
    """`newswatch rules test --jsonl`: the stage's contract, with one addition: an article
    that carries no ``figures``, ``topics`` or ``places`` is run through extraction first,
    so ``killed:>=10``, ``place:SY`` or ``topic:"armed conflict"`` match as they would on a
    stored article (and as `rules test QUERY FILE` does)."""
    from pipeline.stages.match import test_rules_jsonl as evaluate_lines

    for line in lines:
        yield from evaluate_lines([_with_extraction(line, topics_file)], topics_file)


test_rules_jsonl.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

_EXTRACTED_FIELDS = ("figures", "topics", "places")


def _with_extraction(line: str, topics_file: Path | None) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return line  # the stage reports the malformed line
    article = record.get("article") if isinstance(record, dict) else None
    if not isinstance(article, dict) or any(key in article for key in _EXTRACTED_FIELDS):
        return line
    title, text = article.get("title"), article.get("text")
    if not isinstance(title, str | None) or not isinstance(text, str | None):
        return line
    language = article.get("language") if isinstance(article.get("language"), str) else None
    extraction = _extract_cached(title or "", text or "", language, topics_file)
    record["article"] = {**article, **{key: extraction[key] for key in _EXTRACTED_FIELDS}}
    return json.dumps(record, ensure_ascii=False)


@functools.lru_cache(maxsize=64)
def _extract_cached(
    title: str, text: str, language: str | None, topics_file: Path | None
) -> dict[str, Any]:
    # A batch often tries many queries on one article: extract it once.
    from pipeline.stages.extract import extract

    return extract(title, text, language, topics_file).to_dict()
