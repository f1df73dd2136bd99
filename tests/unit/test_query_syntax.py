"""Compile-time validation: every refusal is one line with a position."""

from __future__ import annotations

import pytest

from pipeline.stages.match import QueryError, compile_query
from pipeline.stages.query.nodes import And, Figure, Or, Phrase, Prefix, Proximity, Term


def _error(query: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        compile_query(query)
    error = caught.value
    assert "\n" not in str(error)
    return error


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("flood)", 5, "unexpected ')'"),
        ("(flood OR fire", 14, "unexpected end of query"),
        ("flood AND", 9, "unexpected end of query"),
        ('"red cross', 0, "unclosed quote"),
        ("flood author:smith", 6, "unknown field 'author'"),
        ("flood title:(text:fire)", 13, "nested"),
        ("feed:https://example.org/rss", 5, "quote feed URLs"),
        ("NOT flood", 0, "only excluded terms"),
        ("-flood -fire", 0, "only excluded terms"),
        ("flood OR -fire", 9, "cannot be an alternative of OR"),
        ("flood~2", 0, "fuzzy"),
        ("/fl.od/", 0, "regular expressions"),
        ("fl*od", 0, "end of a word"),
        ("fl?od", 0, "end of a word"),
        ("f*", 0, "at least 2 letters"),
        ("*", 0, "at least 2 letters"),
        ("title:[1 TO 5]", 6, "ranges only apply to figure fields"),
        ("killed:many", 7, "expects a number"),
        ("killed:[100 TO 10]", 7, "empty range"),
        ("lang:english", 5, "not a language code"),
        ("topic:medtop:abc", 6, "not a topic code"),
        ("flood ... fire", 6, "no letters or digits"),
        ("flood && fire", 6, "'&&' is Lucene's AND"),
        ('"a b c d e f g h i"~3', 0, "proximity phrase"),
        ('"flood fire"~500', 0, "proximity must be between"),
        ('feed:"bbc news"~2', 5, "only applies to title and text"),
    ],
)
def test_invalid_queries_are_refused_with_a_position(
    query: str, position: int, fragment: str
) -> None:
    error = _error(query)
    assert error.position == position
    assert fragment in error.message
    assert str(error).startswith(f"invalid query at position {position}: ")


def test_query_length_depth_and_clause_count_are_bounded() -> None:
    assert _error("flood " * 400).message.startswith("query is longer than")
    assert "nested deeper" in _error("(" * 20 + "flood" + ")" * 20).message
    assert "more than 200 clauses" in _error(" OR ".join(["ab"] * 201)).message


def test_compiled_query_is_hashable_and_keeps_its_source() -> None:
    first = compile_query("flood AND (rain OR storm)")
    second = compile_query("flood AND (rain OR storm)")
    assert first.source == "flood AND (rain OR storm)"
    assert hash(first) == hash(second)
    assert first == second


def test_implicit_operator_is_and_and_plus_is_required() -> None:
    root = compile_query("flood +rain -storm").root
    assert isinstance(root, And)
    assert [type(node) for node in root.required] == [Term, Term]
    assert len(root.prohibited) == 1


def test_or_flattens_and_leaves_carry_their_kind() -> None:
    root = compile_query('flood OR "red cross" OR evacu* OR "cease fire"~3').root
    assert isinstance(root, Or)
    assert [type(node) for node in root.alternatives] == [Term, Phrase, Prefix, Proximity]


def test_figure_ranges_compile_to_bounds() -> None:
    def bounds(query: str) -> tuple[float | None, float | None, bool, bool]:
        node = compile_query(query).root
        assert isinstance(node, Figure)
        return node.low, node.high, node.include_low, node.include_high

    assert bounds("killed:>=100") == (100.0, None, True, True)
    assert bounds("killed:>100") == (100.0, None, False, True)
    assert bounds("killed:<5") == (None, 5.0, True, False)
    assert bounds("evacuated:[1000 TO *]") == (1000.0, None, True, True)
    assert bounds("killed:{10 TO 100]") == (10.0, 100.0, False, True)
    assert bounds("injured:50") == (50.0, 50.0, True, True)
    assert bounds("money:1,000,000") == (1_000_000.0, 1_000_000.0, True, True)


def test_field_names_are_case_insensitive() -> None:
    assert compile_query("Title:flood").root == compile_query("title:flood").root


def test_boost_is_refused_at_the_caret() -> None:
    # Boosts used to be accepted and ignored; a rule has no score, so they are now refused.
    error = _error("flood^2")
    assert error.position == 5
    assert error.message.startswith("boosts (^) are not supported")


def test_or_beside_and_follows_lucene_clause_rule() -> None:
    # Lucene with default AND: an OR makes both neighbours optional; optional beside required
    # clauses do not filter, so only the required ones remain.
    assert compile_query("flood rain OR storm").root == compile_query("flood").root
    assert compile_query("flood AND rain OR storm").root == compile_query("flood").root
    assert compile_query("flood OR rain storm").root == compile_query("storm").root
    assert compile_query("flood OR rain AND storm").root == compile_query("rain storm").root
    mixed = compile_query("flood OR rain storm -drill").root
    assert mixed == compile_query("storm -drill").root
