"""IPTC Media Topics tagging from weighted term definitions (``pipeline/data/topics.yaml``).

Every pattern of every topic goes into one Aho-Corasick automaton over normalised text
(lower case, accents folded, every run of non-alphanumerics a single space), so a whole
article is scanned once whatever the number of topics.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick

from pipeline.data.load import DataFileError, read_yaml
from pipeline.model import TopicScore

DEFAULT_TOPICS_PATH = Path(__file__).resolve().parents[2] / "data" / "topics.yaml"

_SCORE, _REQUIRE, _EXCLUDE = 0, 1, 2
_CODE = re.compile(r"^[a-z][a-z0-9_-]*:[A-Za-z0-9_.-]+$")
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_DIGIT_LETTER = re.compile(r"(?<=[0-9])(?=[a-z])")
_SETTINGS: dict[str, float] = {
    "title_weight": 3.0,  # a title term says more about the article than a body term
    "threshold": 0.2,  # minimum score a topic needs to be returned
    "scale": 12.0,  # evidence that yields a score of 1 - 1/e (0.63)
    "length_unit": 150.0,  # body words beyond this dilute evidence by sqrt(words / unit)
}
_TOPIC_KEYS = frozenset({"label", "parent", "terms", "require", "exclude"})
_MIN_PREFIX = 3


class TopicConfigError(ValueError):
    """The topic definitions file is not valid YAML or does not follow the schema."""


@dataclass(frozen=True, slots=True)
class _Term:
    topic: int
    weight: float
    kind: int


class TopicModel:
    """Compiled topic definitions: one automaton plus the hierarchy, built once and reused."""

    def __init__(
        self,
        codes: list[str],
        labels: list[str],
        parents: list[int],
        terms: list[_Term],
        automaton: Any,
        settings: dict[str, float],
    ) -> None:
        self.codes = tuple(codes)
        self.labels = tuple(labels)
        self.parents = tuple(parents)
        self.terms = tuple(terms)
        self.automaton = automaton
        self.settings = dict(settings)
        self.depths = tuple(_depth(parents, i) for i in range(len(codes)))
        # Children before parents, so one pass adds every subtree into its ancestors.
        self.bottom_up = tuple(sorted(range(len(codes)), key=lambda i: -self.depths[i]))
        self.has_require = tuple(
            any(t.topic == i and t.kind == _REQUIRE for t in terms) for i in range(len(codes))
        )

    def __repr__(self) -> str:
        return f"TopicModel(topics={len(self.codes)}, patterns={len(self.automaton)})"

    def top_level(self, code: str) -> str:
        """The top-level ancestor of ``code`` (itself when it has no parent)."""
        index = self.codes.index(code)
        while self.parents[index] >= 0:
            index = self.parents[index]
        return self.codes[index]


def normalise_text(text: str) -> str:
    """Lower-case, fold accents, one space for each run of non-alphanumerics; pad with spaces."""
    text = text.lower()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    # "5bn" and "100m" become "5 bn" and "100 m", so units and amounts are words of their own.
    text = _DIGIT_LETTER.sub(" ", _NON_WORD.sub(" ", text))
    return " " + text.strip() + " "


def classify_topics(model: TopicModel, title: str, text: str, limit: int = 5) -> list[TopicScore]:
    """Topics scoring at least the model's threshold, best first, parents before their children."""
    body = normalise_text(text)
    title_hits = _count_terms(model, normalise_text(title))
    body_hits = _count_terms(model, body)
    words = body.count(" ") - 1
    unit = model.settings["length_unit"]
    dilution = math.sqrt(max(words, unit) / unit)
    title_weight = model.settings["title_weight"]

    evidence = [0.0] * len(model.codes)
    required: set[int] = set()
    excluded: set[int] = set()
    for hits, factor in ((title_hits, title_weight), (body_hits, 1.0 / dilution)):
        for term_id, count in hits.items():
            term = model.terms[term_id]
            if term.kind == _REQUIRE:
                required.add(term.topic)
            elif term.kind == _EXCLUDE:
                excluded.add(term.topic)
            else:
                # Repeats add evidence with diminishing returns.
                evidence[term.topic] += term.weight * factor * (1.0 + math.log(count))

    for index in range(len(evidence)):
        blocked = index in excluded or (model.has_require[index] and index not in required)
        evidence[index] = 0.0 if blocked else max(evidence[index], 0.0)
    for index in model.bottom_up:
        parent = model.parents[index]
        if parent >= 0:
            evidence[parent] += evidence[index]

    scale = model.settings["scale"]
    threshold = model.settings["threshold"]
    ranked: list[tuple[float, int, str, int]] = []
    for index, value in enumerate(evidence):
        score = 1.0 - math.exp(-value / scale)
        if value > 0 and score >= threshold:
            ranked.append((-score, model.depths[index], model.codes[index], index))
    ranked.sort()
    return [
        TopicScore(code=code, label=model.labels[index], score=-neg_score)
        for neg_score, _depth_, code, index in ranked[: max(limit, 0)]
    ]


