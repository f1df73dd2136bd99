"""Alert-rule matching: compile a Lucene-style query once, match it against articles.

Semantics (Lucene syntax as luqum parses it; common shapes take a faster parser proven to
build the same tree, :mod:`pipeline.stages.query.quickparse`; limits in
:mod:`pipeline.stages.query.syntax`):

- ``war`` is whole-word, case/accent-insensitive and Snowball-stemmed (wars, not award).
  A single-word term also matches a joined pair of adjacent words with the same stem:
  hyphenated always (``cease-fire``), spaced when both parts have 3+ letters (``air strikes``).
  ``cease-fire`` in a query means the words in sequence or the closed form ``ceasefire``.
- ``"red cross"`` is an exact sequence of folded words: punctuation-insensitive, unstemmed.
- ``evacu*`` is a prefix (2+ letters) of folded, unstemmed words; wildcards elsewhere,
  ``?``, fuzzy ``word~`` and ``/regex/`` are refused.
- ``"a b"~N`` is Lucene's sloppy phrase: words (stemmed, as bare terms) at distinct
  positions p_i with max(p_i - i) - min(p_i - i) <= N; a gap of g in order costs g,
  two swapped neighbours cost 2. Never across title and text.
- Default operator AND; ``+x`` required; ``-x``/``NOT x`` excluded. NOT/- may not be an OR
  alternative, and a query of only exclusions is refused (it would match everything).
- OR beside AND/implicit AND with no parentheses follows Lucene's clause rule, not luqum's
  precedence: an OR makes both neighbours optional, and optional clauses beside a required
  one do not filter (``a b OR c`` matches like ``a``), see :mod:`pipeline.stages.query.clauses`.
- Unfielded terms search title then text; fields: title, text, feed (names/URLs), lang
  (``en`` also matches ``en-GB``), topic (code, bare number, or label words), place (a
  place name, or a country: alpha-2 code, name or everyday alias such as ``Syria``, ``UK``,
  ``"Ivory Coast"``, matching every place in that country, see
  :mod:`pipeline.stages.query.countries`), and figure categories with ``>=``, ``<``,
  ``[a TO b}``, ``n``, ``*``.
- Hits: one per positive term and field, first occurrence; the sentence is the title for
  title hits, the split sentence for text, the matched value for feed/lang/topic/place,
  and the figure's sentence (or "") for figures. Boosts (``^2``) are accepted and ignored.
"""

from __future__ import annotations

from pipeline.model import Hit, MatchDocument, MatchResult
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.errors import QueryError
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.jsonl import test_rules_jsonl
from pipeline.stages.query.prefilter import RuleMatcher
from pipeline.stages.query.syntax import CompiledQuery, compile_cached

__all__ = [
    "CompiledQuery",
    "Hit",
    "MatchDocument",
    "MatchResult",
    "QueryError",
    "RuleMatcher",
    "compile_query",
    "match_query",
    "test_rules_jsonl",
]


def compile_query(query: str) -> CompiledQuery:
    """Validate and compile ``query``; raises :class:`QueryError` with a position."""
    return compile_cached(query)


def match_query(query: CompiledQuery, doc: MatchDocument) -> MatchResult:
    """Evaluate one compiled query on one document; never raises."""
    return evaluate(query.root, DocumentIndex(doc))
