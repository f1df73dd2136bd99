"""Two-phase matching of many rules (Lucene Monitor's presearcher design).

Each rule is reduced to a "required any-of" set of index keys: a document can only match the
rule if it contains at least one of them. A document's words, stems, joined compounds and
word prefixes, as kind-tagged keys, select candidate rules through one dictionary; other
required key sets then drop candidates with cheap set checks, and only the survivors (plus
rules with no usable key, e.g. only figure thresholds) are evaluated exactly, sharing one
normalised document and one leaf-result cache.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from pipeline.model import MatchDocument, MatchResult
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.nodes import And, Node, Or, Phrase, Prefix, Proximity, Term
from pipeline.stages.query.normalise import LONG_KEY, SHORT_KEY, compound_key
from pipeline.stages.query.syntax import TEXT_FIELDS, CompiledQuery

K = TypeVar("K", bound=Hashable)
# An index key is its kind's letter then its value: "s" stem, "w" folded word, "p" word
# prefix, "c" first letters of a joined compound pair ("sflood", "pevacu", "cairst").
Key = str
# Keys of which a document must contain at least one. Tuples, not frozensets: hundreds of
# thousands of them stay alive, and the garbage collector stops tracking tuples of strings.
KeySet = tuple[Key, ...]
STEM, WORD, PREFIX, PAIR = "s", "w", "p", "c"

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
        # Leaf options by id(leaf): the roots keep every leaf alive, and ids hash faster
        # than the frozen dataclasses do.
        leaf_options: dict[int, list[KeySet] | None] = {}
        # Each rule's required key sets, or None until costs are known (rules with an OR,
        # whose cheapest alternative depends on how common each key is).
        rule_options: list[list[KeySet] | None] = []
        for key, query in rules:
            root = query.root
            self._keys.append(key)
            self._roots.append(root)
            has_or = _count_leaves(root, leaf_options, counts)
            rule_options.append(None if has_or else _and_options(root, leaf_options))
        costs: dict[KeySet, float] = {}

        def cost(keys: KeySet) -> float:
            found = costs.get(keys)
            if found is None:
                found = costs[keys] = _cost(keys, counts)
            return found

        # From an index key to the rule numbers indexed under it; a lone rule is stored as
        # a bare int, which saves a list (and garbage-collector work) per rare key.
        self._index: dict[Key, int | list[int]] = {}
        self._always: list[int] = []
        # Other required key sets of each rule: a candidate missing one of them is dropped
        # before exact evaluation (Lucene Monitor's multipass idea, as cheap set lookups).
        self._verify: list[tuple[KeySet, ...]] = []
        index = self._index
        for number, root in enumerate(self._roots):
            options = rule_options[number]
            if options is None:
                options = _options(root, cost, leaf_options)
            if not options:
                self._always.append(number)
                self._verify.append(())
                continue
            chosen = options[0] if len(options) == 1 else min(options, key=cost)
            for item in chosen:
                existing = index.get(item)
                if existing is None:
                    index[item] = number
                elif type(existing) is int:
                    index[item] = [existing, number]
                else:
                    existing.append(number)  # type: ignore[union-attr]
            if len(options) == 1:
                self._verify.append(())
                continue
            self._verify.append(
                tuple(
                    keys
                    for keys in dict.fromkeys(options)
                    if keys != chosen and not any(item[0] == PREFIX for item in keys)
                )
            )
        self._prefix_lengths = sorted({len(key) - 1 for key in index if key[0] == PREFIX})

    def __len__(self) -> int:
        return len(self._keys)

    def candidates(self, index: DocumentIndex) -> list[int]:
        """Numbers of the rules that may match the document, in rule order."""
        present, words = document_keys(index)
        prefixes = {
            PREFIX + value[:length]
            for length in self._prefix_lengths
            for value in words
            if len(value) >= length
        }
        selected: set[int] = set(self._always)
        add, update = selected.add, selected.update
        index_keys, rules_of = self._index.keys(), self._index.__getitem__
        # A view & a smaller set runs over the set in C: only keys that select rules
        # reach the Python loop.
        for key in (index_keys & present) | (index_keys & prefixes):
            rules = rules_of(key)
            if type(rules) is int:
                add(rules)
            else:
                update(rules)  # type: ignore[arg-type]
        verify = self._verify
        disjoint = present.isdisjoint
        found: list[int] = []
        for number in sorted(selected):
            checks = verify[number]
            if not checks or not any(map(disjoint, checks)):
                found.append(number)
        return found

    def match(self, doc: MatchDocument) -> dict[K, MatchResult]:
        """Results of the rules that matched ``doc`` (others are left out), in rule order."""
        return self.match_index(DocumentIndex(doc))

    def match_index(self, index: DocumentIndex) -> dict[K, MatchResult]:
        """:meth:`match` on a document normalised already (processing reuses it for the
        search index terms)."""
        matched: dict[K, MatchResult] = {}
        for number in self.candidates(index):
            result = evaluate(self._roots[number], index)
            if result.matched:
                matched[self._keys[number]] = result
        return matched


def document_keys(index: DocumentIndex) -> tuple[set[Key], set[str]]:
    """The keys a document holds (stems, folded words, joined-pair keys) and its folded
    words, whose prefixes answer :data:`PREFIX` keys. Stored articles keep these keys in the
    search index, so search narrows candidates exactly as the matcher does.

    Kept in the index's cache: processing asks twice (the matcher, then the search index)."""
    cached = index.cache.get(_DOCUMENT_KEYS)
    if cached is not None:
        return cached  # type: ignore[return-value]
    title, text = (index.field(name) for name in TEXT_FIELDS)
    words = title.word_positions.keys() | text.word_positions.keys()
    pair_keys = {joined[:SHORT_KEY] for _, joined in (*title.pairs, *text.pairs)}
    pair_keys.update([joined[:LONG_KEY] for _, joined in (*title.pairs, *text.pairs)])
    present = {STEM + value for value in title.stem_positions.keys() | text.stem_positions}
    present.update([WORD + value for value in words])
    present.update([PAIR + value for value in pair_keys])
    index.cache[_DOCUMENT_KEYS] = (present, words)
    return present, words


