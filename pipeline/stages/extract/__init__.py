"""Extraction: cleaned article text in, structured tags out (figures, topics, places).

Pure and deterministic. The topic model is compiled once per process per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Extraction:
    language: str | None
    word_count: int
    figures: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    country: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "word_count": self.word_count,
            "figures": self.figures,
            "topics": self.topics,
            "places": self.places,
            "country": self.country,
        }


@lru_cache(maxsize=4)
def _topic_model(path: Path | None) -> Any:
    from pipeline.stages.extract.topics import load_topic_model

    return load_topic_model(path)


def extract(
    title: str, text: str, language: str | None = None, topics_file: Path | None = None
) -> Extraction:
    """Tag one article. ``language`` is the cleaner's guess; it is carried through."""
    from pipeline.stages.extract.figures import extract_figures
    from pipeline.stages.extract.places import extract_places
    from pipeline.stages.extract.topics import classify_topics

    figures = [figure.to_dict() for figure in extract_figures(text)]
    topics = [topic.to_dict() for topic in classify_topics(_topic_model(topics_file), title, text)]
    places = extract_places(text, title=title)
    return Extraction(
        language=language,
        word_count=len(text.split()),
        figures=figures,
        topics=topics,
        places=[place.to_dict() for place in places.places],
        country=places.country,
    )


def warm_up(topics_file: Path | None = None) -> None:
    """Build the gazetteer and topic model before the first article (worker start-up)."""
    extract("warm up", "Warm-up text mentioning Paris and 12 people.", topics_file=topics_file)
