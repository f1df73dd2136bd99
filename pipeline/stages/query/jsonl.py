"""The ``newswatch rules test --jsonl`` contract: one JSON result line per input line.

Input: ``{"id", "query", "article": {"title", "text", "feed", "language",
"topics"?, "places"?, "figures"?}}``. Output: ``{"id", "matched", "hits", "error"}``.
A bad query or malformed line gives an error line, never an exception. Blank lines are skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.model import MatchDocument
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.errors import QueryError
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.syntax import compile_cached


class _LineError(ValueError):
    """A malformed input line."""


def test_rules_jsonl(lines: Iterable[str], topics_file: Path | None = None) -> Iterator[str]:
    """Evaluate each ``{"id", "query", "article"}`` line; yield one result line per input.
    ``topic:`` values are checked against ``topics_file`` (default: the shipped one)."""
    for line in lines:
        if not line.strip():
            continue
        yield json.dumps(_result(line, topics_file), ensure_ascii=False)


test_rules_jsonl.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _result(line: str, topics_file: Path | None) -> dict[str, Any]:
    rule_id: Any = None
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise _LineError("line is not a JSON object")
        rule_id = record.get("id")
        query = record.get("query")
        if not isinstance(query, str):
            raise _LineError('"query" must be a string')
        compiled = compile_cached(query, topics_file)
        result = evaluate(compiled.root, DocumentIndex(document_from_json(record.get("article"))))
    except (QueryError, _LineError) as error:
        return _error(rule_id, str(error))
    except json.JSONDecodeError as error:
        return _error(rule_id, f"malformed JSON line: {error.msg} at column {error.colno}")
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        return _error(rule_id, f"malformed article: {type(error).__name__}: {error}")
    return {
        "id": rule_id,
        "matched": result.matched,
        "hits": [hit.to_dict() for hit in result.hits],
        "error": None,
    }


def _error(rule_id: Any, message: str) -> dict[str, Any]:
    return {"id": rule_id, "matched": False, "hits": [], "error": " ".join(message.split())}


def document_from_json(article: object) -> MatchDocument:
    """A :class:`MatchDocument` from the JSON article shape (extraction output lists)."""
    if not isinstance(article, dict):
        raise _LineError('"article" must be a JSON object')
    feed = article.get("feed")
    feeds = tuple(_strings(feed, "feed"))
    language = article.get("language")
    if language is not None and not isinstance(language, str):
        raise _LineError('"language" must be a string')
    topics = tuple(
        (_text(item, "code"), _text(item, "label")) for item in _objects(article, "topics")
    )
    places = tuple(
        (_text(item, "name"), item.get("country") or None) for item in _objects(article, "places")
    )
    figures: list[tuple[str, float]] = []
    sentences: list[str] = []
    for item in _objects(article, "figures"):
        value = item.get("value")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _LineError('each figure needs a numeric "value"')
        figures.append((_text(item, "category"), float(value)))
        sentences.append(_text(item, "sentence"))
    return MatchDocument(
        title=_text(article, "title"),
        text=_text(article, "text"),
        feeds=feeds,
        language=language,
        topics=topics,
        places=places,
        figures=tuple(figures),
        figure_sentences=tuple(sentences),
    )


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _LineError(f'"{key}" must be a string')
    return value


def _strings(value: object, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise _LineError(f'"{key}" must be a string or a list of strings')


def _objects(article: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = article.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _LineError(f'"{key}" must be a list of objects')
    return value
