"""Word tokens for matching: case and accents folded, English stems, joined compounds.

Text and query terms go through the same functions, so whatever a query term becomes,
the same word in an article becomes too.
"""

from __future__ import annotations

import re
import unicodedata

import snowballstemmer

# A word: letters/digits, combining accents, and inner apostrophes ("O'Brien", "Aleppo's").
TOKEN = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f]|['\u2019](?=[^\W_]))*")
_HYPHENS = frozenset({"-", "\u2010", "\u2011"})
# Spaced compounds ("cease fire") only join words of this length, so "a ward" is not "award".
MIN_SPACED_PART = 3
# Joined pairs are found through the first letters they share with the term.
SHORT_KEY, LONG_KEY = 3, 5
_CACHE_LIMIT = 200_000

_stemmer = snowballstemmer.stemmer("english")
_folded: dict[str, str] = {}
_stems: dict[str, str] = {}


def fold(word: str) -> str:
    """Lower-case, accent-free, apostrophe-free form of one raw token ("Aleppo's" -> "aleppo")."""
    cached = _folded.get(word)
    if cached is not None:
        return cached
    if word.isascii():
        folded = word.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", word.replace("\u2019", "'"))
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    if folded.endswith("'s"):
        folded = folded[:-2]
    folded = folded.replace("'", "")
    if len(_folded) > _CACHE_LIMIT:
        _folded.clear()
    _folded[word] = folded
    return folded


def stem(word: str) -> str:
    """Snowball English stem of a folded word (cached: stemming is the slow step)."""
    cached = _stems.get(word)
    if cached is not None:
        return cached
    result = _stemmer.stemWord(word)
    if len(_stems) > _CACHE_LIMIT:
        _stems.clear()
    _stems[word] = result
    return result


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Folded words of ``text`` with their character span in ``text``."""
    tokens: list[tuple[str, int, int]] = []
    for match in TOKEN.finditer(text):
        word = fold(match.group())
        if word:
            tokens.append((word, match.start(), match.end()))
    return tokens


def words(text: str) -> list[str]:
    """Folded words of ``text`` (no offsets)."""
    return [word for word, _, _ in tokenize(text)]


def joinable(gap: str, left: str, right: str) -> bool:
    """True when words ``left`` and ``right`` separated by ``gap`` may be read as one compound.

    A single hyphen always joins ("cease-fire", "x-ray"); a single space (or two) joins words
    of at least three letters ("air strike"), so "a ward" never becomes "award".
    """
    if gap == " ":
        return len(left) >= MIN_SPACED_PART and len(right) >= MIN_SPACED_PART
    if gap in _HYPHENS:
        return True
    return (
        len(gap) == 2
        and gap.isspace()
        and "\n" not in gap
        and len(left) >= MIN_SPACED_PART
        and len(right) >= MIN_SPACED_PART
    )


def compound_key(word: str) -> str | None:
    """Lookup key shared by a single-word term and the joined pairs that may spell it.

    Snowball stems only rewrite word endings, so a term and a joined pair with the same stem
    share their first letters; terms under three letters never match compounds.
    """
    if len(word) >= LONG_KEY:
        return word[:LONG_KEY]
    if len(word) >= SHORT_KEY:
        return word[:SHORT_KEY]
    return None
