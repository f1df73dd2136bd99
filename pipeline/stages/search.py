"""Article search: the full-text index terms of an article, the index query that narrows a
rule query's candidates, and page cursors.

The index holds the matcher's own keys (stems, folded words, joined-pair keys; see
:func:`pipeline.stages.query.prefilter.document_keys`), so the index query is the matcher's
prefilter run by the database: every article a rule would match is a candidate, and the
rule matcher then checks each candidate exactly. Each key becomes one index term, its kind
letter followed by the hex of its UTF-8 bytes: any tokenizer (FTS5's unicode61, PostgreSQL
lexemes) keeps such a term whole, and a word prefix stays a term prefix.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.model import MatchDocument
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.prefilter import PREFIX, WORD, document_keys, required_keys
from pipeline.stages.query.syntax import CompiledQuery

# A term no longer than this is indexed whole; a longer one is cut to it, and a query key
# that long becomes a prefix query, which still finds it (PostgreSQL caps a lexeme at
# 2,047 bytes).
MAX_TERM = 500
# An article with more index text than this is indexed as ANY_TERM, which every index
# query accepts (PostgreSQL caps a tsvector at 1 MB): it is always a candidate.
MAX_TERMS_CHARS = 400_000
ANY_TERM = "xall"


def index_terms(title: str, text: str, index: DocumentIndex | None = None) -> list[str]:
    """The index terms of an article's title and cleaned text, sorted; ``index`` is the
    matcher's normalisation of that article when it was built already."""
    keys, _ = document_keys(index or DocumentIndex(MatchDocument(title=title, text=text)))
    terms = sorted({_term(key)[:MAX_TERM] for key in keys})
    if sum(len(term) + 1 for term in terms) > MAX_TERMS_CHARS:
        return [ANY_TERM]
    return terms


@dataclass(frozen=True)
class IndexTerm:
    term: str
    prefix: bool  # matches every index term that starts with it


# Every group must be hit by at least one of its terms; ANY_TERM is in each group.
IndexQuery = list[list[IndexTerm]]


def index_query(query: CompiledQuery) -> IndexQuery | None:
    """What an article matching ``query`` must hold in the index; None: no narrowing."""
    groups = required_keys(query)
    if not groups:
        return None
    found: IndexQuery = []
    for keys in groups:
        group = [IndexTerm(ANY_TERM, False)]
        for key in keys:
            # A prefix key is answered by the words that start with it.
            term = _term(WORD + key[1:]) if key[0] == PREFIX else _term(key)
            prefix = key[0] == PREFIX or len(term) > MAX_TERM
            group.append(IndexTerm(term[:MAX_TERM], prefix))
        found.append(group)
    return found


def _term(key: str) -> str:
    return key[0] + key[1:].encode().hex()


def fts5_match(groups: IndexQuery) -> str:
    """The query as an SQLite FTS5 MATCH expression."""
    return " AND ".join(
        "(" + " OR ".join(f'"{t.term}"' + ("*" if t.prefix else "") for t in group) + ")"
        for group in groups
    )


def tsquery_text(groups: IndexQuery) -> str:
    """The query as PostgreSQL tsquery text (cast, not parsed by a text search config)."""
    return " & ".join(
        "(" + " | ".join(f"'{t.term}'" + (":*" if t.prefix else "") for t in group) + ")"
        for group in groups
    )


# --- cursors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: results continue with articles sorted before (sort_at, id)."""

    sort_at: datetime
    article_id: int

    def encode(self) -> str:
        raw = json.dumps([self.sort_at.isoformat(), self.article_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError on a cursor this module did not make."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            when, article_id = json.loads(raw)
            if not isinstance(article_id, int) or isinstance(article_id, bool):
                raise ValueError("article id")
            return cls(datetime.fromisoformat(when), article_id)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"invalid cursor {text[:40]!r}") from exc


def figure_clause(text: str, categories: Sequence[str]) -> str:
    """A figure threshold (``killed:>=10``, ``displaced:[100 TO 500]``) checked to name a
    figure category; raises ValueError otherwise."""
    field, sep, value = text.strip().partition(":")
    if not sep or field.strip().lower() not in categories or not value.strip():
        raise ValueError(
            f"invalid figure filter {text!r}: write CATEGORY:VALUE, e.g. killed:>=10, "
            f"with a category among {', '.join(categories)}"
        )
    return f"{field.strip().lower()}:{value.strip()}"


def quoted(value: str, what: str) -> str:
    """``value`` as one quoted query term; raises ValueError on a value that cannot be."""
    cleaned = " ".join(value.split())
    if not cleaned or '"' in cleaned or "\\" in cleaned:
        raise ValueError(f"invalid {what} {value!r}: give a name without quotes")
    return f'"{cleaned}"'
