"""Parse a rule query with luqum (Lucene syntax) and validate it into a compiled tree.

Every refusal happens here, with the position of the offending clause, so evaluation
never raises. Work is bounded: length, nesting depth, clause count, phrase size and slop.
Lucene syntax newswatch cannot honour is refused rather than ignored (boosts, fuzzy terms,
regular expressions, inner wildcards, ``&&``/``||``/``!``, a negative or fractional slop), and
so are ``topic:``/``place:`` values that no topic or place could ever match
(:mod:`pipeline.stages.query.vocabulary`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError, ParseSyntaxError
from luqum.parser import lexer as luqum_lexer
from luqum.thread import parse

from pipeline.model import FIGURE_CATEGORIES
from pipeline.stages.query.clauses import Conjunction, flatten, is_mixed, occurs
from pipeline.stages.query.countries import country_code
from pipeline.stages.query.errors import QueryError
from pipeline.stages.query.nodes import (
    And,
    Country,
    Figure,
    Language,
    Node,
    Or,
    Phrase,
    Prefix,
    Proximity,
    Term,
    TopicCode,
)
from pipeline.stages.query.normalise import stem, words
from pipeline.stages.query.quickparse import parse_simple
from pipeline.stages.query.vocabulary import (
    place_can_match,
    topic_can_match,
    unknown_place,
    unknown_topic,
)

MAX_QUERY_CHARS = 2_000
MAX_DEPTH = 16
MAX_CLAUSES = 200
MAX_PHRASE_WORDS = 12
MAX_PROXIMITY_WORDS = 8
MAX_SLOP = 100
MIN_PREFIX = 2

TEXT_FIELDS = ("title", "text")
META_FIELDS = ("feed", "lang", "topic", "place")
FIGURE_FIELDS = FIGURE_CATEGORIES
KNOWN_FIELDS = frozenset(TEXT_FIELDS + META_FIELDS + FIGURE_FIELDS)

_AT_POSITION = re.compile(r"unexpected\s+'(.*)' at position (\d+)", re.DOTALL)
_ILLEGAL = re.compile(r"Illegal character '(.*)' at position (\d+)", re.DOTALL)
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_TOPIC_CODE = re.compile(r"(?:[a-z]+:)?\d+")
# Lucene's symbolic operators: luqum reads them as words, which would silently drop an
# exclusion ("!drill" searching for "drill"), so they are refused with the word to write.
_SYMBOLS = {"&&": "AND", "||": "OR", "!": "NOT"}
_BOOST = "boosts (^) are not supported: a rule matches or it does not, there is no score to raise"
_FUZZY = (
    'fuzzy terms (word~) are not supported; use a prefix (word*) or a proximity phrase ("a b"~5)'
)


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A validated query: immutable, hashable, safe to evaluate on any document."""

    source: str
    root: Node


@dataclass(frozen=True, slots=True)
class _Negative:
    """Clauses to exclude; only meaningful inside an AND."""

    clauses: tuple[Node, ...]
    position: int


def compile_tree(
    query: str, *, quick: bool = True, topics_file: Path | None = None
) -> CompiledQuery:
    """Validate ``query`` and build its tree; raises :class:`QueryError`.

    ``quick`` tries :func:`parse_simple` first; ``quick=False`` always parses with luqum.
    ``topics_file`` holds the topic definitions ``topic:`` values are checked against
    (``None``: the shipped ``pipeline/data/topics.yaml``, as for the extractor).
    """
    if not query.strip():
        raise QueryError("empty query", 0)
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query is longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS)
    _check_depth(query)
    if quick:
        parsed = parse_simple(query)
        if parsed is not None:
            try:
                return _compile_parsed(query, parsed, topics_file)
            except QueryError:
                pass  # luqum's tree carries the positions the error message needs
    return _compile_parsed(query, _parse(query), topics_file)