def _count_terms(model: TopicModel, normalised: str) -> Counter[int]:
    hits: Counter[int] = Counter()
    if model.automaton.kind != ahocorasick.AHOCORASICK:
        return hits
    for _end, term_ids in model.automaton.iter(normalised):
        hits.update(term_ids)
    return hits


def _depth(parents: list[int], index: int) -> int:
    depth = 0
    while parents[index] >= 0:
        index = parents[index]
        depth += 1
    return depth


# --- loading -------------------------------------------------------------------------------


def load_topic_model(path: Path | None = None) -> TopicModel:
    """Read and compile topic definitions; raise TopicConfigError with a one-line message."""
    path = path or DEFAULT_TOPICS_PATH
    try:
        data = read_yaml(path)
    except DataFileError as exc:
        raise TopicConfigError(str(exc)) from exc
    try:
        return _compile(data)
    except TopicConfigError as exc:
        raise TopicConfigError(f"{path}: {exc}") from exc


def _compile(data: object) -> TopicModel:
    if not isinstance(data, dict):
        raise TopicConfigError("top level must be a mapping with a 'topics' key")
    if unknown := set(data) - {"version", "settings", "topics"}:
        raise TopicConfigError(f"unknown top-level key(s): {_names(unknown)}")
    settings = _compile_settings(data.get("settings") or {})
    topics = data.get("topics")
    if not isinstance(topics, dict) or not topics:
        raise TopicConfigError("'topics' must be a non-empty mapping of code -> definition")

    codes = [str(code) for code in topics]
    index_of = {code: i for i, code in enumerate(codes)}
    labels: list[str] = []
    parents: list[int] = []
    terms: list[_Term] = []
    keys: dict[str, list[int]] = {}
    for index, (code, spec) in enumerate(topics.items()):
        where = f"topic {code}"
        label, parent = _check_topic(where, code, spec, index_of)
        labels.append(label)
        parents.append(parent)
        seen: dict[tuple[int, str], str] = {}
        for kind, patterns in _topic_patterns(where, spec):
            for pattern, weight in patterns:
                terms.append(_Term(index, weight, kind))
                for key in _pattern_keys(where, pattern):
                    # The same word listed twice would be counted twice.
                    first = seen.setdefault((kind, key), pattern)
                    if first != pattern:
                        raise TopicConfigError(
                            f"{where}: {pattern!r} matches the same words as {first!r}"
                        )
                    keys.setdefault(key, []).append(len(terms) - 1)
    _check_acyclic(codes, parents)
    return TopicModel(codes, labels, parents, terms, _build_automaton(keys), settings)


