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
  ``?``, fuzzy ``word~``, ``/regex/``, ranges outside figure fields and boosts (``x^2``,
  ``"a b"^3``, ``(a OR b)^2``: a rule has no score to raise) are refused, each at its
  position (a boost at its ``^``).
- ``"a b"~N`` is Lucene's sloppy phrase: words (stemmed, as bare terms) at distinct
  positions p_i with max(p_i - i) - min(p_i - i) <= N; a gap of g in order costs g,
  two swapped neighbours cost 2. Never across title and text. N is a whole number from 0
  to 100 (``~-1`` and ``~1.5`` are refused at the ``~``); a bare ``~`` means 1, as in luqum.
- Default operator AND; ``+x`` required; ``-x``/``NOT x`` excluded. NOT/- may not be an OR
  alternative, and a query of only exclusions is refused (it would match everything).
  Lucene's ``&&``, ``||`` and ``!`` are refused with the operator to write instead.
- Only upper-case AND/OR/NOT are operators. Lower-case ``and``/``or``/``not`` are words,
  as in Lucene (``rock and roll`` needs all three words); :func:`query_warnings` flags one
  standing between two terms (``ceasefire or truce``), where the operator was likely meant.
  Words inside quotes are never flagged.
- OR beside AND/implicit AND with no parentheses follows Lucene's clause rule, not luqum's
  precedence: an OR makes both neighbours optional, and optional clauses beside a required
  one do not filter (``a b OR c`` matches like ``a``), see :mod:`pipeline.stages.query.clauses`.
- Unfielded terms search title then text; fields: title, text, feed (names/URLs), lang
  (``en`` also matches ``en-GB``), topic (code, bare number, or label words), place (a
  place name, or a country: alpha-2 code, name or everyday alias such as ``Syria``, ``UK``,
  ``"Ivory Coast"``, matching every place in that country, see
  :mod:`pipeline.stages.query.countries`), and figure categories with ``>=``, ``<``,
  ``[a TO b}``, ``n``, ``*``. A topic or place value that no topic of the model and no
  place the extractor can tag would match is refused with the nearest names
  (``place:Syrria``: did you mean 'Syria'?), see :mod:`pipeline.stages.query.vocabulary`.
- Hits: one per positive term and field, first occurrence; the sentence is the title for
  title hits, the split sentence for text, the matched value for feed/lang/topic/place,
  and the figure's sentence (or "") for figures.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.model import Hit, MatchDocument, MatchResult
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.errors import QueryError
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.jsonl import test_rules_jsonl
from pipeline.stages.query.lint import query_warnings
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
    "query_warnings",
    "test_rules_jsonl",
]


def compile_query(query: str, topics_file: Path | None = None) -> CompiledQuery:
    """Validate and compile ``query``; raises :class:`QueryError` with a position.

    ``topic:`` values are checked against ``topics_file`` (default: the shipped
    ``pipeline/data/topics.yaml``); pass the file the extractor tags with when it is another.
    """
    return compile_cached(query, topics_file)


def match_query(query: CompiledQuery, doc: MatchDocument) -> MatchResult:
    """Evaluate one compiled query on one document; never raises."""
    return evaluate(query.root, DocumentIndex(doc))
