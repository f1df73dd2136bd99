"""Values exchanged with the matcher: the document it reads and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MatchDocument:
    """An article as the matcher sees it (extraction output included)."""

    title: str
    text: str
    feeds: tuple[str, ...] = ()
    language: str | None = None
    topics: tuple[tuple[str, str], ...] = ()  # (code, label)
    places: tuple[tuple[str, str | None], ...] = ()  # (name, country alpha-2)
    figures: tuple[tuple[str, float], ...] = ()  # (category, value)
    figure_sentences: tuple[str, ...] = ()  # parallel to figures when known


@dataclass(frozen=True)
class Hit:
    """One positive query term that matched, where, and the sentence it was found in."""

    term: str
    field: str
    sentence: str

    def to_dict(self) -> dict[str, str]:
        return {"term": self.term, "field": self.field, "sentence": self.sentence}


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    hits: tuple[Hit, ...]
