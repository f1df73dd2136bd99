"""Evaluate a compiled tree against a :class:`DocumentIndex` and explain the match.

Leaf results are cached on the document index: (field, position, fixed sentence) of the
first occurrence, or ``None``. Positions index words in the field's :class:`FieldIndex`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from pipeline.model import Hit, MatchResult
from pipeline.stages.query.document import DocumentIndex, FieldIndex
from pipeline.stages.query.nodes import (
    And,
    Country,
    Figure,
    Language,
    Leaf,
    Node,
    Or,
    Phrase,
    Prefix,
    Proximity,
    Term,
    TopicCode,
)
from pipeline.stages.query.normalise import compound_key, stem

Occurrence = tuple[str, int, str | None]
_MISSING = object()


def evaluate(root: Node, index: DocumentIndex) -> MatchResult:
    """Whether ``root`` matches, with one hit per matched positive term (first occurrence)."""
    if not holds(root, index):
        return MatchResult(False, ())
    hits: dict[tuple[str, str], Hit] = {}
    _collect(root, index, hits)
    return MatchResult(True, tuple(hits.values()))


def holds(node: Node, index: DocumentIndex) -> bool:
    if isinstance(node, And):
        return all(holds(child, index) for child in node.required) and not any(
            holds(child, index) for child in node.prohibited
        )
    if isinstance(node, Or):
        return any(holds(child, index) for child in node.alternatives)
    return first_occurrence(node, index) is not None


def _collect(node: Node, index: DocumentIndex, hits: dict[tuple[str, str], Hit]) -> None:
    if isinstance(node, And):
        for child in node.required:
            _collect(child, index, hits)
        return
    if isinstance(node, Or):
        for child in node.alternatives:
            if holds(child, index):
                _collect(child, index, hits)
        return
    found = first_occurrence(node, index)
    if found is None:
        return
    field, position, sentence = found
    key = (node.label, field)
    if key not in hits:
        if sentence is None:
            sentence = index.field(field).sentence(position)
        hits[key] = Hit(node.label, field, sentence)


def first_occurrence(leaf: Leaf, index: DocumentIndex) -> Occurrence | None:
    """First place ``leaf`` occurs in the document (cached per document)."""
    cached = index.cache.get(leaf, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    found = _find(leaf, index)
    index.cache[leaf] = found
    return found


def find_uncached(leaf: Leaf, index: DocumentIndex) -> Occurrence | None:
    """:func:`first_occurrence` without storing the result on ``index``.

    For an index that lives for the whole process (query validation), whose per-leaf cache
    would otherwise grow with every query ever checked.
    """
    return _find(leaf, index)


def _find(leaf: Leaf, index: DocumentIndex) -> Occurrence | None:
    if isinstance(leaf, Term | Phrase | Prefix | Proximity):
        for field in leaf.fields:
            position = _find_in_field(leaf, index.field(field))
            if position is not None:
                return (field, position, None)
        return None
    doc = index.doc
    if isinstance(leaf, Figure):
        for number, (category, value) in enumerate(doc.figures):
            if category.lower() == leaf.category and leaf.accepts(value):
                sentences = doc.figure_sentences
                return (leaf.category, number, sentences[number] if number < len(sentences) else "")
        return None
    if isinstance(leaf, Language):
        language = (doc.language or "").lower().replace("_", "-")
        if language == leaf.code or ("-" not in leaf.code and language.split("-")[0] == leaf.code):
            return ("lang", 0, doc.language or "")
        return None
    if isinstance(leaf, TopicCode):
        for number, (code, label) in enumerate(doc.topics):
            folded = code.lower()
            if folded == leaf.code or folded.rpartition(":")[2] == leaf.code:
                return ("topic", number, label or code)
        return None
    if isinstance(leaf, Country):
        for number, (name, country) in enumerate(doc.places):
            if country is not None and country.upper() == leaf.code:
                return ("place", number, name)
        return None
    return None


def _find_in_field(leaf: Term | Phrase | Prefix | Proximity, field: FieldIndex) -> int | None:
    if isinstance(leaf, Term):
        return _term(field, leaf)
    if isinstance(leaf, Phrase):
        return _phrase(field, leaf.words)
    if isinstance(leaf, Prefix):
        return field.prefix_first(leaf.prefix)
    return _proximity(field, leaf)


def _term(field: FieldIndex, term: Term) -> int | None:
    stems = term.stems
    first_spots = field.stem_positions.get(stems[0])
    if len(stems) == 1:
        spot = first_spots[0] if first_spots else None
        compound = _first_compound(field, term.words[0], stems[0])
        if compound is not None and (spot is None or compound < spot):
            return compound
        return spot
    best: int | None = None
    if term.joined is not None:
        spots = field.stem_positions.get(term.joined)
        best = spots[0] if spots else None
    if first_spots:
        field_stems = field.stems
        for spot in first_spots:
            if best is not None and spot >= best:
                break
            if _sequence_at(field_stems, spot, stems):
                return spot
    return best


def _compound_spots(field: FieldIndex, word: str, word_stem: str) -> list[int]:
    """Positions of joined pairs spelling ``word`` ("air strikes" for airstrike), in order."""
    key = compound_key(word)
    if key is None or not field.pairs:
        return []
    return [spot for spot, joined in field.pairs_for(key) if stem(joined) == word_stem]


def _first_compound(field: FieldIndex, word: str, word_stem: str) -> int | None:
    spots = _compound_spots(field, word, word_stem)
    return spots[0] if spots else None


def _word_spots(field: FieldIndex, word: str, word_stem: str) -> list[int]:
    spots = field.stem_positions.get(word_stem, [])
    compounds = _compound_spots(field, word, word_stem)
    return sorted(spots + compounds) if compounds else spots


def _phrase(field: FieldIndex, words: tuple[str, ...]) -> int | None:
    spots = field.word_positions.get(words[0])
    if not spots:
        return None
    if len(words) == 1:
        return spots[0]
    for spot in spots:
        if _sequence_at(field.words, spot, words):
            return spot
    return None


def _sequence_at(tokens: list[str | None], start: int, wanted: tuple[str, ...]) -> bool:
    if start + len(wanted) > len(tokens):
        return False
    return all(tokens[start + offset] == word for offset, word in enumerate(wanted))


def _proximity(field: FieldIndex, leaf: Proximity) -> int | None:
    """Lucene sloppy-phrase distance: with word i at position p_i, the spread of p_i - i.

    Words may appear in any order at distinct positions; ``"a b"~0`` is the exact phrase,
    ``"b a"`` needs a slop of 2, and a gap of g words in order costs g. Each word matches
    like a bare term (stems and joined compounds, at the compound's first word).
    """
    lists: list[list[int]] = []
    for word, word_stem in zip(leaf.words, leaf.stems, strict=True):
        spots = _word_spots(field, word, word_stem)
        if not spots:
            return None
        lists.append(spots)
    slop = leaf.slop
    anchors = sorted({spot - offset for offset, spots in enumerate(lists) for spot in spots})
    for anchor in anchors:
        choices: list[list[int]] = []
        for offset, spots in enumerate(lists):
            low = bisect_left(spots, anchor + offset)
            high = bisect_right(spots, anchor + offset + slop)
            if low == high:
                break
            choices.append(spots[low:high])
        else:
            chosen = _distinct(choices)
            if chosen is not None:
                return chosen
    return None


def _distinct(choices: list[list[int]]) -> int | None:
    """Earliest position of an assignment of distinct positions, one per word, if any.

    Bipartite matching by augmenting paths; each word keeps at most ``len(choices)``
    candidates (enough for any assignment), so repeated words cannot blow up the search.
    """
    limit = len(choices)
    trimmed = [spots[:limit] for spots in choices]
    owner: dict[int, int] = {}

    def assign(word: int, seen: set[int]) -> bool:
        for spot in trimmed[word]:
            if spot in seen:
                continue
            seen.add(spot)
            if spot not in owner or assign(owner[spot], seen):
                owner[spot] = word
                return True
        return False

    for word in range(limit):
        if not assign(word, set()):
            return None
    return min(owner)
