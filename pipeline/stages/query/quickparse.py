"""A fast parser for the common shape of rule queries, building the same luqum tree.

luqum's PLY parser costs ~50 µs a query, most of a 100,000-rule compile. This parser
accepts only queries whose meaning is unambiguous without PLY's precedence tables: words,
phrases, ``"a b"~N``, fields, ``>=n``/``<n``, ``+``/``-``/``NOT``, parentheses, and AND/OR
where one level never mixes OR with AND or implicit operators. It tokenises with luqum's
own regular expressions and builds luqum items, which the compiler then reads as usual;
anything else (ranges, boosts, escapes, regexes, ``TO``, syntax errors) returns ``None``
and goes through luqum, which also produces every error message. A property test checks
that both paths compile random queries to equal trees.
"""

from __future__ import annotations

import re

from luqum import tree
from luqum.parser import PHRASE_RE, TERM_RE

# luqum's lexer rules in its own order (PLY tries them in definition order); only the
# tokens this parser understands get a name, the rest make it give up.
_TOKENS = re.compile(
    "|".join(
        (
            r"(?P<space>\s+)",
            f"(?P<word>{TERM_RE.replace('(?P<term>', '(?:')})",
            r"(?P<plus>\+)",
            r"(?P<minus>\-)",
            r"(?P<colon>:)",
            r"(?P<open>\()",
            r"(?P<close>\))",
            r"(?P<other>[\[\]{}])",
            r"(?P<greater>>=?)",
            r"(?P<less><=?)",
            f"(?P<phrase>{PHRASE_RE.replace('(?P<phrase>', '(?:')})",
            r"(?P<other2>/|~|\^)",
        )
    ),
    re.VERBOSE,
)
# A proximity degree written right after the phrase; luqum reads "[0-9.]+" after "~".
_DEGREE = re.compile(r"~([0-9.]+)")
_OPERATORS = {"AND": "and", "OR": "or", "NOT": "not", "TO": "to"}

Token = tuple[str, str]  # (kind, text); phrases carry their "~N" degree as "phrase~"


class _Unsupported(Exception):
    """The query is outside this parser's subset; luqum must parse it."""


def parse_simple(query: str) -> tree.Item | None:
    """luqum's tree for ``query`` when it has the simple shape, else ``None``."""
    if "\\" in query:
        return None
    try:
        tokens = _tokenize(query)
        parser = _Parser(tokens)
        item = parser.expression()
        if parser.at < len(tokens):
            return None
        return item
    except _Unsupported:
        return None


def _tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    end = len(query)
    match = _TOKENS.match
    while position < end:
        found = match(query, position)
        if found is None:
            raise _Unsupported
        kind = found.lastgroup
        text = found.group()
        position = found.end()
        if kind == "space":
            continue
        if kind == "word":
            operator = _OPERATORS.get(text)
            if operator == "to":
                raise _Unsupported
            tokens.append((operator or "word", text))
        elif kind == "phrase":
            if position < end and query[position] == "~":
                degree = _DEGREE.match(query, position)
                if degree is None or not degree.group(1).isdigit():
                    raise _Unsupported
                tokens.append(("proximity", text))
                tokens.append(("degree", degree.group(1)))
                position = degree.end()
            else:
                tokens.append(("phrase", text))
        elif kind in ("greater", "less"):
            # The bound must follow directly: luqum keeps the space in the figure's label.
            if position >= end or query[position].isspace():
                raise _Unsupported
            tokens.append((kind, text))
        elif kind in ("plus", "minus", "colon", "open", "close"):
            tokens.append((kind, text))
        else:
            raise _Unsupported
    return tokens


class _Parser:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def _peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def expression(self) -> tree.Item:
        operands = [self.unary()]
        operators: set[str] = set()
        while True:
            kind = self._peek()
            if kind is None or kind == "close":
                break
            if kind in ("and", "or"):
                operators.add(kind)
                self.at += 1
            else:
                operators.add("implicit")
            operands.append(self.unary())
        if len(operands) == 1:
            return operands[0]
        if "or" in operators:
            if len(operators) > 1:
                raise _Unsupported  # OR beside AND/implicit: PLY's precedence decides
            return tree.OrOperation(*operands)
        # AND and implicit AND compile alike, and flattening makes grouping irrelevant.
        return tree.AndOperation(*operands)

    def unary(self) -> tree.Item:
        tokens = self.tokens
        if self.at >= len(tokens):
            raise _Unsupported
        kind, text = tokens[self.at]
        self.at += 1
        if kind == "word":
            if self._peek() == "colon":
                self.at += 1
                inner = self.unary()
                if isinstance(inner, tree.Group):
                    inner = tree.FieldGroup(inner.expr)
                return tree.SearchField(text, inner)
            return tree.Word(text)
        if kind == "phrase":
            return tree.Phrase(text)
        if kind == "proximity":
            degree = tokens[self.at][1]
            self.at += 1
            return tree.Proximity(tree.Phrase(text), degree)
        if kind == "minus":
            return tree.Prohibit(self.unary())
        if kind == "plus":
            return tree.Plus(self.unary())
        if kind == "not":
            return tree.Not(self.unary())
        if kind == "open":
            inner = self.expression()
            if self._peek() != "close":
                raise _Unsupported
            self.at += 1
            return tree.Group(inner)
        if kind in ("greater", "less") and self._peek() in ("word", "phrase"):
            bound = self._bound()
            include = text.endswith("=")
            return tree.From(bound, include) if kind == "greater" else tree.To(bound, include)
        raise _Unsupported

    def _bound(self) -> tree.Item:
        kind, text = self.tokens[self.at]
        self.at += 1
        return tree.Word(text) if kind == "word" else tree.Phrase(text)