def _compile_parsed(query: str, parsed: tree.Item, topics_file: Path | None) -> CompiledQuery:
    node = _Compiler(topics_file).convert(parsed, None)
    if isinstance(node, _Negative):
        raise QueryError(
            "the query has only excluded terms (NOT/-), which would match every article; "
            "add a term to look for",
            node.position,
        )
    return CompiledQuery(source=query, root=node)


@lru_cache(maxsize=4096)
def compile_cached(query: str, topics_file: Path | None = None) -> CompiledQuery:
    """:func:`compile_tree` with a cache: rule sets are recompiled often, and rarely change."""
    return compile_tree(query, topics_file=topics_file)


def _check_depth(query: str) -> None:
    if query.count("(") <= MAX_DEPTH:
        return  # cannot nest deeper than the number of open parentheses
    depth = 0
    in_phrase = False
    escaped = False
    for index, char in enumerate(query):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_phrase = not in_phrase
        elif not in_phrase and char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise QueryError(f"parentheses nested deeper than {MAX_DEPTH} levels", index)
        elif not in_phrase and char == ")":
            depth -= 1


def _parse(query: str) -> tree.Item:
    if "^" in query or "~" in query:
        _check_modifiers(query)
    try:
        return parse(query)
    except ParseSyntaxError as error:
        found = _AT_POSITION.search(str(error))
        if found:
            raise QueryError(f"unexpected '{found.group(1)}'", int(found.group(2))) from None
        raise QueryError(
            "unexpected end of query (unbalanced parenthesis or quote, or a dangling operator?)",
            len(query),
        ) from None
    except IllegalCharacterError as error:
        found = _ILLEGAL.search(str(error))
        position = int(found.group(2)) if found else None
        char = found.group(1) if found else "?"
        if char.startswith('"'):
            raise QueryError("unclosed quote", position) from None
        raise QueryError(f"illegal character '{char[:1]}'", position) from None
    except (ParseError, AssertionError, ArithmeticError, ValueError, TypeError) as error:
        # ArithmeticError: luqum reads boost and fuzzy degrees as Decimal, which raises
        # InvalidOperation; _check_modifiers refuses those first, this keeps it a QueryError.
        raise QueryError(f"cannot parse query ({type(error).__name__})", None) from None


def _check_modifiers(query: str) -> None:
    """Refuse boosts and ``~`` modifiers newswatch cannot honour, at the ``^`` or ``~``.

    luqum's lexer has the position of every token, its tree does not: a boost keeps only the
    start of what it boosts, ``"a b"~-1`` becomes a slop of 1 next to a separate ``-1``, and
    ``"a b"~1.5`` fails inside luqum with a bare ValueError. The quick parser accepts none of
    these, so checking here, on the luqum path only, keeps both paths in agreement.
    """
    lexer = luqum_lexer.clone()  # PLY lexers carry state; a clone is private to this call
    lexer.input(query)
    previous = None
    try:
        for token in iter(lexer.token, None):
            if token.type == "BOOST":
                raise QueryError(_BOOST, token.lexpos)
            if token.type == "APPROX" and previous is not None:
                if previous.type == "TERM":
                    raise QueryError(_FUZZY, previous.lexpos)
                degree = token.value.value
                if degree is None and query.startswith("-", token.lexpos + 1):
                    raise QueryError(
                        f"proximity (~N) cannot be negative; write a number from 0 to {MAX_SLOP}",
                        token.lexpos,
                    )
                if degree is not None and not degree.isdigit():
                    raise QueryError(
                        f"proximity (~N) takes a whole number of words, not '{degree}'; "
                        f"write a number from 0 to {MAX_SLOP}",
                        token.lexpos,
                    )
            previous = token
    except IllegalCharacterError:
        return  # the parser reports it, with its position