_DOCUMENT_KEYS = object()  # the cache entry of document_keys (leaves key the rest)


def required_keys(query: CompiledQuery) -> list[KeySet] | None:
    """Key sets of which a document matching ``query`` holds at least one key each (a
    :data:`PREFIX` key: a word starting with it); None when no key is required (a query
    on figures, topics or places only, or an OR with such an alternative)."""
    leaf_options: dict[int, list[KeySet] | None] = {}
    counts: dict[Key, int] = {}
    _count_leaves(query.root, leaf_options, counts)
    return _options(query.root, lambda keys: _cost(keys, counts), leaf_options)


def _count_leaves(
    root: Node, leaf_options: dict[int, list[KeySet] | None], counts: dict[Key, int]
) -> bool:
    """Record the options of every leaf and count their keys; True if the tree has an OR."""
    has_or = False
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, And):
            stack.extend(node.required)
            stack.extend(node.prohibited)
        elif isinstance(node, Or):
            has_or = True
            stack.extend(node.alternatives)
        else:
            number = id(node)
            if number in leaf_options:
                options = leaf_options[number]
            else:
                options = leaf_options[number] = _leaf_options(node)
            for keys in options or ():
                for item in keys:
                    counts[item] = counts.get(item, 0) + 1
    return has_or


def _and_options(root: Node, leaf_options: dict[int, list[KeySet] | None]) -> list[KeySet] | None:
    """:func:`_options` of a leaf or an AND of leaves (``[]`` if none); else ``None``."""
    if not isinstance(root, And):
        return leaf_options[id(root)] or []
    found: list[KeySet] = []
    for child in root.required:
        if isinstance(child, And | Or):
            return None
        found.extend(leaf_options[id(child)] or ())
    return found


def _options(
    node: Node, cost: Callable[[KeySet], float], leaf_options: dict[int, list[KeySet] | None]
) -> list[KeySet] | None:
    """Key sets that every matching document must each hit at least once; None if none."""
    if isinstance(node, And):
        found: list[KeySet] = []
        for child in node.required:
            found.extend(_options(child, cost, leaf_options) or ())
        return found or None
    if isinstance(node, Or):
        union: dict[Key, None] = {}
        for child in node.alternatives:
            child_options = _options(child, cost, leaf_options)
            if not child_options:
                return None
            # Any one required set of each alternative is sound; the cheapest keeps it tight.
            cheapest: KeySet = min(child_options, key=cost)
            union.update(dict.fromkeys(cheapest))
        return [tuple(union)]
    return leaf_options[id(node)]


def _leaf_options(node: Node) -> list[KeySet] | None:
    if not isinstance(node, Term | Phrase | Prefix | Proximity):
        return None
    if not set(node.fields) <= _TEXT_FIELDS:
        return None
    if isinstance(node, Term):
        if node.joined is None:
            return [_word_keys(node.words[0], node.stems[0])]
        # "cease-fire" needs every word in sequence, or the closed spelling.
        closed = STEM + node.joined
        return [tuple(dict.fromkeys((STEM + word_stem, closed))) for word_stem in node.stems]
    if isinstance(node, Phrase):
        return [(WORD + word,) for word in node.words]
    if isinstance(node, Prefix):
        return [(PREFIX + node.prefix,)]
    return [
        _word_keys(word, word_stem) for word, word_stem in zip(node.words, node.stems, strict=True)
    ]


_TEXT_FIELDS = frozenset(TEXT_FIELDS)


def _word_keys(word: str, word_stem: str) -> KeySet:
    """A single word matches its stem or, as a compound, a joined pair sharing its key."""
    key = compound_key(word)
    if key is None:
        return (STEM + word_stem,)
    return (STEM + word_stem, PAIR + key)


def _cost(keys: KeySet, counts: dict[Key, int]) -> float:
    total = 0.0
    for key in keys:
        value = key[1:]
        weight = counts.get(key, 0) + 1.0
        if value in _COMMON:
            weight *= 1000
        elif len(value) <= 3:
            weight *= 4
        if key[0] == PREFIX:
            weight *= 2
        total += weight
    return total
