"""Two-phase matching of many rules (Lucene Monitor's presearcher design).

Each rule is reduced to a "required any-of" set of index keys: a document can only match the
rule if it contains at least one of them. A document's words, stems, joined compounds and
word prefixes select candidate rules through three dictionaries; only candidates (plus rules
with no usable key, e.g. only figure thresholds) are evaluated exactly, sharing one
normalised document and one leaf-result cache.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Generic, TypeVar

from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.model import MatchDocument, MatchResult
from pipeline.stages.query.nodes import And, Node, Or, Phrase, Prefix, Proximity, Term
from pipeline.stages.query.normalise import LONG_KEY, SHORT_KEY, compound_key
from pipeline.stages.query.syntax import TEXT_FIELDS, CompiledQuery

K = TypeVar("K", bound=Hashable)
Key = tuple[str, str]  # ("stem" | "word" | "prefix" | "pair", value)
KeySet = frozenset[Key]

# Function words are poor keys: nearly every article contains them.
_COMMON = frozenset(
    " ".join(
        (
            "a an and are as at be been but by for from had has have he her his i in is it its",
            "not of on or our said say says she that the their them they this to was we were",
            "which who will with would you after also about over new more than up out one two",
        )
    ).split(" ")
)


class RuleMatcher(Generic[K]):
    """Match a whole rule set against documents; compile once per rule-set version."""

    def __init__(self, rules: Iterable[tuple[K, CompiledQuery]]) -> None:
        self._keys: list[K] = []
        self._roots: list[Node] = []
        counts: dict[Key, int] = {}
        for key, query in rules:
            self._keys.append(key)
            self._roots.append(query.root)
            for leaf in _leaves(query.root):
                for keys in _leaf_options(leaf) or ():
                    for item in keys:
                        counts[item] = counts.get(item, 0) + 1

        def cost(keys: KeySet) -> float:
            return _cost(keys, counts)

        options = [_options(root, cost) for root in self._roots]
        # One dictionary from a kind-tagged key ("s" stem, "w" word, "p" prefix, "c" compound
        # pair) to the rules indexed under it.
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        # Other required key sets of each rule: a candidate missing one of them is dropped
        # before exact evaluation (Lucene Monitor's multipass idea, as cheap set lookups).
        self._verify: list[tuple[frozenset[str], ...]] = []
        for number, rule_options in enumerate(options):
            if not rule_options:
                self._always.append(number)
                self._verify.append(())
                continue
            chosen = min(rule_options, key=cost)
            for item in chosen:
                self._index.setdefault(_tag(item), []).append(number)
            self._verify.append(
                tuple(
                    frozenset(_tag(item) for item in keys)
                    for keys in set(rule_options)
                    if keys != chosen and not any(kind == "prefix" for kind, _ in keys)
                )
            )
        self._prefix_lengths = sorted(
            {len(tagged) - 1 for tagged in self._index if tagged.startswith("p")}
        )

    def __len__(self) -> int:
        return len(self._keys)

    def candidates(self, index: DocumentIndex) -> list[int]:
        """Numbers of the rules that may match the document, in rule order."""
        present: set[str] = set()
        prefixes: set[str] = set()
        lengths = self._prefix_lengths
        for name in TEXT_FIELDS:
            field = index.field(name)
            present.update(["s" + value for value in field.stem_positions])
            present.update(["w" + value for value in field.word_positions])
            present.update(["c" + joined[:SHORT_KEY] for _, joined in field.pairs])
            present.update(["c" + joined[:LONG_KEY] for _, joined in field.pairs])
            for length in lengths:
                prefixes.update(
                    ["p" + value[:length] for value in field.word_positions if len(value) >= length]
                )
        selected: set[int] = set(self._always)
        lookup = self._index.get
        for key in (*present, *prefixes):
            rules = lookup(key)
            if rules:
                selected.update(rules)
        verify = self._verify
        return [
            number
            for number in sorted(selected)
            if all(not keys.isdisjoint(present) for keys in verify[number])
        ]

    def match(self, doc: MatchDocument) -> dict[K, MatchResult]:
        """Results of the rules that matched ``doc`` (others are left out), in rule order."""
        index = DocumentIndex(doc)
        matched: dict[K, MatchResult] = {}
        for number in self.candidates(index):
            result = evaluate(self._roots[number], index)
            if result.matched:
                matched[self._keys[number]] = result
        return matched


def _options(node: Node, cost: Callable[[KeySet], float]) -> list[KeySet] | None:
    """Key sets that every matching document must each hit at least once; None if none."""
    if isinstance(node, And):
        found: list[KeySet] = []
        for child in node.required:
            found.extend(_options(child, cost) or ())
        return found or None
    if isinstance(node, Or):
        union: set[Key] = set()
        for child in node.alternatives:
            child_options = _options(child, cost)
            if not child_options:
                return None
            # Any one required set of each alternative is sound; the cheapest keeps it tight.
            cheapest: KeySet = min(child_options, key=cost)
            union.update(cheapest)
        return [frozenset(union)]
    return _leaf_options(node)


def _leaves(node: Node) -> Iterator[Node]:
    if isinstance(node, And):
        for child in (*node.required, *node.prohibited):
            yield from _leaves(child)
    elif isinstance(node, Or):
        for child in node.alternatives:
            yield from _leaves(child)
    else:
        yield node


def _leaf_options(node: Node) -> list[KeySet] | None:
    if not isinstance(node, Term | Phrase | Prefix | Proximity):
        return None
    if not set(node.fields) <= set(TEXT_FIELDS):
        return None
    if isinstance(node, Term):
        if node.joined is None:
            return [_word_keys(node.words[0], node.stems[0])]
        # "cease-fire" needs every word in sequence, or the closed spelling.
        closed = ("stem", node.joined)
        return [frozenset({("stem", word_stem), closed}) for word_stem in node.stems]
    if isinstance(node, Phrase):
        return [frozenset({("word", word)}) for word in node.words]
    if isinstance(node, Prefix):
        return [frozenset({("prefix", node.prefix)})]
    return [
        _word_keys(word, word_stem) for word, word_stem in zip(node.words, node.stems, strict=True)
    ]


def _word_keys(word: str, word_stem: str) -> KeySet:
    """A single word matches its stem or, as a compound, a joined pair sharing its key."""
    key = compound_key(word)
    if key is None:
        return frozenset({("stem", word_stem)})
    return frozenset({("stem", word_stem), ("pair", key)})


def _tag(key: Key) -> str:
    return _TAGS[key[0]] + key[1]


_TAGS = {"stem": "s", "word": "w", "prefix": "p", "pair": "c"}


def _cost(keys: KeySet, counts: dict[Key, int]) -> float:
    total = 0.0
    for key in keys:
        value = key[1]
        weight = counts.get(key, 0) + 1.0
        if value in _COMMON:
            weight *= 1000
        elif len(value) <= 3:
            weight *= 4
        if key[0] == "prefix":
            weight *= 2
        total += weight
    return total
