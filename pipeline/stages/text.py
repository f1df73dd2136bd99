"""Sentence boundaries shared by extraction and rule matching.

A plain rule-based splitter: deterministic, fast, and good enough for wire copy.
It never splits after common abbreviations ("Mr.", "U.N.", "Jan.") or inside numbers ("1.5").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sen rep gov gen col lt maj capt sgt st jr sr rev hon pres jan feb mar
    apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun no nos vs etc approx
    est dept univ inc corp ltd co fig al u.s u.k u.n e.u a.m p.m i.e e.g
    """.split()  # noqa: SIM905
)

# Candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+)|\n\s*\n|\n")


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    text: str


def _is_abbreviation(text: str, dot_index: int) -> bool:
    if text[dot_index] != ".":
        return False
    word_start = dot_index
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot_index].lower().lstrip("(\"'\u201c\u2018")
    if word in ("no", "nos"):
        # "No. 10" abbreviates number; "said no." ends a sentence.
        return text[dot_index + 1 : dot_index + 3].strip()[:1].isdigit()
    if word in _ABBREVIATIONS:
        return True
    # Single capital initials ("J. Smith") are not sentence ends.
    return len(word) == 1 and word.isalpha()


def split_sentences(text: str) -> list[Sentence]:
    """Return the sentences of ``text`` with their character offsets, whitespace trimmed."""
    sentences: list[Sentence] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group(0).startswith(".") and _is_abbreviation(text, match.start()):
            continue
        following = text[end:].lstrip()
        if match.group(0)[0] in ".!?":
            # A lower-case continuation means the dot was not a sentence end.
            if following[:1].islower():
                continue
        elif match.group(0) == "\n" and following[:1].islower():
            # A wrapped line ("29,739 people lost\ntheir homes") continues its sentence.
            continue
        _append(sentences, text, start, end)
        start = end
    _append(sentences, text, start, len(text))
    return sentences


def _append(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        sentences.append(Sentence(start, end, text[start:end]))


def sentence_at(sentences: list[Sentence], offset: int) -> Sentence | None:
    """The sentence containing character ``offset`` (binary search)."""
    lo, hi = 0, len(sentences) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        sentence = sentences[mid]
        if offset < sentence.start:
            hi = mid - 1
        elif offset >= sentence.end:
            lo = mid + 1
        else:
            return sentence
    return None
