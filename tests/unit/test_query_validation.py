"""Save-time validation: unsupported Lucene syntax, lower-case operator words, and topic/place
values that could never match, each refused or flagged at its position."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.model import MatchDocument
from pipeline.stages.extract.topics import load_topic_model
from pipeline.stages.match import QueryError, compile_query, match_query, query_warnings
from pipeline.stages.query.nodes import Proximity
from pipeline.stages.query.quickparse import parse_simple
from pipeline.stages.query.syntax import CompiledQuery, compile_tree


def _error(query: str, topics_file: Path | None = None) -> QueryError:
    with pytest.raises(QueryError) as caught:
        compile_tree(query, topics_file=topics_file)
    error = caught.value
    assert "\n" not in str(error)
    return error


def _compile(query: str, *, quick: bool) -> CompiledQuery | str:
    try:
        return compile_tree(query, quick=quick)
    except QueryError as error:
        return str(error)


BOOST = "boosts (^) are not supported"
NEGATIVE = "proximity (~N) cannot be negative"
FRACTION = "proximity (~N) takes a whole number of words"

REFUSALS = [
    # boosts, at the "^" whatever they boost
    ("flood^2", 5, BOOST),
    ('"red cross"^3', 11, BOOST),
    ("(flood OR fire)^2", 15, BOOST),
    ("title:(flood fire)^2", 18, BOOST),
    ("flood fire ^2", 11, BOOST),
    ("flood^", 5, BOOST),
    ("flood^2.5 fire", 5, BOOST),
    ('"cease fire"~2^3', 14, BOOST),
    ("place:Syria^2", 11, BOOST),
    ("x^1..2", 1, BOOST),  # luqum raised decimal.InvalidOperation here
    # slop must be a whole number, at the "~"
    ('"red cross"~-1', 11, NEGATIVE),
    ('flood "red cross"~-3', 17, NEGATIVE),
    ('"red cross"~1.5', 11, f"{FRACTION}, not '1.5'"),
    ('"red cross"~2.', 11, f"{FRACTION}, not '2.'"),
    ('"red cross"~1..2', 11, FRACTION),
    ('"red cross"~101', 0, "proximity must be between 0 and 100"),
    # other Lucene syntax that is still refused, each with its position
    ("flood~", 0, "fuzzy terms (word~) are not supported"),
    ("rain flood~2", 5, "fuzzy terms"),
    ("flood~1..2", 0, "fuzzy terms"),  # luqum raised decimal.InvalidOperation here
    ("rain fl?od", 5, "wildcards are only supported at the end of a word"),
    ("rain title:ev*c", 11, "wildcards are only supported at the end of a word"),
    ("rain /fl.od/", 5, "regular expressions (/.../) are not supported"),
    ("rain title:[a TO b]", 11, "ranges only apply to figure fields"),
    ("rain text:>5", 10, "ranges only apply to figure fields"),
    ("[1 TO 5]", 0, "ranges only apply to figure fields"),
    ("flood || fire", 6, "'||' is Lucene's OR, which newswatch does not read; write OR"),
    ("flood !drill", 6, "'!' is Lucene's NOT, which newswatch does not read; write NOT or -"),
    ("!drill flood", 0, "'!' is Lucene's NOT"),
]


@pytest.mark.parametrize(("query", "position", "fragment"), REFUSALS)
def test_unsupported_syntax_is_refused_at_its_position(
    query: str, position: int, fragment: str
) -> None:
    error = _error(query)
    assert error.position == position
    assert error.message.startswith(fragment)


@pytest.mark.parametrize("query", [query for query, _, _ in REFUSALS])
def test_quick_and_luqum_paths_refuse_alike(query: str) -> None:
    assert _compile(query, quick=True) == _compile(query, quick=False)


@pytest.mark.parametrize("query", ['"red cross"~0', '"red cross"~100', '"red cross"~', "Yahoo!"])
def test_whole_number_slops_and_a_trailing_bang_still_compile(query: str) -> None:
    assert compile_query(query).root is not None


def test_bare_tilde_keeps_luqums_slop_of_one() -> None:
    root = compile_query('"red cross"~').root
    assert isinstance(root, Proximity)
    assert root.slop == 1


# --- lower-case operator words -------------------------------------------------------------


def test_lower_case_or_between_terms_is_a_word_with_a_warning() -> None:
    assert query_warnings("ceasefire or truce") == [
        "'or' at position 10 is searched as a word; write OR to mean either term"
    ]
    # The warning tells the truth: the word "or" is required like any other term.
    query = compile_query("ceasefire or truce")
    assert not match_query(
        query, MatchDocument(title="", text="A ceasefire, then a truce.")
    ).matched
    found = MatchDocument(title="", text="A ceasefire or a truce.")
    assert match_query(query, found).matched


def test_lower_case_and_keeps_rock_and_roll_working_but_warns() -> None:
    assert query_warnings("rock and roll") == [
        "'and' at position 5 is searched as a word; write AND to require both terms, "
        "or quote the words to search them as a phrase"
    ]
    query = compile_query("rock and roll")
    assert match_query(query, MatchDocument(title="Rock and roll is back", text="")).matched
    assert not match_query(query, MatchDocument(title="Rock 'n' roll is back", text="")).matched


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("flood not drill", ["'not' at position 6 is searched as a word; write NOT"]),
        ("flood Or fire", ["'Or' at position 6 is searched as a word; write OR"]),
        ('(flood) or "x y"', ["'or' at position 8"]),
        ("title:flood or place:Aleppo", ["'or' at position 12"]),
        ("a or b and c", ["'or' at position 2", "'and' at position 7"]),
        ("flood or fire 'x", ["'or' at position 6"]),  # an illegal character ends the scan
    ],
)
def test_operator_words_between_terms_are_flagged(query: str, expected: list[str]) -> None:
    found = query_warnings(query)
    assert len(found) == len(expected)
    for warning, start in zip(found, expected, strict=True):
        assert warning.startswith(start)
        assert "\n" not in warning


@pytest.mark.parametrize(
    "query",
    [
        "ceasefire OR truce",
        "ceasefire AND truce NOT drill",
        '"rock and roll"',
        'title:"war or peace" flood',
        "and flood",  # at the start: nothing before it to join
        "flood and",  # at the end
        "(and flood)",
        "flood (or fire)",
        "title:or fire",  # a field's value
        "flood \\and fire",  # escaped on purpose
        "",
        "'",
    ],
)
def test_no_warning_where_no_operator_was_meant(query: str) -> None:
    assert query_warnings(query) == []


# --- topic: and place: values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "start"),
    [
        (
            'topic:"armed confict"',
            6,
            "unknown topic 'armed confict'; did you mean 'armed conflict'",
        ),
        ("topic:confict", 6, "unknown topic 'confict'; did you mean 'conflict'"),
        ("flood topic:(war OR peice)", 20, "unknown topic 'peice'; did you mean 'peace'"),
        (
            "topic:1600000",
            6,
            "unknown topic '1600000'; did you mean '16000000' (conflict, war and peace)",
        ),
        (
            "topic:medtop:1600000",
            6,
            "unknown topic 'medtop:1600000'; did you mean 'medtop:16000000' (conflict, war",
        ),
        ("topic:xyzzy", 6, "unknown topic 'xyzzy': no topic code or label"),
        ("place:Syrria", 6, "unknown place 'Syrria'; did you mean 'Syria'"),
        ("flood -place:Syrria", 13, "unknown place 'Syrria'; did you mean 'Syria'"),
        ('place:"New Yrok"', 6, "unknown place 'New Yrok'; did you mean 'New York'"),
        ("place:Kiev", 6, "unknown place 'Kiev'; did you mean 'Kyiv'"),  # tagged as Kyiv
        ("place:Syrian", 6, "unknown place 'Syrian'; did you mean 'Syria'"),  # a demonym
        ("place:ZZ", 6, "unknown place 'ZZ': it is neither a country"),  # no such country
        ("place:xqzzy", 6, "unknown place 'xqzzy': it is neither a country"),
    ],
)
def test_topic_and_place_values_that_never_match_are_refused_with_suggestions(
    query: str, position: int, start: str
) -> None:
    error = _error(query)
    assert error.position == position
    assert error.message.startswith(start)
    assert _compile(query, quick=True) == _compile(query, quick=False)


@pytest.mark.parametrize(
    "query",
    [
        "topic:conflict",
        "topic:conflicts",  # stemmed, as matching does
        'topic:"armed conflict"',
        "topic:confl*",
        "topic:16000000",
        "topic:medtop:16000000",
        'topic:"medtop:16000000"',
        "place:Aleppo",
        "place:aleppo",
        'place:"New York"',
        "place:Syr*",
        "place:Syria",
        "place:SY",
        "place:XK",
        'place:"Ivory Coast"',
    ],
)
def test_values_that_can_match_compile(query: str) -> None:
    assert compile_tree(query) == compile_tree(query, quick=False)


def test_every_topic_label_and_code_of_the_model_is_accepted() -> None:
    model = load_topic_model()
    for code, label in zip(model.codes, model.labels, strict=True):
        compile_query(f'topic:"{label}"')
        compile_query(f"topic:{code.rpartition(':')[2]}")


def test_topics_are_checked_against_the_given_topics_file(tmp_path: Path) -> None:
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  medtop:99:\n    label: desert locusts\n", encoding="utf-8")
    assert compile_tree("topic:locust", topics_file=topics).root is not None
    assert compile_tree("topic:99", topics_file=topics).root is not None
    error = _error("topic:weather", topics_file=topics)
    assert error.message == "unknown topic 'weather': " + (
        "no topic code or label of the topic model matches it (codes like medtop:16000000, "
        'labels like "armed conflict": see pipeline/data/topics.yaml)'
    )
    assert _error("topic:lokusts", topics_file=topics).message.endswith("'locusts'?")
    with pytest.raises(QueryError):
        compile_query("topic:locust")  # not a topic of the shipped file


def test_unreadable_topics_file_does_not_refuse_topic_values(tmp_path: Path) -> None:
    assert compile_tree("topic:anything", topics_file=tmp_path / "missing.yaml").root


def test_queries_without_topic_or_place_load_neither_vocabulary() -> None:
    code = (
        "import sys\n"
        "from pipeline.stages.match import compile_query\n"
        "compile_query('flood AND title:(rain OR storm) lang:en killed:>=5')\n"
        "print(sorted(m for m in sys.modules if m.startswith('pipeline.stages.extract')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_quick_parser_leaves_boosts_and_odd_slops_to_luqum() -> None:
    # The lexical checks only run on the luqum path; they hold because these never take the
    # quick one.
    for query in ("flood^2", '"a b"~-1', '"a b"~1.5', "flood~"):
        assert parse_simple(query) is None
