"""Word tokens for matching: case and accents folded, English stems, joined compounds.

Text and query terms go through the same functions, so whatever a query term becomes,
the same word in an article becomes too.
"""

from __future__ import annotations

import re
import unicodedata

import snowballstemmer

# A word: letters/digits, combining accents, and inner apostrophes ("O'Brien", "Aleppo's").
# Runs of letters are matched in one step: the same words as one letter at a time, faster.
TOKEN = re.compile(r"[^\W_]+(?:(?:[\u0300-\u036f]|['\u2019](?=[^\W_]))[^\W_]*)*")
# Each word with the text before it (nothing there can start a word): one pass, no Match objects.
GAP_AND_TOKEN = re.compile(rf"([\W_]*)({TOKEN.pattern})")
_HYPHENS = frozenset({"-", "\u2010", "\u2011"})
# Spaced compounds ("cease fire") only join words of this length, so "a ward" is not "award".
MIN_SPACED_PART = 3
# Joined pairs are found through the first letters they share with the term.
SHORT_KEY, LONG_KEY = 3, 5
_CACHE_LIMIT = 200_000

_stemmer = snowballstemmer.stemmer("english")
_folded: dict[str, str] = {}
_stems: dict[str, str] = {}


def _stem_endings() -> tuple[str, ...] | None:
    """Every ending a step of the Snowball English stemmer reacts to, from its own tables.

    Each step starts by matching the word's end against one of these tables (Step 1c's "y"
    is a literal), so a word ending in none of them comes out unchanged; ``None`` when the
    stemmer's tables are not visible (another implementation), so every word is stemmed.
    """
    tables = [value for name, value in vars(type(_stemmer)).items() if name.startswith("a_")]
    endings = {getattr(among, "s", "") for table in tables for among in table}
    endings.discard("")
    if not endings:
        return None
    return tuple(sorted(endings | {"y", "e", "l", "'"}))


_STEM_ENDINGS = _stem_endings()


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
    if (
        _STEM_ENDINGS is not None
        and not word.endswith(_STEM_ENDINGS)
        and word[:1] != "'"
        and "Y" not in word  # the stemmer lower-cases every Y on the way out
    ):
        return word  # no step of the stemmer applies (cheaper than caching it)
    result = _stemmer.stemWord(word)
    if len(_stems) > _CACHE_LIMIT:
        _stems.clear()
    _stems[word] = result
    return result


def clear_caches() -> None:
    """Forget cached folds and stems (benchmarks use it to measure a cold start)."""
    _folded.clear()
    _stems.clear()


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
    if text.isalnum() and text.isascii():
        return [text.lower()]  # one plain word, as tokenize would find it
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
