"""Extraction: cleaned article text in, structured tags out (figures, topics, places).

Pure and deterministic. The topic model is compiled once per process per file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.model import Extraction


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

    places = extract_places(text, title=title)
    return Extraction(
        language=language,
        word_count=len(text.split()),
        figures=tuple(extract_figures(text)),
        topics=tuple(classify_topics(_topic_model(topics_file), title, text)),
        places=tuple(places.places),
        country=places.country,
    )


def warm_up(topics_file: Path | None = None) -> None:
    """Build the gazetteer and topic model before the first article (worker start-up)."""
    extract("warm up", "Warm-up text mentioning Paris and 12 people.", topics_file=topics_file)
