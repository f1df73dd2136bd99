"""The quick parser compiles every query it accepts exactly as luqum's parser does."""

from __future__ import annotations

import random

import pytest

from pipeline.stages.match import QueryError
from pipeline.stages.query.quickparse import parse_simple
from pipeline.stages.query.syntax import CompiledQuery, compile_tree

_WORDS = (
    *("flood", "Floods", "cease-fire", "air", "strikes", "évacuation", "don't", "Aleppo's"),
    *("a/b", "x*", "ev*", "12", "3.5", "1,000", "en", "SY", "Syria", "and", "or", "not"),
)
_TRICKY = (*("AND", "OR", "NOT", "TO", "e*", "fl?od", "*", "&&", "||", "!", "=", 'a"b'),)
_TRICKY_MORE = ("T12:30", "x:y:z")
_FIELDS = (*("title:", "text:", "place:", "killed:", "lang:", "topic:", "topic:medtop:"),)
_FIELDS_MORE = ("feed:", "foo:", "Title:", "money:")
_ODD = (*("[1 TO 5]", "{1 TO *]", "word^2", "/ab/", "word~", "word~2", '"a b"~1.5', '"a b"~'),)
_ODD_MORE = (*('"a b" ~3', ">= 10", "(", ")", '"', "\\-x", "'x", ":x", "-", "()", "x:"),)
_JOINERS = (" AND ", " OR ", " ", " AND ", " OR ", " ", "  \t", " NOT ", " AND NOT ", "", " && ")


def _atom(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(_WORDS)
    if roll < 0.55:
        return rng.choice(_TRICKY + _TRICKY_MORE)
    if roll < 0.7:
        words = " ".join(rng.choice(_WORDS[:8]) for _ in range(rng.randint(0, 3)))
        suffix = rng.choice(["", "", "", f"~{rng.randint(0, 12)}", "~05"])
        return f'"{words}"{suffix}'
    if roll < 0.75:
        return rng.choice([">=", ">", "<", "<="]) + rng.choice(["10", "2.5", '"3"', "x"])
    if roll < 0.8:
        return rng.choice(_ODD + _ODD_MORE)
    return rng.choice(_FIELDS + _FIELDS_MORE) + _atom(rng)


def _clause(rng: random.Random, depth: int) -> str:
    prefix = rng.choice(["", "", "", "", "-", "+", "NOT ", "- "])
    if depth < 3 and rng.random() < 0.3:
        parts = [_clause(rng, depth + 1) for _ in range(rng.randint(1, 4))]
        body = parts[0]
        for part in parts[1:]:
            body += rng.choice(_JOINERS) + part
        field = rng.choice(_FIELDS) if rng.random() < 0.2 else ""
        return f"{prefix}{field}({body})"
    return prefix + _atom(rng)


def _random_query(rng: random.Random) -> str:
    parts = [_clause(rng, 0) for _ in range(rng.randint(1, 4))]
    query = parts[0]
    for part in parts[1:]:
        query += rng.choice(_JOINERS) + part
    return query


def _compile(query: str, *, quick: bool) -> CompiledQuery | str:
    try:
        return compile_tree(query, quick=quick)
    except QueryError as error:
        return str(error)


def test_quick_parser_agrees_with_luqum_on_random_queries() -> None:
    rng = random.Random(20240612)
    accepted = compiled = 0
    for _ in range(3000):
        query = _random_query(rng)
        expected = _compile(query, quick=False)
        assert _compile(query, quick=True) == expected, query
        if parse_simple(query) is not None:
            accepted += 1
            compiled += not isinstance(expected, str)
    # The comparison is only meaningful if the quick path handles a real share of queries.
    assert accepted > 1000
    assert compiled > 300


@pytest.mark.parametrize(
    "query",
    [
        "flood",
        "flood AND evacu* -drill",
        "(flood OR storm) AND evacuation NOT drill",
        '"red cross" OR title:"aid convoy"~3',
        "title:ceasefire OR text:(talks AND truce)",
        "cease-fire lang:en killed:>=10 money:<5",
        "topic:medtop:16000000 place:Syria",
    ],
)
def test_common_rule_shapes_take_the_quick_path(query: str) -> None:
    assert parse_simple(query) is not None
    assert compile_tree(query) == compile_tree(query, quick=False)


@pytest.mark.parametrize(
    "query",
    ["a OR b c", "a AND b OR c", "killed:[1 TO 5]", "flood^2", "fl\\*ood", "/re/", "a TO b"],
)
def test_ambiguous_or_rare_shapes_go_through_luqum(query: str) -> None:
    assert parse_simple(query) is None


def test_errors_keep_luqum_positions() -> None:
    with pytest.raises(QueryError) as error:
        compile_tree("flood OR -drill")
    assert error.value.position is not None
