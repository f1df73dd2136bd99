"""The compiled query tree: small immutable nodes, hashable so results can be cached per leaf.

Boolean nodes follow Lucene's clause model: an ``And`` has required and prohibited clauses,
an ``Or`` only positive alternatives (negation inside OR is refused at compile time).
"""

from __future__ import annotations

from dataclasses import dataclass

# Field names a word-like leaf can search. "title"/"text" come from the article; the others
# are indexes built over metadata strings (feed names and URLs, topic labels, place names).
TextField = str


@dataclass(frozen=True, slots=True)
class Term:
    """A word: whole-word, stemmed, also matching its joined compound spelling."""

    fields: tuple[TextField, ...]
    words: tuple[str, ...]  # folded; several when the term was written "cease-fire"
    stems: tuple[str, ...]
    joined: str | None  # stem of the words written together, when there are several
    label: str


@dataclass(frozen=True, slots=True)
class Phrase:
    """An exact sequence of folded words, no stemming."""

    fields: tuple[TextField, ...]
    words: tuple[str, ...]
    label: str


@dataclass(frozen=True, slots=True)
class Prefix:
    """Folded, unstemmed words starting with ``prefix``."""

    fields: tuple[TextField, ...]
    prefix: str
    label: str


@dataclass(frozen=True, slots=True)
class Proximity:
    """Stemmed words within ``slop`` position moves of the written order (Lucene sloppy phrase)."""

    fields: tuple[TextField, ...]
    words: tuple[str, ...]
    stems: tuple[str, ...]
    slop: int
    label: str


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # folded; a bare primary code ("en") also matches regional variants ("en-gb")
    label: str


@dataclass(frozen=True, slots=True)
class TopicCode:
    code: str  # folded; "medtop:16000000", or only the number
    label: str


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166 alpha-2, upper case
    label: str


@dataclass(frozen=True, slots=True)
class Figure:
    """A numeric threshold on an extracted figure category; ``None`` bounds are open."""

    category: str
    low: float | None
    high: float | None
    include_low: bool
    include_high: bool
    label: str

    def accepts(self, value: float) -> bool:
        low, high = self.low, self.high
        if low is not None and (value < low or (value == low and not self.include_low)):
            return False
        return high is None or value < high or (value == high and self.include_high)


Leaf = Term | Phrase | Prefix | Proximity | Language | TopicCode | Country | Figure


@dataclass(frozen=True, slots=True)
class And:
    required: tuple[Node, ...]
    prohibited: tuple[Node, ...] = ()


@dataclass(frozen=True, slots=True)
class Or:
    alternatives: tuple[Node, ...]


Node = Leaf | And | Or
LEAF_TYPES = (Term, Phrase, Prefix, Proximity, Language, TopicCode, Country, Figure)
