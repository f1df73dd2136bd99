"""A document normalised once per match: word positions, stems, compound pairs, sentences.

Every rule evaluated against the same document shares one :class:`DocumentIndex`, including
a cache of leaf results, so a term used by thousands of rules is looked up once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, chain, islice

from pipeline.model import MatchDocument
from pipeline.stages.query.normalise import (
    GAP_AND_TOKEN,
    LONG_KEY,
    MIN_SPACED_PART,
    SHORT_KEY,
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
        # Lower-casing up front is the fast path; it keeps offsets unless a letter expands.
        source = segment.lower()
        if len(source) != len(segment):
            source = segment
        found: list[tuple[str, str]] = GAP_AND_TOKEN.findall(source)
        if not found:
            return
        gaps: Sequence[str]
        raw: Sequence[str]
        gaps, raw = zip(*found, strict=True)  # gaps[i] is the text before raw[i]
        if source is segment or "'" in source or not source.isascii():
            words = [
                word if word.isascii() and "'" not in word and source is not segment else fold(word)
                for word in raw
            ]
            if "" in words:
                words, raw, gaps = _drop_empty(words, raw, gaps)
        else:
            words = list(raw)
        base = len(self.words)
        self.words.extend(words)
        # Each word starts after the gap and word lengths before it; accumulate runs in C.
        lengths = chain.from_iterable(zip(map(len, gaps), map(len, raw), strict=True))
        self.starts.extend(islice(accumulate(lengths, initial=offset), 1, None, 2))
        word_positions = self.word_positions
        for position, word in enumerate(words, base):
            spots = word_positions.get(word)
            if spots is None:
                word_positions[word] = [position]
            else:
                spots.append(position)
        self.pairs.extend(
            [
                (position, left + right)
                for position, left, right, gap in zip(
                    range(base, base + len(words)), words, words[1:], gaps[1:], strict=False
                )
                if (
                    len(left) >= MIN_SPACED_PART and len(right) >= MIN_SPACED_PART
                    if gap == " "
                    else len(gap) <= 2 and joinable(gap, left, right)
                )
            ]
        )

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


def _drop_empty(
    words: list[str], raw: Sequence[str], gaps: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """Leave out tokens that fold to nothing, moving them into the next word's gap."""
    kept_words: list[str] = []
    kept_raw: list[str] = []
    kept_gaps: list[str] = []
    carried = ""
    for word, token, gap in zip(words, raw, gaps, strict=True):
        if word:
            kept_words.append(word)
            kept_raw.append(token)
            kept_gaps.append(carried + gap)
            carried = ""
        else:
            carried += gap + token
    return kept_words, kept_raw, kept_gaps


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
