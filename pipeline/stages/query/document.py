"""A document normalised once per match: word positions, stems, compound pairs, sentences.

Every rule evaluated against the same document shares one :class:`DocumentIndex`, including
a cache of leaf results, so a term used by thousands of rules is looked up once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from pipeline.stages.query.model import MatchDocument
from pipeline.stages.query.normalise import (
    LONG_KEY,
    MIN_SPACED_PART,
    SHORT_KEY,
    TOKEN,
    fold,
    joinable,
    stem,
)
from pipeline.stages.text import Sentence, sentence_at, split_sentences

# Sentence modes: the whole text, one sentence per metadata value, or split prose.
WHOLE, SEGMENTS, PROSE = "whole", "segments", "prose"


class FieldIndex:
    """Positions of folded words and stems, and joinable word pairs, in one field.

    Joined pairs ("cease-fire", "air strikes") are not stemmed up front (stemming every new
    pair would dominate the cost); a term looks its pairs up by :func:`compound_key` and
    stems only those.
    """

    __slots__ = (
        "_pair_index",
        "_prefixes",
        "_sentences",
        "_stems",
        "mode",
        "pairs",
        "starts",
        "stem_positions",
        "text",
        "word_positions",
        "words",
    )

    def __init__(self, segments: Sequence[str], mode: str) -> None:
        self.mode = mode
        self.text = "\n\n".join(segments)
        self.words: list[str | None] = []
        self.starts: list[int] = []
        self.word_positions: dict[str, list[int]] = {}
        self.pairs: list[tuple[int, str]] = []  # (position of the first word, joined form)
        self._pair_index: dict[str, list[tuple[int, str]]] | None = None
        self._prefixes: list[tuple[str, int]] | None = None
        self._sentences: list[Sentence] | None = None
        self._stems: list[str | None] | None = None
        offset = 0
        for segment in segments:
            self._add_segment(segment, offset)
            offset += len(segment) + 2
            # A gap position keeps phrases from running across two metadata values.
            self.words.append(None)
            self.starts.append(offset)
        self.stem_positions = self._stem_positions()

    def _add_segment(self, segment: str, offset: int) -> None:
        words, starts, pairs = self.words, self.starts, self.pairs
        word_positions = self.word_positions
        # Lower-casing up front is the fast path; it keeps offsets unless a letter expands.
        source = segment.lower()
        if len(source) != len(segment):
            source = segment
        previous = ""
        previous_end = -1
        for match in TOKEN.finditer(source):
            word = match.group()
            if not word.isascii() or "'" in word or source is segment:
                word = fold(word)
                if not word:
                    continue
            start, end = match.span()
            position = len(words)
            if previous_end >= 0:
                gap = source[previous_end:start]
                if gap == " ":
                    if len(previous) >= MIN_SPACED_PART and len(word) >= MIN_SPACED_PART:
                        pairs.append((position - 1, previous + word))
                elif len(gap) <= 2 and joinable(gap, previous, word):
                    pairs.append((position - 1, previous + word))
            words.append(word)
            starts.append(offset + start)
            spots = word_positions.get(word)
            if spots is None:
                word_positions[word] = [position]
            else:
                spots.append(position)
            previous, previous_end = word, end

    def _stem_positions(self) -> dict[str, list[int]]:
        positions: dict[str, list[int]] = {}
        merged: set[str] = set()
        for word, spots in self.word_positions.items():
            stemmed = stem(word)
            existing = positions.get(stemmed)
            if existing is None:
                positions[stemmed] = spots
            else:
                if stemmed not in merged:
                    existing = positions[stemmed] = list(existing)
                    merged.add(stemmed)
                existing.extend(spots)
        for stemmed in merged:
            positions[stemmed].sort()
        return positions

    @property
    def stems(self) -> list[str | None]:
        """The stem at each position (built on first use)."""
        if self._stems is None:
            self._stems = [None if word is None else stem(word) for word in self.words]
        return self._stems

    def pairs_for(self, key: str) -> list[tuple[int, str]]:
        """Joined pairs whose joined form starts with ``key`` (3 or 5 letters)."""
        if self._pair_index is None:
            index: dict[str, list[tuple[int, str]]] = {}
            for pair in self.pairs:
                joined = pair[1]
                index.setdefault(joined[:SHORT_KEY], []).append(pair)
                if len(joined) >= LONG_KEY:
                    index.setdefault(joined[:LONG_KEY], []).append(pair)
            self._pair_index = index
        return self._pair_index.get(key, [])

    def prefix_first(self, prefix: str) -> int | None:
        """First position of a word starting with ``prefix``."""
        if self._prefixes is None:
            self._prefixes = sorted((word, spots[0]) for word, spots in self.word_positions.items())
        index = bisect_left(self._prefixes, (prefix, -1))
        first: int | None = None
        while index < len(self._prefixes) and self._prefixes[index][0].startswith(prefix):
            spot = self._prefixes[index][1]
            first = spot if first is None else min(first, spot)
            index += 1
        return first

    def sentence(self, position: int) -> str:
        """The sentence (or title, or metadata value) holding the word at ``position``."""
        if self.mode == WHOLE:
            return self.text.strip()
        if self._sentences is None:
            if self.mode == PROSE:
                self._sentences = split_sentences(self.text)
            else:
                self._sentences = _segment_spans(self.text)
        found = sentence_at(self._sentences, self.starts[position])
        return found.text if found is not None else ""


def _segment_spans(text: str) -> list[Sentence]:
    spans: list[Sentence] = []
    start = 0
    for segment in text.split("\n\n"):
        if segment.strip():
            spans.append(Sentence(start, start + len(segment), segment.strip()))
        start += len(segment) + 2
    return spans


class DocumentIndex:
    """Lazily built field indexes for one :class:`MatchDocument`, plus a per-leaf result cache."""

    __slots__ = ("_fields", "cache", "doc")

    def __init__(self, doc: MatchDocument) -> None:
        self.doc = doc
        self._fields: dict[str, FieldIndex] = {}
        self.cache: dict[object, object] = {}

    def field(self, name: str) -> FieldIndex:
        index = self._fields.get(name)
        if index is None:
            index = self._build(name)
            self._fields[name] = index
        return index

    def _build(self, name: str) -> FieldIndex:
        doc = self.doc
        if name == "title":
            return FieldIndex([doc.title], WHOLE)
        if name == "text":
            return FieldIndex([doc.text], PROSE)
        if name == "feed":
            return FieldIndex(list(doc.feeds), SEGMENTS)
        if name == "topic":
            return FieldIndex([label for _, label in doc.topics], SEGMENTS)
        if name == "place":
            return FieldIndex([place for place, _ in doc.places], SEGMENTS)
        return FieldIndex([], SEGMENTS)
