"""Matching semantics of every operator and field, with the hits that explain a match."""

from __future__ import annotations

import pytest

from pipeline.stages.match import Hit, MatchDocument, compile_query, match_query
from pipeline.stages.query.countries import country_code

DOC = MatchDocument(
    title="Cease-fire holds in Aleppo as talks resume",
    text=(
        "Thousands of families were evacuated from the old city on Monday. "
        "The Red-Cross said air strikes had stopped overnight. "
        "A local charity won an award for its mapping software. "
        "Officials in Geneva expect a longer truce."
    ),
    feeds=("World Desk", "https://news.example.org/world/rss.xml"),
    language="en-GB",
    topics=(("medtop:16000000", "conflict, war and peace"), ("medtop:11000000", "politics")),
    places=(("Aleppo", "SY"), ("Geneva", "CH")),
    figures=(("evacuated", 3000.0), ("killed", 12.0)),
    figure_sentences=("Thousands of families were evacuated.", "Twelve people were killed."),
)


def matches(query: str, doc: MatchDocument = DOC) -> bool:
    return match_query(compile_query(query), doc).matched


def hits(query: str, doc: MatchDocument = DOC) -> list[tuple[str, str, str]]:
    return [
        (hit.term, hit.field, hit.sentence) for hit in match_query(compile_query(query), doc).hits
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("evacuation", True),  # "evacuated" shares the stem
        ("EVACUATIONS", True),
        ("war", False),  # "award" and "software" are other words
        ("award", True),
        ("software", True),
        ("ceasefire", True),  # hyphenated in the title
        ("ceasefires", True),
        ("airstrike", True),  # spaced "air strikes"
        ("cease-fire", True),
        ("truce", True),
        ("truces", True),
        ("strike", True),  # a part of a spaced compound is still a word
        ("genève", False),
        ("geneva", True),
        ("GENÈVA", True),  # accents fold away on both sides
    ],
)
def test_bare_terms(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_compound_term_matches_the_closed_spelling() -> None:
    doc = MatchDocument(title="", text="The ceasefire was signed.")
    assert matches("cease-fire", doc)
    assert matches("ceasefire", doc)
    assert not matches('"cease fire"', doc)


def test_war_never_matches_inside_other_words() -> None:
    doc = MatchDocument(title="Award for software firm", text="Warsaw and the wardrobe.")
    assert not matches("war", doc)
    assert matches("wars", MatchDocument(title="", text="Two wars ended."))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"red cross"', True),  # punctuation-insensitive
        ('"RED CROSS said"', True),
        ('"red crosses"', False),  # no stemming inside quotes
        ('"cross red"', False),
        ('"air strikes"', True),
        ('"air strike"', False),
    ],
)
def test_phrases(query: str, expected: bool) -> None:
    assert matches(query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("evacu*", True),
        ("EVACU*", True),
        ("softw*", True),
        ("evacuations*", False),  # prefixes use the unstemmed words
        ("ceasef*", False),  # prefixes see single words, not joined pairs
        ("cease*", True),
        ("zzq*", False),
    ],
)
def test_prefixes(query: str, expected: bool) -> None:
    assert matches(query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"ceasefire aleppo"~3', True),  # cease(-fire) holds in aleppo: gap of 2
        ('"ceasefire aleppo"~1', False),
        ('"aleppo ceasefire"~5', True),  # reversed order costs more
        ('"aleppo ceasefire"~4', False),
        ('"air stopped"~3', True),
        ('"strike stop"~2', True),  # words inside proximity are stemmed
        ('"red cross"~0', True),
        ('"cross red"~1', False),
        ('"cross red"~2', True),
        ('"families geneva"~10', False),  # far apart in the text
        ('"families geneva"~60', True),
        ('"aleppo geneva"~60', False),  # never across title and text
    ],
)
def test_proximity_uses_lucene_slop(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_proximity_with_repeated_words_is_decided_without_exhaustive_search() -> None:
    # Every other word is "talks": eight of them spread p_i - i over at least 7 positions.
    doc = MatchDocument(title="", text=" ".join(["talks pause"] * 300))
    assert not matches('"talks talks talks talks talks talks talks talks"~6', doc)
    assert matches('"talks talks talks talks talks talks talks talks"~7', doc)


def test_proximity_needs_distinct_positions() -> None:
    doc = MatchDocument(title="", text="talks resume")
    assert not matches('"talks talks"~3', doc)
    assert matches('"talks talks"~3', MatchDocument(title="", text="talks then talks"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("aleppo geneva", True),  # default operator is AND
        ("aleppo zzq", False),
        ("aleppo AND geneva", True),
        ("aleppo OR zzq", True),
        ("zzq OR qqz", False),
        ("aleppo NOT geneva", False),
        ("aleppo -geneva", False),
        ("aleppo -zzq", True),
        ("aleppo AND NOT zzq", True),
        ("+aleppo +geneva", True),
        ("+aleppo +zzq", False),
        ("(zzq OR aleppo) AND (geneva OR qqz)", True),
        ("aleppo AND (NOT geneva)", False),
        ("aleppo (-zzq -qqz)", True),
        ("aleppo -(zzq OR truce)", False),
        ("zzq OR aleppo AND geneva", True),
    ],
)
def test_boolean_operators(query: str, expected: bool) -> None:
    assert matches(query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("title:aleppo", True),
        ("title:geneva", False),
        ("text:geneva", True),
        ("text:talks", False),
        ("title:(zzq OR talks)", True),
        ('title:"talks resume"', True),
        ("feed:world", True),
        ("feed:desk", True),
        ("feed:sport", False),
        ('feed:"https://news.example.org/world/rss.xml"', True),
        ('feed:"world desk"', True),
        ('feed:"desk https"', False),  # phrases stay inside one feed
        ("lang:en", True),
        ("lang:en-gb", True),
        ("lang:EN-GB", True),
        ("lang:en-us", False),
        ("lang:fr", False),
        ("topic:medtop:16000000", True),
        ('topic:"medtop:11000000"', True),
        ("topic:16000000", True),
        ("topic:17000000", False),
        ("topic:conflict", True),
        ("topic:politics", True),
        ('topic:"war and peace"', True),
        ("topic:sport", False),
        ("place:Aleppo", True),
        ("place:SY", True),
        ("place:ch", True),
        ("place:FR", False),
        ('place:"Geneva"', True),
        ("place:Damascus", False),
    ],
)
def test_fields(query: str, expected: bool) -> None:
    assert matches(query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("evacuated:>=1000", True),
        ("evacuated:>3000", False),
        ("evacuated:>=3000", True),
        ("evacuated:[1000 TO *]", True),
        ("evacuated:[1000 TO 3000}", False),
        ("killed:{10 TO 100]", True),
        ("killed:{12 TO 100]", False),
        ("killed:12", True),
        ("killed:<12", False),
        ("killed:<=12", True),
        ("killed:*", True),
        ("injured:*", False),
        ("displaced:>0", False),
        ("killed:(>=10 AND <20)", True),
        ("killed:>=10 aleppo", True),
    ],
)
def test_figure_thresholds(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_hits_explain_each_positive_term_once_with_its_first_sentence() -> None:
    assert hits("(evacuation OR zzq) airstrike aleppo -software killed:>=10") == []
    found = hits("(evacuation OR zzq) airstrike aleppo -qqz killed:>=10")
    assert found == [
        ("evacuation", "text", "Thousands of families were evacuated from the old city on Monday."),
        ("airstrike", "text", "The Red-Cross said air strikes had stopped overnight."),
        ("aleppo", "title", "Cease-fire holds in Aleppo as talks resume"),
        ("killed:>=10", "killed", "Twelve people were killed."),
    ]


def test_hits_for_metadata_fields_name_the_matched_value() -> None:
    assert hits("feed:world lang:en topic:conflict place:SY") == [
        ("world", "feed", "World Desk"),
        ("en", "lang", "en-GB"),
        ("conflict", "topic", "conflict, war and peace"),
        ("SY", "place", "Aleppo"),
    ]


def test_hits_list_every_matching_alternative_and_repeat_terms_once() -> None:
    result = match_query(compile_query("geneva OR truce OR geneva OR zzq"), DOC)
    assert result.hits == (
        Hit("geneva", "text", "Officials in Geneva expect a longer truce."),
        Hit("truce", "text", "Officials in Geneva expect a longer truce."),
    )
    assert result.hits[0].to_dict() == {
        "term": "geneva",
        "field": "text",
        "sentence": "Officials in Geneva expect a longer truce.",
    }


def test_figure_hit_without_a_known_sentence_is_empty() -> None:
    doc = MatchDocument(title="", text="", figures=(("killed", 5.0),))
    assert hits("killed:5", doc) == [("killed:5", "killed", "")]


def test_unmatched_result_has_no_hits() -> None:
    result = match_query(compile_query("zzq"), DOC)
    assert not result.matched
    assert result.hits == ()


def test_empty_document_never_raises() -> None:
    empty = MatchDocument(title="", text="")
    # topic:16000000, not an arbitrary number: codes no topic has are refused at compile time.
    queries = ("flood", '"a b"', "fl*", '"a b"~3', "lang:en", "topic:16000000", "place:SY")
    for query in (*queries, "killed:1"):
        assert not matches(query, empty)


_PLACES = MatchDocument(
    title="Aid convoys move",
    text="Convoys reached Aleppo and Abidjan; a shipment left Leeds for Goma.",
    places=(("Aleppo", "SY"), ("Abidjan", "CI"), ("Leeds", "GB"), ("Goma", "CD")),
)


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("place:Syria", "Aleppo"),
        ("place:syria", "Aleppo"),
        ('place:"Syrian Arab Republic"', "Aleppo"),
        ("place:UK", "Leeds"),
        ("place:Britain", "Leeds"),
        ('place:"United Kingdom"', "Leeds"),
        ('place:"Ivory Coast"', "Abidjan"),
        ('place:"C\u00f4te d\u2019Ivoire"', "Abidjan"),
        ('place:"DR Congo"', "Goma"),
        ('place:"Democratic Republic of the Congo"', "Goma"),
        ("place:(Russia OR Syria)", "Aleppo"),
    ],
)
def test_place_country_names_match_places_in_that_country(query: str, sentence: str) -> None:
    result = match_query(compile_query(query), _PLACES)
    assert result.matched
    assert result.hits[0].field == "place"
    assert result.hits[0].sentence == sentence


@pytest.mark.parametrize(
    "query", ["place:Russia", "place:Iran", 'place:"United States"', "place:Syr*", "syria"]
)
def test_place_country_names_do_not_overreach(query: str) -> None:
    assert not match_query(compile_query(query), _PLACES).matched


def test_country_code_resolves_names_aliases_and_codes() -> None:
    assert country_code("Syria") == "SY"
    assert country_code("the Netherlands") == "NL"
    assert country_code("U.K.") == "GB"
    assert country_code("us") == "US"
    assert country_code("sy") == "SY"
    assert country_code("Aleppo") is None
    assert country_code("ÄÖ") is None
