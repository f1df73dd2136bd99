"""The search index terms and queries (pure): a superset of what rules match, never less."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from pipeline.stages.match import compile_query
from pipeline.stages.search import (
    ANY_TERM,
    MAX_TERM,
    Cursor,
    figure_clause,
    fts5_match,
    index_query,
    index_terms,
    quoted,
)

ARTICLES = {
    1: ("Ceasefire holds in Aleppo", "Thousands were evacuated after air strikes on Tuesday."),
    2: ("Markets rally", "Shares rose 2 percent as the cease-fire news spread."),
    3: ("Évacuation à Marseille", "Des milliers de résidents évacués; the Red Cross helped."),
    4: ("Science prize", "A physicist won the prize for work on superconductors."),
}


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE s USING fts5(terms, detail=none)")
    for article_id, (title, text) in ARTICLES.items():
        terms = " ".join(index_terms(title, text))
        connection.execute("INSERT INTO s (rowid, terms) VALUES (?, ?)", (article_id, terms))
    return connection


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ceasefire", {1, 2}),  # the joined spelling finds "cease-fire"
        ("cease-fire", {1, 2}),
        ("airstrikes", {1}),
        ("evacu*", {1, 3}),  # a prefix of folded words: "Évacuation"
        ('"red cross"', {3}),
        ("superconductor", {4}),
        ("ceasefire AND markets", {2}),
        ("aleppo OR physicist", {1, 4}),
        ("wars", set()),
    ],
)
def test_the_index_finds_what_the_matcher_needs(
    fts: sqlite3.Connection, query: str, expected: set[int]
) -> None:
    groups = index_query(compile_query(query))
    assert groups is not None
    found = {
        row[0] for row in fts.execute("SELECT rowid FROM s WHERE s MATCH ?", (fts5_match(groups),))
    }
    assert found == expected


@pytest.mark.parametrize("query", ["killed:>=10", "ceasefire OR killed:>10", "-war AND killed:*"])
def test_queries_that_require_no_word_are_not_narrowed(query: str) -> None:
    assert index_query(compile_query(query)) is None


def test_long_words_and_huge_articles_stay_findable() -> None:
    word = "x" * 600
    terms = index_terms("t", f"a {word} b")
    assert max(len(term) for term in terms) == MAX_TERM
    groups = index_query(compile_query(word))
    assert groups is not None and any(t.prefix for t in groups[0] if t.term != ANY_TERM)
    huge = " ".join(f"w{i}x" for i in range(60_000))
    assert index_terms("t", huge) == [ANY_TERM]
    assert all(any(t.term == ANY_TERM for t in group) for group in groups)


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    cursor = Cursor(datetime(2026, 11, 30, 8, 15, tzinfo=UTC), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "%%%", "bm90IGpzb24", Cursor(cursor.sort_at, 1).encode()[:-3]):
        with pytest.raises(ValueError, match="invalid cursor"):
            Cursor.decode(bad)


def test_filters_become_query_clauses_or_clear_errors() -> None:
    categories = ("killed", "injured")
    assert figure_clause(" Killed:>=10 ", categories) == "killed:>=10"
    with pytest.raises(ValueError, match="invalid figure filter"):
        figure_clause("killed>=10", categories)
    with pytest.raises(ValueError, match="invalid figure filter"):
        figure_clause("money:>5", categories)
    assert quoted("  armed   conflict ", "topic") == '"armed conflict"'
    with pytest.raises(ValueError, match="invalid place"):
        quoted('"', "place")
