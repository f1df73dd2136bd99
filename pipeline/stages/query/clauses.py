"""Lucene's clause rule for operator sequences that mix OR with AND or implicit AND.

luqum's grammar gives AND a higher precedence than OR but implicit AND a lower one, so
``a b OR c`` and ``a AND b OR c`` would mean different things. Lucene's classic query
parser (and Elasticsearch's query_string) has no precedence: it walks the clauses left to
right, and with the default operator AND an ``OR`` makes both of its neighbours optional.
Optional clauses beside a required one do not filter, so ``a b OR c`` matches like ``a``.
"""

from __future__ import annotations

from typing import Literal

from luqum import tree

Conjunction = Literal["none", "and", "or"]
Occur = Literal["must", "should", "must_not"]

_OPERATIONS = (tree.AndOperation, tree.OrOperation, tree.UnknownOperation, tree.BoolOperation)


def _conjunction(item: tree.BaseOperation) -> Conjunction:
    if isinstance(item, tree.AndOperation):
        return "and"
    if isinstance(item, tree.OrOperation):
        return "or"
    return "none"


def flatten(item: tree.Item) -> list[tuple[Conjunction, tree.Item]]:
    """The ungrouped clauses of ``item`` in written order, each with the operator before it."""
    if not isinstance(item, _OPERATIONS):
        return [("none", item)]
    sequence: list[tuple[Conjunction, tree.Item]] = []
    for index, operand in enumerate(item.operands):
        inner = flatten(operand)
        if index:
            inner[0] = (_conjunction(item), inner[0][1])
        sequence.extend(inner)
    return sequence


def is_mixed(sequence: list[tuple[Conjunction, tree.Item]]) -> bool:
    """True when OR sits beside AND or an implicit operator at one level."""
    conjunctions = {conjunction for conjunction, _ in sequence[1:]}
    return "or" in conjunctions and len(conjunctions) > 1


def occurs(sequence: list[tuple[Conjunction, tree.Item]]) -> list[tuple[Occur, tree.Item]]:
    """Lucene QueryParserBase.addClause with default operator AND, clause by clause."""
    clauses: list[tuple[Occur, tree.Item]] = []
    for conjunction, item in sequence:
        if clauses and conjunction != "none":
            occur, previous = clauses[-1]
            if occur != "must_not":
                clauses[-1] = ("must" if conjunction == "and" else "should", previous)
        if isinstance(item, tree.Not | tree.Prohibit):
            clauses.append(("must_not", item.a))
        elif conjunction == "or":
            clauses.append(("should", item))
        else:
            clauses.append(("must", item))
    return clauses
