"""Public entry: RuleMatcher agrees with match_query, and the rules-test JSONL contract."""

from __future__ import annotations

import json
import random

from pipeline.stages import match
from pipeline.stages.match import (
    MatchDocument,
    QueryError,
    RuleMatcher,
    compile_query,
    match_query,
)
from pipeline.stages.query.document import DocumentIndex
from tests.conftest import need_shared

_WORDS = (
    *("flood", "floods", "flooding", "storm", "rain", "evacuation", "evacuated", "cease"),
    *("fire", "ceasefire", "air", "strike", "strikes", "airstrike", "war", "award"),
    *("software", "red", "cross", "aid", "the", "of", "in", "port", "city", "talks", "truce"),
)
_FIELDS = ("", "", "", "title:", "text:")


def _random_clause(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.25:
        operator = rng.choice([" AND ", " OR ", " "])
        parts = [_random_clause(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        group = "(" + operator.join(parts) + ")"
        return group + (f" -{rng.choice(_WORDS)}" if rng.random() < 0.3 else "")
    word = rng.choice(_WORDS)
    if roll < 0.45:
        return f'"{word} {rng.choice(_WORDS)}"'
    if roll < 0.55:
        return f'"{word} {rng.choice(_WORDS)}"~{rng.randint(0, 4)}'
    if roll < 0.65 and len(word) > 3:
        return word[: rng.randint(2, len(word) - 1)] + "*"
    if roll < 0.7:
        return f"killed:>={rng.randint(1, 20)}"
    if roll < 0.75:
        return rng.choice(["lang:en", "place:SY", "topic:conflict", "feed:world"])
    return rng.choice(_FIELDS) + word


def _random_doc(rng: random.Random) -> MatchDocument:
    def sentence() -> str:
        joiners = [" ", " ", " ", "-", ", "]
        words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 9))]
        text = words[0]
        for word in words[1:]:
            text += rng.choice(joiners) + word
        return text.capitalize() + "."

    return MatchDocument(
        title=sentence(),
        text=" ".join(sentence() for _ in range(rng.randint(1, 5))),
        feeds=("World",) if rng.random() < 0.5 else (),
        language=rng.choice(["en", "fr", None]),
        topics=(("medtop:16000000", "conflict, war and peace"),) if rng.random() < 0.5 else (),
        places=(("Aleppo", "SY"),) if rng.random() < 0.5 else (),
        figures=(("killed", float(rng.randint(0, 30))),),
    )


def test_rule_matcher_agrees_with_match_query_on_random_rules() -> None:
    rng = random.Random(20240601)
    rules: list[tuple[int, match.CompiledQuery]] = []
    while len(rules) < 400:
        query = _random_clause(rng, 0)
        if rng.random() < 0.5:
            query += " " + _random_clause(rng, 1)
        try:
            rules.append((len(rules), compile_query(query)))
        except QueryError:
            continue
    matcher = RuleMatcher(rules)
    assert len(matcher) == 400
    total_matches = 0
    for _ in range(150):
        doc = _random_doc(rng)
        expected = {key: match_query(query, doc) for key, query in rules}
        expected = {key: result for key, result in expected.items() if result.matched}
        assert matcher.match(doc) == expected
        total_matches += len(expected)
    assert total_matches > 500  # the property is exercised, not vacuous


def test_rule_matcher_skips_rules_without_any_key_word() -> None:
    rules = [("flood", compile_query("flood")), ("figures", compile_query("killed:>5"))]
    matcher = RuleMatcher(rules)
    doc = MatchDocument(title="Storm warning", text="Heavy rain.", figures=(("killed", 9.0),))
    assert matcher.candidates(DocumentIndex(doc)) == [1]
    assert list(matcher.match(doc)) == ["figures"]


def test_rule_matcher_returns_only_matches_in_rule_order() -> None:
    rules = [(name, compile_query(name)) for name in ("storm", "zzq", "rain", "flood*")]
    result = RuleMatcher(rules).match(MatchDocument(title="Rain and storm", text="Flooding."))
    assert list(result) == ["storm", "rain", "flood*"]
    assert result["rain"].hits[0].sentence == "Rain and storm"


def _line(rule_id: object, query: object, article: object) -> str:
    return json.dumps({"id": rule_id, "query": query, "article": article})


