"""Near-duplicate articles grouped into stories, and what a later copy of a story adds.

Signature: MinHash (datasketch, 128 permutations, seed 1) over word 5-gram shingles. Text is
NFKC-normalised and case-folded, punctuation is dropped (words are runs of letters/digits) and
every number ("301", "1,207", "3.5") is folded to one placeholder token, so a revised death toll
leaves the signature unchanged; only prose edits move it. The title and the body are shingled
separately (no shingle spans the seam) so an edited headline costs only the title's shingles.
A text under five words becomes one shingle; a signature without words matches nothing.

Threshold: ``STORY_THRESHOLD`` = 0.45 estimated Jaccard, measured with
``python -m benchmarks.eval_stories`` on 2,308 distinct real bodies (BBC News and the
article-extraction-benchmark), each given a light and a heavy synthetic wire copy (edited
headline, short paragraph added, paragraph removed, sentences swapped, figure revised,
boilerplate line, trimmed to the first 50-90% of the words), plus the corpus's 98 byte-identical
duplicates; hard negatives are each BBC article's most similar other article of its category.
Copies: median 0.95 (light) / 0.84 (heavy), 1st percentile 0.54 / 0.42. Same-category
different articles: 99th percentile 0.18, max 0.28. Precision 1.000 and recall 0.991 at 0.45,
the highest threshold keeping recall >= 0.99: a false merge silences a story's alert while a
false split only repeats one, so precision is favoured. Limit: Jaccard is symmetric, so a
rewrite keeping under about half of the text (a brief of a long story) becomes a new story
(recall 0.92 at half the words, 0.34 at 40%). Signing costs about 1.5 ms per 380-word article
as a datasketch MinHash, about half that here (the same values, computed in one pass).

LSH: ``lsh_params`` picks the most rows per band (fewest dissimilar candidates) that still make a
pair at the threshold a candidate with probability >= 0.95: 42 bands x 3 rows for 0.45 and 128
permutations (0.98 at 0.45). ``band_keys`` gives the bands as stable strings for an indexed SQL
lookup; ``best_story`` verifies the candidates it finds and picks the story.

Import cost: datasketch imports scipy (about a second), so it is imported only where a MinHash
is built; importing this module, comparing signatures and computing band keys need numpy only.

Changes: ``story_changes`` compares the figures and matched terms of the story's last alerted
copy with the current one; a figure is revised when a previous figure of the same category and a
compatible noun has gone and a new value took its place, new when its (category, value) is
unseen.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash

STORY_THRESHOLD: float = 0.45
SHINGLE_SIZE: int = 5
NUM_PERM: int = 128
SEED: int = 1
_SIGNATURE_VERSION = 1

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+")
_NUMBER_TOKEN = "0"


def lsh_params(threshold: float, num_perm: int, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows) with the most rows that still make a pair at ``threshold`` a candidate
    with probability >= ``recall``; more rows mean fewer dissimilar candidates to verify."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best


STORY_BANDS, STORY_ROWS = lsh_params(STORY_THRESHOLD, NUM_PERM)


class StorySignature:
    """MinHash of one article: ``hashvalues`` plus what is needed to compare and persist it."""

    __slots__ = ("_hashvalues", "seed", "shingles")

    def __init__(self, hashvalues: Iterable[int] | np.ndarray, seed: int, shingles: int) -> None:
        values = np.array(hashvalues, dtype=np.uint64)
        values.setflags(write=False)
        self._hashvalues = values
        self.seed = seed
        self.shingles = shingles

    @property
    def hashvalues(self) -> np.ndarray:
        return self._hashvalues

    @property
    def num_perm(self) -> int:
        return len(self._hashvalues)

    @property
    def empty(self) -> bool:
        """No words at all: such an article is no evidence of any story."""
        return self.shingles == 0

    def minhash(self) -> MinHash:
        from datasketch import MinHash

        return MinHash(num_perm=self.num_perm, seed=self.seed, hashvalues=self._hashvalues)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": _SIGNATURE_VERSION,
                "shingle": SHINGLE_SIZE,
                "seed": self.seed,
                "shingles": self.shingles,
                "hashvalues": [int(v) for v in self._hashvalues],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, data: str) -> StorySignature:
        raw = json.loads(data)
        if raw.get("v") != _SIGNATURE_VERSION or raw.get("shingle") != SHINGLE_SIZE:
            raise ValueError("story signature from an incompatible version")
        return cls(raw["hashvalues"], int(raw["seed"]), int(raw["shingles"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorySignature):
            return NotImplemented
        return (
            self.seed == other.seed
            and self.shingles == other.shingles
            and np.array_equal(self._hashvalues, other._hashvalues)
        )

    def __hash__(self) -> int:
        return hash((self.seed, self.shingles, self._hashvalues.tobytes()))

    def __repr__(self) -> str:
        return f"StorySignature(num_perm={self.num_perm}, shingles={self.shingles})"


def story_tokens(text: str) -> list[str]:
    """Words of ``text``, case-folded, punctuation dropped, each number one placeholder."""
    folded = _NUMBER.sub(f" {_NUMBER_TOKEN} ", unicodedata.normalize("NFKC", text).casefold())
    return _WORD.findall(folded)


def _shingles(tokens: list[str]) -> Iterator[str]:
    if not tokens:
        return
    if len(tokens) < SHINGLE_SIZE:
        yield " ".join(tokens)
        return
    for i in range(len(tokens) - SHINGLE_SIZE + 1):
        yield " ".join(tokens[i : i + SHINGLE_SIZE])


def story_shingles(title: str, text: str) -> set[str]:
    """The set of word 5-grams that a signature estimates; the title is its own segment."""
    return set(_shingles(story_tokens(title))) | set(_shingles(story_tokens(text)))


# datasketch's universal hashing constants: signatures stay comparable with stored ones.
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters for (num_perm, seed), drawn once per process:
    a MinHash draws them anew each time it is built, which cost about a fifth of signing."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)


def story_signature(title: str, text: str, num_perm: int = NUM_PERM) -> StorySignature:
    """MinHash signature of an article; equal texts give equal signatures in any process.

    The values are datasketch's ``MinHash(num_perm, seed=SEED).update_batch`` of the
    shingles (SHA-1's first four bytes, little-endian, permuted), computed in one pass:
    ``tests/unit/test_stories.py`` holds the two equal."""
    shingles = story_shingles(title, text)
    if not shingles:
        return StorySignature(np.full(num_perm, _MAX_HASH, dtype=np.uint64), SEED, 0)
    a, b = _permutations(num_perm, SEED)
    digests = b"".join(hashlib.sha1(s.encode("utf-8")).digest()[:4] for s in shingles)
    hashes = np.frombuffer(digests, dtype="<u4").astype(np.uint64)[:, np.newaxis]
    permuted = np.bitwise_and((hashes * a + b) % _MERSENNE_PRIME, _MAX_HASH)
    return StorySignature(permuted.min(axis=0), SEED, len(shingles))


def similarity(a: StorySignature, b: StorySignature) -> float:
    """Estimated Jaccard similarity of the two articles' shingle sets (0.0 if either is empty)."""
    if a.num_perm != b.num_perm or a.seed != b.seed:
        raise ValueError("signatures built with different permutations cannot be compared")
    if a.empty or b.empty:
        return 0.0
    return float(np.count_nonzero(a.hashvalues == b.hashvalues)) / a.num_perm


def band_keys(
    signature: StorySignature, bands: int = STORY_BANDS, rows: int = STORY_ROWS
) -> list[str]:
    """Stable LSH band keys ("b{i}:{hex}"): articles sharing any key are story candidates."""
    if signature.empty:
        return []
    if bands * rows > signature.num_perm:
        raise ValueError(f"{bands} bands x {rows} rows exceed {signature.num_perm} permutations")
    values = signature.hashvalues.astype("<u8")
    keys = []
    for i in range(bands):
        digest = hashlib.blake2b(values[i * rows : (i + 1) * rows].tobytes(), digest_size=8)
        keys.append(f"b{i}:{digest.hexdigest()}")
    return keys


def best_story(
    signature: StorySignature, candidates: Iterable[tuple[int, StorySignature]]
) -> int | None:
    """Id of the candidate story ``signature`` belongs to, or None for a new story.

    The winner is the most similar candidate with ``similarity >= STORY_THRESHOLD``. A candidate
    scoring the same as the best so far replaces it, so among equal best scores the one given
    last wins: with candidates in ascending id order (as the store lists them), the newest story.
    """
    best: int | None = None
    best_score = STORY_THRESHOLD
    for story_id, candidate in candidates:
        score = similarity(signature, candidate)
        # ">=" and not ">": the rule the service has always applied, ties included.
        if score >= best_score:
            best, best_score = story_id, score
    return best


# --- what a later copy adds -------------------------------------------------------------------

# Nouns that say no more than "people"; a figure without a noun is compatible with any noun.
_GENERIC_PEOPLE = frozenset(
    ["people", "persons", "person", "individuals", "civilians", "residents"]
)
# Categories where two different values of the same unnamed thing are rarely one revised fact.
_NEEDS_NOUN = frozenset({"count", "money", "percent"})


def _singular(noun: str) -> str:
    noun = noun.casefold().strip()
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith("s") and not noun.endswith("ss") and len(noun) > 3:
        return noun[:-1]
    return noun


def _noun_key(figure: dict[str, Any]) -> str | None:
    noun = figure.get("noun")
    if not noun:
        return None
    key = _singular(str(noun))
    return "person" if key in {_singular(n) for n in _GENERIC_PEOPLE} else key


def _value(figure: dict[str, Any]) -> float:
    return float(figure["value"])


def _identity(figure: dict[str, Any]) -> tuple[str, float]:
    return (str(figure["category"]), _value(figure))


def _revision_score(old: dict[str, Any], new: dict[str, Any]) -> float | None:
    """How well ``old`` reads as the earlier value of ``new``; None when it cannot be."""
    if old["category"] != new["category"] or old.get("currency") != new.get("currency"):
        return None
    old_noun, new_noun = _noun_key(old), _noun_key(new)
    if old_noun is not None and new_noun is not None and old_noun != new_noun:
        return None
    if old["category"] in _NEEDS_NOUN and old_noun != new_noun:
        return None
    score = 2.0 if old_noun == new_noun else 1.0
    # A total stays a total and a subgroup stays a subgroup.
    if (old.get("part_of") is None) == (new.get("part_of") is None):
        score += 1.0
    if old.get("qualifier") == new.get("qualifier"):
        score += 0.5
    return score + 0.5 * _context_overlap(old, new)


def _context_overlap(old: dict[str, Any], new: dict[str, Any]) -> float:
    before = set(story_tokens(str(old.get("sentence") or "")))
    after = set(story_tokens(str(new.get("sentence") or "")))
    if not before or not after:
        return 0.0
    return len(before & after) / len(before | after)


def _unique_figures(figures: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, float]] = set()
    unique = []
    for figure in figures:
        identity = _identity(figure)
        if identity not in seen:
            seen.add(identity)
            unique.append(figure)
    return unique