class _Compiler:
    def __init__(self, topics_file: Path | None) -> None:
        self.clauses = 0
        self.topics_file = topics_file

    def convert(self, item: tree.Item, field: str | None) -> Node | _Negative:
        if isinstance(item, tree.BaseGroup | tree.Plus):
            return self.convert(item.expr if isinstance(item, tree.BaseGroup) else item.a, field)
        if isinstance(item, tree.Boost):
            # _check_modifiers refuses boosts at the "^" first; this covers trees built
            # without it, at the start of the boosted clause (all the tree knows).
            raise QueryError(_BOOST, item.pos)
        if isinstance(item, tree.SearchField):
            return self._field(item, field)
        if isinstance(item, tree.Not | tree.Prohibit):
            inner = self.convert(item.a, field)
            if isinstance(inner, _Negative):
                raise QueryError("double negation is not supported", item.pos)
            return _Negative((inner,), item.pos or 0)
        if isinstance(item, tree.BaseOperation) and is_mixed(sequence := flatten(item)):
            return self._mixed(sequence, field, item.pos or 0)
        if isinstance(item, tree.OrOperation):
            return self._or(item, field)
        if isinstance(item, tree.AndOperation | tree.UnknownOperation | tree.BoolOperation):
            # Implicit operators (UnknownOperation) default to AND.
            return self._and(item, field)
        return self._leaf(item, field)

    def _and(self, item: tree.BaseOperation, field: str | None) -> Node | _Negative:
        required: list[Node] = []
        prohibited: list[Node] = []
        for operand in item.operands:
            node = self.convert(operand, field)
            if isinstance(node, _Negative):
                prohibited.extend(node.clauses)
            elif isinstance(node, And):
                required.extend(node.required)
                prohibited.extend(node.prohibited)
            else:
                required.append(node)
        if not required:
            return _Negative(tuple(prohibited), item.pos or 0)
        if len(required) == 1 and not prohibited:
            return required[0]
        return And(tuple(required), tuple(prohibited))

    def _mixed(
        self, sequence: list[tuple[Conjunction, tree.Item]], field: str | None, position: int
    ) -> Node | _Negative:
        """OR beside AND: Lucene's left-to-right clause rule (see clauses.py)."""
        must: list[Node] = []
        should: list[Node] = []
        must_not: list[Node] = []
        for occur, operand in occurs(sequence):
            node = self.convert(operand, field)
            if isinstance(node, _Negative):
                if occur != "must":
                    raise QueryError(
                        "a negative group cannot be optional or negated; add parentheses",
                        operand.pos,
                    )
                must_not.extend(node.clauses)
            else:
                {"must": must, "should": should, "must_not": must_not}[occur].append(node)
        if must:
            # Optional clauses beside required ones never decide a match in Lucene.
            if len(must) == 1 and not must_not:
                return must[0]
            return And(tuple(must), tuple(must_not))
        if not should:
            return _Negative(tuple(must_not), position)
        either = should[0] if len(should) == 1 else Or(tuple(should))
        return And((either,), tuple(must_not)) if must_not else either

    def _or(self, item: tree.OrOperation, field: str | None) -> Node:
        alternatives: list[Node] = []
        for operand in item.operands:
            node = self.convert(operand, field)
            if isinstance(node, _Negative):
                raise QueryError(
                    "NOT/- cannot be an alternative of OR; write (a OR b) AND NOT c",
                    operand.pos,
                )
            alternatives.extend(node.alternatives if isinstance(node, Or) else (node,))
        return Or(tuple(alternatives))

    def _field(self, item: tree.SearchField, field: str | None) -> Node | _Negative:
        name = item.name.lower()
        if field == "topic":
            # topic:medtop:16000000 parses as a nested field; it is a topic code.
            self._count(item)
            return self._topic_code(item, f"{name}:{_plain(item.expr)}")
        if field == "feed":
            raise QueryError('quote feed URLs: feed:"https://example.org/rss"', item.pos)
        if field is not None:
            raise QueryError(f"field '{item.name}' is nested inside field '{field}'", item.pos)
        if name not in KNOWN_FIELDS:
            known = ", ".join(TEXT_FIELDS + META_FIELDS + FIGURE_FIELDS)
            raise QueryError(f"unknown field '{item.name}' (known: {known})", item.pos)
        return self.convert(item.expr, name)

    def _count(self, item: tree.Item) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QueryError(f"more than {MAX_CLAUSES} clauses", item.pos)

    def _leaf(self, item: tree.Item, field: str | None) -> Node:
        self._count(item)
        if isinstance(item, tree.Fuzzy):
            raise QueryError(_FUZZY, item.pos)
        if isinstance(item, tree.Regex):
            raise QueryError("regular expressions (/.../) are not supported", item.pos)
        if field in FIGURE_FIELDS:
            return _figure(item, field)
        if isinstance(item, tree.Range | tree.From | tree.To):
            raise QueryError(
                f"ranges only apply to figure fields ({', '.join(FIGURE_FIELDS)})", item.pos
            )
        if field == "lang":
            return _language(item)
        if field == "topic" and _looks_like_topic_code(item):
            return self._topic_code(item, _plain(item))
        if field == "place":
            country = _country(item)
            if country is not None:
                plain = _phrase(item, ("place",)) if isinstance(item, tree.Phrase) else None
                return _known_place(Or((country, plain or _word(item, ("place",)))), item)
        fields = (field,) if field is not None else TEXT_FIELDS
        node: Node
        if isinstance(item, tree.Proximity):
            node = _proximity(item, fields)
        elif isinstance(item, tree.Phrase):
            node = _phrase(item, fields)
        elif isinstance(item, tree.Word):
            node = _word(item, fields)
        else:
            raise QueryError(f"unsupported clause '{item}'", item.pos)
        if field == "topic":
            return self._known_topic(node, item, _plain(item))
        if field == "place":
            return _known_place(node, item)
        return node

    def _topic_code(self, item: tree.Item, code: str) -> Node:
        if not _TOPIC_CODE.fullmatch(code.lower()):
            raise QueryError(f"'{code}' is not a topic code like medtop:16000000", item.pos)
        return self._known_topic(TopicCode(code.lower(), code), item, code)

    def _known_topic(self, node: Node, item: tree.Item, value: str) -> Node:
        """``node`` if it matches some topic of the model; a typo never alerts, so refuse it."""
        if topic_can_match(node, self.topics_file):
            return node
        raise QueryError(unknown_topic(value, self.topics_file), item.pos)