def test_rules_jsonl_contract() -> None:
    article = {
        "title": "Flood warning for the port",
        "text": "Residents were evacuated. Rain continues.",
        "feed": "World Desk",
        "language": "en",
        "topics": [{"code": "medtop:06000000", "label": "environment", "score": 0.9}],
        "places": [{"name": "Rotterdam", "country": "NL", "start": 3}],
        "figures": [{"category": "evacuated", "value": 1200, "sentence": "1,200 were evacuated."}],
    }
    lines = [
        _line("r1", "evacuation AND place:NL", article),
        _line("r2", "drought", article),
        _line("r3", "flood)", article),
        "not json at all",
        _line("r5", 42, article),
        _line("r6", "flood", "not an object"),
        "",
        _line("r7", "evacuated:>=1000 feed:world topic:environment lang:en", article),
        json.dumps([1, 2]),
        _line("r9", "flood", {"title": "Flood", "figures": [{"category": "killed"}]}),
    ]
    results = [json.loads(line) for line in match.test_rules_jsonl(lines)]
    assert len(results) == 9  # the blank line is skipped
    for result in results:
        assert set(result) == {"id", "matched", "hits", "error"}
    assert results[0] == {
        "id": "r1",
        "matched": True,
        "hits": [
            {"term": "evacuation", "field": "text", "sentence": "Residents were evacuated."},
            {"term": "NL", "field": "place", "sentence": "Rotterdam"},
        ],
        "error": None,
    }
    assert results[1] == {"id": "r2", "matched": False, "hits": [], "error": None}
    assert results[2]["error"] == "invalid query at position 5: unexpected ')'"
    assert results[2]["matched"] is False
    assert results[3]["id"] is None and results[3]["error"].startswith("malformed JSON")
    assert results[4]["id"] == "r5" and '"query" must be a string' in results[4]["error"]
    assert results[5]["id"] == "r6" and '"article"' in results[5]["error"]
    assert results[6]["matched"] is True
    assert [hit["field"] for hit in results[6]["hits"]] == ["evacuated", "feed", "topic", "lang"]
    assert results[6]["hits"][0]["sentence"] == "1,200 were evacuated."
    assert "JSON object" in results[7]["error"]
    assert results[8]["id"] == "r9" and "numeric" in results[8]["error"]


def test_rules_jsonl_accepts_a_list_of_feeds_and_missing_optional_fields() -> None:
    line = _line("x", "feed:sport", {"title": "Cup final", "feed": ["World", "Sport"]})
    (result,) = [json.loads(out) for out in match.test_rules_jsonl([line])]
    assert result["matched"] is True
    assert result["hits"] == [{"term": "sport", "field": "feed", "sentence": "Sport"}]


def test_rule_matcher_agrees_with_match_query_on_real_articles() -> None:
    data = need_shared("corpora", "bbc-news", "data")
    paths = sorted(data.rglob("*.txt"))[::100][:20]
    docs = []
    for path in paths:
        title, _, text = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        docs.append(MatchDocument(title=title, text=text, language="en"))
    queries = [
        "election*",
        "govern* AND minister",
        '"prime minister"',
        '"said minister"~6',
        "market OR shares -football",
        "e-mail",
        "title:(film OR music)",
        "software AND (firm OR company)",
        "percent:>5 OR profit",
        "lang:en -the",
    ]
    rules = [(query, compile_query(query)) for query in queries]
    matcher = RuleMatcher(rules)
    matched = 0
    for doc in docs:
        expected = {key: match_query(query, doc) for key, query in rules}
        expected = {key: result for key, result in expected.items() if result.matched}
        assert matcher.match(doc) == expected
        matched += len(expected)
    assert matched > 0


def test_rule_matcher_hits_carry_figure_sentences_and_country_places() -> None:
    doc = MatchDocument(
        title="Shelling in the north",
        text="Shelling hit Aleppo overnight. Twelve people were killed, medics said.",
        places=(("Aleppo", "SY"),),
        figures=(("injured", 4.0), ("killed", 12.0)),
        figure_sentences=("Four were hurt.", "Twelve people were killed, medics said."),
    )
    rules = [("r1", compile_query("killed:>=10 AND place:Syria")), ("r2", compile_query("zzq"))]
    result = RuleMatcher(rules).match(doc)
    assert list(result) == ["r1"]
    assert [hit.to_dict() for hit in result["r1"].hits] == [
        {"term": "killed:>=10", "field": "killed", "sentence": doc.figure_sentences[1]},
        {"term": "Syria", "field": "place", "sentence": "Aleppo"},
    ]
