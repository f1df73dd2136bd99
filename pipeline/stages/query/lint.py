"""Warnings for valid queries that probably do not say what their author meant.

Lucene, and newswatch with it, reads only upper-case AND, OR and NOT as operators; ``and``,
``or`` and ``not`` are ordinary words, so ``rock and roll`` finds articles with all three
words. That is kept (refusing it would break rules that mean the words), but between two
terms a lower-case operator word is far more often a mistake (``ceasefire or truce``
requires both words, and "or"), so it earns a warning when the rule is saved.
"""

from __future__ import annotations

from luqum.exceptions import IllegalCharacterError
from luqum.parser import lexer as luqum_lexer

# The operator each word was probably meant as, and what writing it would do.
_MEANT = {
    "and": ("AND", "to require both terms, or quote the words to search them as a phrase"),
    "or": ("OR", "to mean either term"),
    "not": ("NOT", "to exclude the term after it"),
}
# luqum token types that end an operand, so a word after one sits between terms ...
_ENDS_OPERAND = frozenset({"TERM", "PHRASE", "REGEX", "RPAREN", "RBRACKET", "APPROX", "BOOST"})
# ... and types that start one. A COLUMN after the word would make it a field name instead.
_STARTS_OPERAND = frozenset(
    {"TERM", "PHRASE", "REGEX", "LPAREN", "LBRACKET", "PLUS", "MINUS", "NOT", "TO"}
    | {"GREATERTHAN", "LESSTHAN"}
)


def query_warnings(query: str) -> list[str]:
    """One-line warnings about ``query``, in order of position; ``[]`` when nothing looks off.

    Words inside quoted phrases are never flagged: luqum's lexer reads a phrase as one token,
    so its words never appear here. Nor are a lower-case word at the start or end of a group,
    a field's value (``title:or``) or an escaped word (``\\and``).
    """
    tokens = _tokens(query)
    warnings: list[str] = []
    for number, (kind, position, text) in enumerate(tokens):
        meant = _MEANT.get(text.lower()) if kind == "TERM" else None
        if meant is None or number == 0 or number + 1 == len(tokens):
            continue
        if tokens[number - 1][0] in _ENDS_OPERAND and tokens[number + 1][0] in _STARTS_OPERAND:
            operator, effect = meant
            warnings.append(
                f"'{text}' at position {position} is searched as a word; write {operator} {effect}"
            )
    return warnings


def _tokens(query: str) -> list[tuple[str, int, str]]:
    """(type, position, text of a word) of luqum's tokens, up to any illegal character."""
    lexer = luqum_lexer.clone()  # PLY lexers carry state; a clone is private to this call
    lexer.input(query)
    tokens: list[tuple[str, int, str]] = []
    try:
        for token in iter(lexer.token, None):
            text = token.value.value if token.type == "TERM" else ""
            tokens.append((token.type, token.lexpos, text))
    except IllegalCharacterError:
        pass  # the query is invalid; compiling it says where, and earlier warnings still hold
    return tokens
