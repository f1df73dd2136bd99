"""IPTC Media Topics tagging: shipped definitions, scoring rules and config validation."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.model import TopicScore
from pipeline.stages.extract.topics import (
    TopicConfigError,
    TopicModel,
    classify_topics,
    load_topic_model,
)
from tests.conftest import REPO_ROOT, need_shared


@pytest.fixture(scope="module")
def model() -> TopicModel:
    return load_topic_model()


def _codes(model: TopicModel, title: str, text: str) -> list[str]:
    return [topic.code for topic in classify_topics(model, title, text, limit=20)]


def _top(model: TopicModel, title: str, text: str) -> str:
    topics = classify_topics(model, title, text)
    assert topics, f"nothing scored for {title!r}"
    return model.top_level(topics[0].code)


# One clear, hand-written example per IPTC top-level topic.
TOP_LEVEL_EXAMPLES = [
    (
        "medtop:01000000",
        "Veteran actress wins best film award at festival",
        "The director's new movie, starring two Hollywood actors, premiered to a standing "
        "ovation; the soundtrack album by the singer tops the music charts.",
    ),
    (
        "medtop:02000000",
        "Man charged with murder after stabbing",
        "Police arrested the suspect on Tuesday. He will appear in court next week, where "
        "prosecutors are expected to ask the judge to refuse bail.",
    ),
    (
        "medtop:03000000",
        "Earthquake leaves hundreds dead",
        "Rescuers dug through the rubble of collapsed buildings after a magnitude 7 quake; "
        "the death toll is expected to rise as survivors are pulled out.",
    ),
    (
        "medtop:04000000",
        "Carmaker profits jump as sales rise",
        "The company reported a 20% rise in quarterly pre-tax profit, and its shares climbed "
        "on the stock exchange as investors welcomed higher revenue.",
    ),
    (
        "medtop:05000000",
        "Schools face teacher shortage before exams",
        "Head teachers warn that pupils sitting exams this summer have lost lessons, and "
        "the curriculum review urges more support in every classroom.",
    ),
    (
        "medtop:06000000",
        "Rainforest loss threatens endangered species",
        "Deforestation and pollution are destroying the habitat of rare wildlife, "
        "conservation groups said, calling for cuts in carbon emissions.",
    ),
    (
        "medtop:07000000",
        "Hospital patients wait longer for cancer treatment",
        "Doctors and nurses say the health service needs more staff; patients diagnosed "
        "with the disease face delays before surgery.",
    ),
    (
        "medtop:08000000",
        "Grandmother celebrates 100th birthday with royal letter",
        "The centenarian, honoured by the Queen, marked the anniversary with her family; "
        "the princess sent a card.",
    ),
    (
        "medtop:09000000",
        "Rail workers stage strike over wages",
        "Trade union members walked out after pay talks with employers collapsed; the "
        "union says industrial action will continue until the wage dispute is resolved.",
    ),
    (
        "medtop:10000000",
        "Tourists flock to coastal resorts",
        "Holidaymakers filled hotels and restaurants as the travel and tourism season "
        "began, with chefs offering local cuisine and wine.",
    ),
    (
        "medtop:11000000",
        "Prime minister calls early election",
        "The opposition party said voters deserved a say; MPs in parliament will debate the "
        "government's plans before the campaign begins.",
    ),
    (
        "medtop:12000000",
        "Pope leads prayers for peace at cathedral",
        "Thousands of worshippers gathered as the bishop and priests celebrated mass; "
        "Muslim and Jewish faith leaders joined the religious service.",
    ),
    (
        "medtop:13000000",
        "Scientists build faster quantum computer",
        "Researchers at the laboratory say the experiment shows the technology could run "
        "software that today's computers cannot; the study is published in a journal.",
    ),
    (
        "medtop:14000000",
        "Report finds rise in child poverty and homelessness",
        "Charities say more families rely on food banks and welfare; campaigners warn "
        "that inequality and discrimination are growing.",
    ),
    (
        "medtop:15000000",
        "Striker scores twice as champions win cup final",
        "The team captain praised the coach after the match; the goalkeeper kept a clean "
        "sheet and fans celebrated the league title at the stadium.",
    ),
    (
        "medtop:16000000",
        "Troops advance as fighting spreads",
        "Soldiers and rebels clashed near the border, artillery shelling killed civilians "
        "and the army launched an offensive despite calls for a ceasefire.",
    ),
    (
        "medtop:17000000",
        "Heavy snow and gales expected tomorrow",
        "Forecasters say temperatures will fall below freezing with strong winds and "
        "rain; the weather service issued a severe weather warning.",
    ),
]


def test_default_model_covers_all_top_level_topics(model: TopicModel) -> None:
    top_levels = {
        code for code, parent in zip(model.codes, model.parents, strict=True) if parent < 0
    }
    assert top_levels == {f"medtop:{n:02d}000000" for n in range(1, 18)}


@pytest.mark.parametrize(("expected", "title", "text"), TOP_LEVEL_EXAMPLES, ids=lambda v: v)
def test_top_level_topic_detected(model: TopicModel, expected: str, title: str, text: str) -> None:
    assert _top(model, title, text) == expected


@pytest.mark.parametrize(
    ("child", "title", "text"),
    [
        (
            "medtop:20000053",  # act of terror
            "Suicide bomber kills 12 at market",
            "The terrorist attack was claimed by an extremist group; a car bomb exploded nearby.",
        ),
        (
            "medtop:20000073",  # peace process
            "Rivals sign peace agreement",
            "After months of peace talks, the warring sides agreed a ceasefire and a peace plan.",
        ),
        (
            "medtop:20000070",  # coup d'etat
            "Army seizes power in coup",
            "The military junta said it had overthrown the president and dissolved parliament.",
        ),
        (
            "medtop:20000071",  # massacre
            "Villagers massacred by gunmen",
            "Investigators found a mass grave; rights groups called the killings an atrocity.",
        ),
        (
            "medtop:20000056",  # armed conflict
            "Air strikes hit rebel positions",
            "Troops backed by artillery pushed towards the front line as fighting intensified.",
        ),
        (
            "medtop:20000065",  # civil unrest
            "Protesters clash with riot police",
            "Tear gas was fired as thousands of demonstrators marched on the capital.",
        ),
    ],
)
def test_conflict_children_listed_with_parent(
    model: TopicModel, child: str, title: str, text: str
) -> None:
    codes = _codes(model, title, text)
    assert child in codes
    assert "medtop:16000000" in codes
    assert codes.index("medtop:16000000") < codes.index(child)


def test_refugees_and_displaced_people(model: TopicModel) -> None:
    title = "Thousands of refugees flee fighting"
    text = (
        "Aid agencies say 40,000 people have been displaced; families who fled their homes "
        "are sheltering in a refugee camp run by the UN refugee agency."
    )
    codes = _codes(model, title, text)
    assert "medtop:20000645" in codes  # refugees and internally displaced people
    assert "medtop:11000000" in codes  # its IPTC top level is politics


def test_immigration_is_society(model: TopicModel) -> None:
    codes = _codes(
        model,
        "Government tightens immigration rules",
        "Migrants will need a work permit; illegal immigrants face faster deportation.",
    )
    assert {"medtop:20000771", "medtop:20000773", "medtop:14000000"} <= set(codes)


def test_natural_disaster_chain(model: TopicModel) -> None:
    codes = _codes(
        model, "Floods force thousands to evacuate", "Rivers burst their banks after flooding."
    )
    assert {"medtop:20000154", "medtop:20000151", "medtop:20000148", "medtop:03000000"} <= set(
        codes
    )


def test_scores_in_range_sorted_and_limited(model: TopicModel) -> None:
    title, text = TOP_LEVEL_EXAMPLES[15][1:]
    topics = classify_topics(model, title, text, limit=3)
    assert 0 < len(topics) <= 3
    assert all(0.0 <= topic.score <= 1.0 for topic in topics)
    assert [t.score for t in topics] == sorted((t.score for t in topics), reverse=True)
    everything = classify_topics(model, title * 20, text * 20, limit=100)
    assert all(0.0 <= topic.score <= 1.0 for topic in everything)


def test_nothing_scores_on_neutral_text(model: TopicModel) -> None:
    assert classify_topics(model, "", "") == []
    assert classify_topics(model, "Hello", "It is what it is, she said.") == []


def test_whole_words_only(model: TopicModel) -> None:
    codes = _codes(model, "Warning", "Officials warn the warden about a coward.")
    assert "medtop:20000062" not in codes  # war


def test_to_dict() -> None:
    topic = TopicScore(code="medtop:15000000", label="sport", score=0.876543)
    assert topic.to_dict() == {"code": "medtop:15000000", "label": "sport", "score": 0.8765}


# --- config handling -----------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CUSTOM = """
settings: {threshold: 0.1, scale: 2}
topics:
  x:root:
    label: root
  x:child:
    label: child
    parent: x:root
    terms: {bake*: 2, "sour dough": 3, oven: 1}
    require: [bread]
    exclude: [sponge cake]