def _check_topic(
    where: str, code: object, spec: object, index_of: dict[str, int]
) -> tuple[str, int]:
    """The topic's label and parent index (-1 for a top-level topic)."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise TopicConfigError(f"{where}: code must look like 'medtop:04000000'")
    if not isinstance(spec, dict):
        raise TopicConfigError(f"{where}: definition must be a mapping")
    if unknown := set(spec) - _TOPIC_KEYS:
        raise TopicConfigError(f"{where}: unknown key(s): {_names(unknown)}")
    label = spec.get("label")
    if not isinstance(label, str) or not label.strip():
        raise TopicConfigError(f"{where}: 'label' must be a non-empty string")
    parent = spec.get("parent")
    if parent is not None and parent not in index_of:
        raise TopicConfigError(f"{where}: parent {parent!r} is not defined")
    return label, -1 if parent is None else index_of[parent]


def _names(keys: set[object]) -> str:
    return ", ".join(sorted(map(str, keys)))


def _compile_settings(raw: object) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise TopicConfigError("'settings' must be a mapping")
    settings = dict(_SETTINGS)
    for key, value in raw.items():
        if key not in _SETTINGS:
            raise TopicConfigError(f"settings: unknown key {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise TopicConfigError(f"settings: {key} must be a non-negative number")
        settings[key] = float(value)
    if not 0 < settings["threshold"] <= 1:
        raise TopicConfigError("settings: threshold must be in (0, 1]")
    if settings["scale"] <= 0 or settings["length_unit"] <= 0:
        raise TopicConfigError("settings: scale and length_unit must be positive")
    return settings


def _topic_patterns(where: str, spec: dict[str, Any]) -> list[tuple[int, list[tuple[str, float]]]]:
    terms = spec.get("terms") or {}
    if not isinstance(terms, dict):
        raise TopicConfigError(f"{where}: 'terms' must be a mapping of pattern -> weight")
    weighted: list[tuple[str, float]] = []
    for pattern, weight in terms.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise TopicConfigError(f"{where}: weight of {pattern!r} must be a number")
        if not math.isfinite(weight) or weight == 0:
            raise TopicConfigError(f"{where}: weight of {pattern!r} must be finite and non-zero")
        weighted.append((str(pattern), float(weight)))
    result = [(_SCORE, weighted)]
    for name, kind in (("require", _REQUIRE), ("exclude", _EXCLUDE)):
        listed = spec.get(name) or []
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise TopicConfigError(f"{where}: '{name}' must be a list of patterns")
        result.append((kind, [(p, 0.0) for p in listed]))
    return result


def _pattern_keys(where: str, pattern: str) -> list[str]:
    """Automaton keys for one pattern: whole words, a regular plural, or a prefix with '*'."""
    prefix = pattern.endswith("*")
    words = normalise_text(pattern.rstrip("*")).strip()
    if not words:
        raise TopicConfigError(f"{where}: pattern {pattern!r} has no letters or digits")
    if prefix:
        if len(words.rsplit(" ", 1)[-1]) < _MIN_PREFIX:
            raise TopicConfigError(f"{where}: prefix {pattern!r} needs {_MIN_PREFIX}+ letters")
        return [f" {words}"]
    return [f" {form} " for form in _with_plural(words)]


def _with_plural(words: str) -> list[str]:
    last = words.rsplit(" ", 1)[-1]
    if len(last) < 3 or not last.isalpha() or last.endswith("s"):
        return [words]
    if last.endswith(("x", "z", "ch", "sh")):
        return [words, words + "es"]
    if last.endswith("y") and last[-2] not in "aeiou":
        return [words, words[:-1] + "ies"]
    return [words, words + "s"]


def _check_acyclic(codes: list[str], parents: list[int]) -> None:
    for start in range(len(codes)):
        seen = {start}
        index = parents[start]
        while index >= 0:
            if index in seen:
                raise TopicConfigError(f"topic {codes[start]}: parent chain loops")
            seen.add(index)
            index = parents[index]


def _build_automaton(keys: dict[str, list[int]]) -> Any:
    automaton = ahocorasick.Automaton()
    for key, term_ids in keys.items():
        automaton.add_word(key, tuple(term_ids))
    automaton.make_automaton()
    return automaton