def _plain(value: float) -> int | float:
    return int(value) if value == int(value) else value


def story_changes(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, list[Any]]:
    """What ``current`` adds to ``previous``: new figures, revised figures and new terms.

    Both are ``{"figures": [figure dicts from extraction], "terms": [matched terms]}``.
    """
    before = _unique_figures(previous.get("figures") or [])
    after = _unique_figures(current.get("figures") or [])
    seen_before = {_identity(f) for f in before}
    seen_after = {_identity(f) for f in after}
    # Only a value that the current copy no longer reports can have been revised.
    superseded = [f for f in before if _identity(f) not in seen_after]
    used: set[int] = set()
    new_figures: list[dict[str, Any]] = []
    revised: list[dict[str, Any]] = []
    for figure in after:
        if _identity(figure) in seen_before:
            continue
        best, best_score = None, 0.0
        for i, old in enumerate(superseded):
            score = None if i in used else _revision_score(old, figure)
            if score is not None and score > best_score:
                best, best_score = i, score
        if best is None:
            new_figures.append(figure)
            continue
        used.add(best)
        old = superseded[best]
        revised.append(
            {
                "category": figure["category"],
                "noun": figure.get("noun") or old.get("noun"),
                "from": _plain(_value(old)),
                "to": _plain(_value(figure)),
            }
        )
    known_terms = {str(t).casefold() for t in previous.get("terms") or []}
    new_terms: list[str] = []
    for term in current.get("terms") or []:
        folded = str(term).casefold()
        if folded not in known_terms:
            known_terms.add(folded)
            new_terms.append(term)
    return {"new_figures": new_figures, "revised_figures": revised, "new_terms": new_terms}


def adds_something(changes: dict[str, Any]) -> bool:
    """Whether a later copy of a story is worth another alert."""
    return any(changes.get(k) for k in ("new_figures", "revised_figures", "new_terms"))