def _known_place(node: Node, item: tree.Item) -> Node:
    """``node`` if it matches some place the extractor can tag, else a refusal."""
    if place_can_match(node):
        return node
    raise QueryError(unknown_place(_plain(item)), item.pos)


def _plain(item: tree.Item) -> str:
    if isinstance(item, tree.Phrase):
        return _unescaped(item)[1:-1].strip()
    if isinstance(item, tree.Term):
        return _unescaped(item)
    return str(item).strip()


def _unescaped(item: tree.Term) -> str:
    """``item.unescaped_value``, without its regular expression when there is no escape."""
    return item.value if "\\" not in item.value else item.unescaped_value


def _looks_like_topic_code(item: tree.Item) -> bool:
    if not isinstance(item, tree.Word | tree.Phrase):
        return False
    return bool(_TOPIC_CODE.fullmatch(_plain(item).lower()))


def _word(item: tree.Word, fields: tuple[str, ...]) -> Node:
    value = item.value
    if value in _SYMBOLS or value.startswith("!"):
        symbol = value if value in _SYMBOLS else "!"
        operator = _SYMBOLS[symbol]
        raise QueryError(
            f"'{symbol}' is Lucene's {operator}, which newswatch does not read; "
            f"write {operator}" + (" or -" if operator == "NOT" else ""),
            item.pos,
        )
    if "?" in value.replace("\\?", "") or "*" in value.replace("\\*", "")[:-1]:
        raise QueryError("wildcards are only supported at the end of a word (evacu*)", item.pos)
    if value.endswith("*") and not value.endswith("\\*"):
        parts = words(_unescaped(item)[:-1])
        if len(parts) != 1 or len(parts[0]) < MIN_PREFIX:
            raise QueryError(
                f"a prefix needs one word of at least {MIN_PREFIX} letters before '*'", item.pos
            )
        return Prefix(fields, parts[0], value)
    unescaped = _unescaped(item)
    parts = words(unescaped)
    if not parts:
        raise QueryError(f"'{value}' has no letters or digits to search for", item.pos)
    if len(parts) > MAX_PHRASE_WORDS:
        raise QueryError(f"more than {MAX_PHRASE_WORDS} words in one term", item.pos)
    joined = stem("".join(parts)) if len(parts) > 1 else None
    stems = tuple(stem(part) for part in parts)
    return Term(fields, tuple(parts), stems, joined, unescaped)


