"""Where to highlight an article's text: matched sentences and terms, figures and places.

Pure: text and what extraction and matching found in, non-overlapping segments out, each
naming the marks that cover it (a term inside a matched sentence is both), so a template
can render the text once with every highlight in place.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.model import Figure, Hit, Place
from pipeline.stages.query.normalise import stem, tokenize, words


class MarkKind(StrEnum):
    SENTENCE = "sentence"
    TERM = "term"
    FIGURE = "figure"
    PLACE = "place"


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    kind: MarkKind
    label: str  # what the mark stands for: the query term, "killed 1,207 (at least)", …


@dataclass(frozen=True)
class Segment:
    text: str
    marks: tuple[Mark, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(mark.kind) for mark in self.marks))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(mark.label for mark in self.marks if mark.label))


# Query syntax around a term that is not part of the words to look for.
_FIELD = re.compile(r"^[+-]?(?:title|text):")
_SYNTAX = re.compile(r'["~^()]|\d+$')


def term_marks(text: str, hits: Iterable[Hit]) -> list[Mark]:
    """Matched sentences, and the words of each matched term, found in ``text``.

    Words are compared as the matcher compares them (folded and stemmed), so the term
    ``evacuation`` marks *evacuated*; a ``prefix*`` term marks every word it starts.
    Field terms that are not words (``killed:>=10``, ``place:SY``) mark only their sentence:
    the figure and place marks show the rest.
    """
    marks: list[Mark] = []
    stems: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for hit in hits:
        # A hit in any field (text, a figure category, place, topic) names the sentence of
        # the text it was found in; a title hit's sentence is the title, not in the text.
        if hit.sentence and hit.field != "title":
            start = text.find(hit.sentence)
            if start >= 0:
                marks.append(Mark(start, start + len(hit.sentence), MarkKind.SENTENCE, hit.term))
        label = _FIELD.sub("", hit.term)
        if ":" in label:
            continue  # a field term (figure, place, topic, lang, feed)
        for raw in label.split():
            if raw.endswith("*"):
                for word in words(raw.rstrip("*")):
                    prefixes[word] = hit.term
                continue
            for word in words(_SYNTAX.sub(" ", raw)):
                stems[stem(word)] = hit.term
    if stems or prefixes:
        for word, start, end in tokenize(text):
            term = stems.get(stem(word))
            if term is None:
                term = next((t for p, t in prefixes.items() if word.startswith(p)), None)
            if term is not None:
                marks.append(Mark(start, end, MarkKind.TERM, term))
    return marks


def figure_marks(text: str, figures: Sequence[Figure]) -> list[Mark]:
    """Each figure at its span, labelled with value, category, qualifier and subgroup."""
    marks = []
    for figure in figures:
        if not 0 <= figure.start < figure.end <= len(text):
            continue
        if figure.text and text[figure.start : figure.end] != figure.text:
            continue  # offsets from another version of the text: better no mark than a wrong one
        marks.append(Mark(figure.start, figure.end, MarkKind.FIGURE, figure_label(figure, figures)))
    return marks


def figure_label(figure: Figure, figures: Sequence[Figure] = ()) -> str:
    value = f"{figure.value:,.0f}" if figure.value == int(figure.value) else f"{figure.value:,}"
    if figure.value_max is not None:
        value += f"-{figure.value_max:,.0f}"
    parts = [figure.category, value]
    if figure.currency:
        parts.append(figure.currency)
    if figure.noun:
        parts.append(figure.noun)
    if figure.qualifier:
        parts.append(f"({figure.qualifier})")
    if figure.part_of is not None and 0 <= figure.part_of < len(figures):
        parent = figures[figure.part_of]
        parts.append(f"subgroup of {parent.text or parent.value}")
    return " ".join(parts)


def place_marks(text: str, places: Sequence[Place]) -> list[Mark]:
    """Every mention of each extracted place name (whole words, as written)."""
    marks: list[Mark] = []
    for place in places:
        if not place.name:
            continue
        label = f"{place.name} ({place.country})" if place.country else place.name
        pattern = re.compile(rf"(?<!\w){re.escape(place.name)}(?!\w)")
        marks.extend(
            Mark(found.start(), found.end(), MarkKind.PLACE, label)
            for found in pattern.finditer(text)
        )
    return marks


def segments(text: str, marks: Iterable[Mark]) -> list[Segment]:
    """Cut ``text`` at every mark boundary; each piece lists the marks covering it."""
    marks = [mark for mark in marks if 0 <= mark.start < mark.end <= len(text)]
    cuts = sorted({0, len(text), *(m.start for m in marks), *(m.end for m in marks)})
    pieces: list[Segment] = []
    for start, end in itertools.pairwise(cuts):
        covering = tuple(m for m in marks if m.start <= start and end <= m.end)
        if pieces and not covering and not pieces[-1].marks:
            pieces[-1] = Segment(pieces[-1].text + text[start:end])
        else:
            pieces.append(Segment(text[start:end], covering))
    return pieces


def highlight(
    text: str, hits: Iterable[Hit], figures: Sequence[Figure], places: Sequence[Place]
) -> list[Segment]:
    """The article's text as segments with every highlight in place."""
    return segments(
        text, [*term_marks(text, hits), *figure_marks(text, figures), *place_marks(text, places)]
    )