"""


def test_custom_model_prefix_phrase_plural_and_propagation(tmp_path: Path) -> None:
    model = load_topic_model(_write(tmp_path, CUSTOM))
    topics = classify_topics(model, "", "Bakers love sour-dough bread and hot ovens.")
    assert [t.code for t in topics] == ["x:root", "x:child"]
    assert topics[0].score == topics[1].score  # the root has no terms of its own


def test_custom_model_require_and_exclude(tmp_path: Path) -> None:
    model = load_topic_model(_write(tmp_path, CUSTOM))
    assert classify_topics(model, "", "Bakers and ovens everywhere.") == []  # no "bread"
    assert classify_topics(model, "", "Bread from the baker, then sponge cake.") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("topics: [unclosed\n  - x: 1\n", "invalid YAML"),
        ("topics:\n  x:a: {label: a}\n  x:a: {label: b}\n", "duplicate key 'x:a'"),
        ("topics:\n  x:a: {label: a, parent: x:missing}\n", "parent 'x:missing'"),
        ("topics:\n  x:a: {label: a, terms: {war: high}}\n", "weight of 'war'"),
        ("topics:\n  x:a: {label: a, terms: {refugee: 1, refugees: 2}}\n", "same words"),
        ("topics:\n  x:a: {label: a, colour: red}\n", "unknown key"),
        ("topics:\n  x:a: {label: a, parent: x:b}\n  x:b: {label: b, parent: x:a}\n", "loops"),
        ("settings: {threshold: 2}\ntopics:\n  x:a: {label: a}\n", "threshold"),
        ("- just\n- a list\n", "top level"),
    ],
)
def test_invalid_config_is_a_one_line_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(TopicConfigError) as info:
        load_topic_model(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    assert isinstance(info.value, ValueError)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(TopicConfigError, match="cannot read"):
        load_topic_model(tmp_path / "absent.yaml")


# --- against the shared corpora ------------------------------------------------------------


@pytest.mark.shared
def test_codes_labels_and_parents_match_iptc_2023(model: TopicModel) -> None:
    path = need_shared("corpora", "iptc-media-topics", "cptall-en-US.2023-03-31.json")
    concepts = {c["qcode"]: c for c in json.loads(path.read_text(encoding="utf-8"))["conceptSet"]}
    for code, label, parent in zip(model.codes, model.labels, model.parents, strict=True):
        concept = concepts[code]
        assert "retired" not in concept, code
        assert concept["prefLabel"]["en-US"] == label, code
        broader = {f"medtop:{b.rsplit('/', 1)[1]}" for b in concept.get("broader", [])}
        assert ({model.codes[parent]} if parent >= 0 else set()) <= broader, code
        assert (parent >= 0) == bool(broader), code


def _eval_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eval_topics", REPO_ROOT / "benchmarks" / "eval_topics.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared
def test_bbc_top_level_accuracy(model: TopicModel) -> None:
    corpus = need_shared("corpora", "bbc-news", "data")
    evaluation = _eval_module()
    report = evaluation.evaluate(model, evaluation.load_bbc(corpus))
    assert report.total == 2225
    assert report.accuracy >= 0.85