def _phrase(item: tree.Phrase, fields: tuple[str, ...]) -> Phrase:
    parts = words(_plain(item))
    if not parts:
        raise QueryError("empty phrase", item.pos)
    if len(parts) > MAX_PHRASE_WORDS:
        raise QueryError(f"more than {MAX_PHRASE_WORDS} words in one phrase", item.pos)
    return Phrase(fields, tuple(parts), item.value)


def _proximity(item: tree.Proximity, fields: tuple[str, ...]) -> Node:
    if not isinstance(item.term, tree.Phrase):
        raise QueryError("proximity (~N) applies to a quoted phrase", item.pos)
    if set(fields) - set(TEXT_FIELDS):
        raise QueryError("proximity (~N) only applies to title and text", item.pos)
    parts = words(_plain(item.term))
    if not parts:
        raise QueryError("empty phrase", item.pos)
    if len(parts) > MAX_PROXIMITY_WORDS:
        raise QueryError(f"more than {MAX_PROXIMITY_WORDS} words in a proximity phrase", item.pos)
    if not 0 <= item.degree <= MAX_SLOP:
        raise QueryError(f"proximity must be between 0 and {MAX_SLOP}", item.pos)
    label = str(item).strip()
    stems = tuple(stem(part) for part in parts)
    return Proximity(fields, tuple(parts), stems, item.degree, label)


def _country(item: tree.Item) -> Country | None:
    """The country a ``place:`` value names (code, name or alias), if it names one."""
    if isinstance(item, tree.Word):
        value = item.value
        if "*" in value or "?" in value:
            return None
    elif isinstance(item, tree.Phrase):
        value = item.value
    else:
        return None
    code = country_code(_plain(item))
    return Country(code, value) if code is not None else None


def _language(item: tree.Item) -> Language:
    if not isinstance(item, tree.Word | tree.Phrase):
        raise QueryError("lang: takes a language code like en or pt-br", item.pos)
    code = _plain(item).lower().replace("_", "-")
    if not _LANGUAGE.fullmatch(code):
        raise QueryError(f"'{_plain(item)}' is not a language code like en or pt-br", item.pos)
    return Language(code, _plain(item))


def _figure(item: tree.Item, field: str) -> Figure:
    label = f"{field}:{str(item).strip()}"
    if isinstance(item, tree.Word):
        if item.value == "*":
            return Figure(field, None, None, True, True, label)
        value = _number(item, field)
        return Figure(field, value, value, True, True, label)
    if isinstance(item, tree.From):
        return Figure(field, _number(item.a, field), None, item.include, True, label)
    if isinstance(item, tree.To):
        return Figure(field, None, _number(item.a, field), True, item.include, label)
    if isinstance(item, tree.Range):
        low = None if _is_star(item.low) else _number(item.low, field)
        high = None if _is_star(item.high) else _number(item.high, field)
        if low is not None and high is not None and low > high:
            raise QueryError(f"empty range: {low:g} is above {high:g}", item.pos)
        return Figure(field, low, high, item.include_low, item.include_high, label)
    raise QueryError(f"{field}: takes a number, a comparison (>=100) or a range", item.pos)


def _is_star(item: tree.Item) -> bool:
    return isinstance(item, tree.Word) and item.value == "*"


def _number(item: tree.Item, field: str) -> float:
    text = _plain(item).replace(",", "").replace("_", "")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise QueryError(f"{field}: expects a number, not '{_plain(item)}'", item.pos)
    return value
