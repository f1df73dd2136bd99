"""Which ``topic:`` and ``place:`` values can ever match, and the nearest names when one cannot.

A value that matches no topic of the model, or no place the extractor can tag, is almost
always a typo (``place:Syrria``) that would never alert, so the compiler refuses it. Whether
a value can match is decided by the evaluator itself, on one document carrying every topic
(or every place name) as its metadata: the values of a metadata field never run into each
other (see :class:`~pipeline.stages.query.document.FieldIndex`), so a leaf found in that
document is exactly a leaf that matches some single topic or place. Validation and matching
cannot drift apart.

Both documents are built on first use and kept for the process (the place document indexes
~35,000 gazetteer names, under a second after the gazetteer itself), so queries without these
fields load nothing. Suggestions are the closest names by :mod:`difflib`, best first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.model import MatchDocument
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.evaluate import find_uncached
from pipeline.stages.query.nodes import And, Country, Node, Or
from pipeline.stages.query.normalise import words

MAX_SUGGESTIONS = 3
# difflib's own default: below it, "suggestions" are mostly noise.
_CUTOFF = 0.6
# Leaf verdicts kept per vocabulary; 100,000 rules share far fewer distinct topic/place leaves.
_CACHE_LIMIT = 50_000
# Label words too common to be worth suggesting on their own ("and" in "war and peace").
_FILLER = frozenset({"and", "or", "of", "the", "in", "for"})


@dataclass(frozen=True, eq=False)
class _Vocabulary:
    index: DocumentIndex  # one document holding every value, each a metadata segment
    names: dict[str, str]  # a name's folded words joined by spaces -> the name as shown
    codes: dict[str, str]  # topic code -> label, or country alpha-2 code -> country name
    verdicts: dict[Node, bool] = field(default_factory=dict)

    def can_match(self, node: Node) -> bool:
        if isinstance(node, Or):
            return any(self.can_match(alternative) for alternative in node.alternatives)
        if isinstance(node, Country):
            # Places carry a country code; only codes the gazetteer knows can turn up.
            return node.code in self.codes
        if isinstance(node, And):
            return False  # a field's value is a leaf or an OR of leaves, never an AND
        verdict = self.verdicts.get(node)
        if verdict is None:
            if len(self.verdicts) >= _CACHE_LIMIT:
                self.verdicts.clear()
            verdict = self.verdicts[node] = find_uncached(node, self.index) is not None
        return verdict

    def closest(self, value: str) -> list[str]:
        key = " ".join(words(value))
        found = difflib.get_close_matches(key, self.names, n=MAX_SUGGESTIONS, cutoff=_CUTOFF)
        return [self.names[name] for name in found]


def topic_can_match(node: Node, topics_file: Path | None = None) -> bool:
    """Whether ``node`` (a ``topic:`` value) matches at least one topic of the model.

    True when the topic definitions cannot be read: the extractor reports a broken file, and
    refusing every topic rule for it would hide that cause behind a misleading one.
    """
    vocabulary = _topics(topics_file)
    return vocabulary is None or vocabulary.can_match(node)


def place_can_match(node: Node) -> bool:
    """Whether ``node`` (a ``place:`` value) matches some place the extractor can tag."""
    return _places().can_match(node)


@lru_cache(maxsize=256)
def unknown_topic(value: str, topics_file: Path | None = None) -> str:
    """The refusal for a ``topic:`` value that matches no topic, with the nearest ones.

    Cached: a refused query is compiled twice (quick path, then luqum for the position).
    """
    vocabulary = _topics(topics_file)
    suggestions: list[str] = []
    if vocabulary is not None:
        if _looks_like_code(value):
            suggestions = _closest_codes(vocabulary, value)
        else:
            suggestions = [f"'{name}'" for name in vocabulary.closest(value)]
    if suggestions:
        return f"unknown topic '{value}'; did you mean {_alternatives(suggestions)}?"
    return (
        f"unknown topic '{value}': no topic code or label of the topic model matches it "
        '(codes like medtop:16000000, labels like "armed conflict": see pipeline/data/topics.yaml)'
    )


@lru_cache(maxsize=256)
def unknown_place(value: str) -> str:
    """The refusal for a ``place:`` value that matches no place, with the nearest names."""
    vocabulary = _places()
    names = dict.fromkeys([*_spelled_as(value), *vocabulary.closest(value.rstrip("*"))])
    suggestions = [f"'{name}'" for name in list(names)[:MAX_SUGGESTIONS]]
    if suggestions:
        return f"unknown place '{value}'; did you mean {_alternatives(suggestions)}?"
    return (
        f"unknown place '{value}': it is neither a country (name, alias or code such as SY) "
        "nor a place name newswatch tags"
    )


def _alternatives(quoted: list[str]) -> str:
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _looks_like_code(value: str) -> bool:
    return value.rpartition(":")[2].isdigit()


def _closest_codes(vocabulary: _Vocabulary, value: str) -> list[str]:
    """Nearest codes, written the way the user wrote theirs (with or without the scheme)."""
    folded = value.lower()
    written = {
        (code if ":" in folded else code.rpartition(":")[2]): code for code in vocabulary.codes
    }
    found = difflib.get_close_matches(folded, written, n=MAX_SUGGESTIONS, cutoff=_CUTOFF)
    return [f"'{short}' ({vocabulary.codes[written[short]]})" for short in found]


@lru_cache(maxsize=4)
def _topics(topics_file: Path | None) -> _Vocabulary | None:
    # Imported here: queries without topic: never pay for the extractor's modules.
    from pipeline.stages.extract.topics import TopicConfigError, load_topic_model

    try:
        model = load_topic_model(topics_file)
    except TopicConfigError:
        return None
    topics = tuple(zip(model.codes, model.labels, strict=True))
    names: dict[str, str] = {}
    for _code, label in topics:
        names.setdefault(" ".join(words(label)), label)
    for _code, label in topics:
        # Single label words are valid values too ("topic:conflict"); full labels go first.
        for word in words(label):
            if len(word) >= 3 and word not in _FILLER:
                names.setdefault(word, word)
    index = DocumentIndex(MatchDocument(title="", text="", topics=topics))
    index.field("topic")  # built now, not by whichever thread validates first
    return _Vocabulary(index, names, {code.lower(): label for code, label in topics})


@lru_cache(maxsize=1)
def _places() -> _Vocabulary:
    from pipeline.stages.extract.gazetteer import load_gazetteer

    gazetteer = load_gazetteer()
    shown: set[str] = set()
    codes = {code: country.name for code, country in gazetteer.countries.items()}
    for _surface, candidates in gazetteer.automaton.values():
        for candidate in candidates:
            # A demonym is tagged as its country ("Syrian" -> Syria), never under its own name.
            if candidate.kind == "demonym":
                continue
            shown.add(candidate.name)
            if candidate.country is not None:
                codes.setdefault(candidate.country, candidate.country)
    names: dict[str, str] = {}
    for name in sorted(shown):
        names.setdefault(" ".join(words(name)), name)
    # Every spelling stays in the index: "Ad-Dali" and "Ad Dali" fold to the same words but
    # join into compounds differently.
    places = tuple((name, None) for name in sorted(shown))
    index = DocumentIndex(MatchDocument(title="", text="", places=places))
    index.field("place")
    return _Vocabulary(index, names, codes)


def _spelled_as(value: str) -> list[str]:
    """Names the gazetteer tags for a spelling it knows: "Kiev" -> Kyiv, "Syrian" -> Syria."""
    from pipeline.stages.extract.gazetteer import load_gazetteer

    gazetteer = load_gazetteer()
    found: list[str] = []
    for surface in dict.fromkeys((value, value.title())):
        for candidate in gazetteer.lookup(surface):
            if candidate.kind != "demonym":
                found.append(candidate.name)
            elif candidate.country in gazetteer.countries:
                found.append(gazetteer.countries[candidate.country].name)
    return found
