"""Benchmark article search: the full-text index plus the rule matcher against the matcher
alone over every stored article (what a search without the index has to do).

Stores a sample of the bbc-news corpus in a fresh store (SQLite by default, or the
PostgreSQL database given with --database), indexing each article as processing does, then
times a few searches of one 50-article page both ways and checks they return the same
articles. Also prints what indexing adds to processing an article (its index terms, from the
matcher's normalisation processing already made) beside that normalisation's own cost.

    .venv/bin/python -m benchmarks.bench_search [--articles 2000] [--database URL]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.io import store
from pipeline.io.store.migrate import upgrade_database
from pipeline.model import Extraction, MatchDocument
from pipeline.runtime import Runtime
from pipeline.services.search import search_articles
from pipeline.settings import Settings
from pipeline.stages.match import compile_query, match_query
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.search import index_terms

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "bbc-news" / "data"
QUERIES = (
    "ceasefire",
    "election AND minister",
    '"interest rates"',
    "champion* AND -football",
    "broadband OR mobile",
    "oil prices",
)


def load(limit: int) -> list[tuple[str, str]]:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the bbc-news corpus is needed for this benchmark")
    paths = sorted(SHARED.rglob("*.txt"))
    random.Random(7).shuffle(paths)
    found = []
    for path in paths[:limit]:
        title, _, text = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        found.append((title.strip(), text.strip()))
    return found


def fill(url: str, articles: list[tuple[str, str]]) -> tuple[float, float]:
    """Store and index the articles; returns ms per article for index terms and for the
    matcher's normalisation of the same article."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    terms_time = index_time = 0.0
    with store.session_scope(url) as session:
        for number, (title, text) in enumerate(articles):
            article = store.Article(
                canonical_url=f"https://bbc.example.invalid/{number}",
                title=title,
                text=text,
                extraction={"figures": [], "topics": [], "places": []},
                processed_at=start,
                published=start + timedelta(minutes=number),
            )
            session.add(article)
            session.flush()
            article_id = int(article.id)  # type: ignore[arg-type]
            began = time.perf_counter()
            normalised = DocumentIndex(MatchDocument(title=title, text=text))
            normalised.field("title"), normalised.field("text")
            index_time += time.perf_counter() - began
            # Processing hands its matcher's normalisation over: this is what it adds.
            began = time.perf_counter()
            terms = index_terms(title, text, normalised)
            terms_time += time.perf_counter() - began
            store.write_index_terms(session, article_id, terms)
    count = max(len(articles), 1)
    return terms_time * 1000 / count, index_time * 1000 / count


def brute_force(url: str, query: str, limit: int) -> list[int]:
    """The matcher over every stored article, newest first, until a page is full."""
    compiled = compile_query(query)
    found: list[int] = []
    with store.session_scope(url) as session:
        rows = store.search_candidates(session, None, store.SearchFilters(), None, 10**9)
        for article, _ in rows:
            document = MatchDocument.from_extraction(
                article.title, article.text or "", (), Extraction.from_dict(article.extraction)
            )
            if match_query(compiled, document).matched:
                found.append(int(article.id))  # type: ignore[arg-type]
                if len(found) == limit:
                    break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a temporary SQLite)")
    args = parser.parse_args()
    articles = load(args.articles)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/bench.db"
        upgrade_database(url)
        terms_ms, index_ms = fill(url, articles)
        rt = Runtime(settings=Settings(data_dir=Path(tmp), database_url=url))
        backend = url.split(":", 1)[0]
        print(f"{len(articles)} articles on {backend}")
        print(
            f"index terms per article: {terms_ms:.2f} ms "
            f"(baseline, the matcher's normalisation they are read from: {index_ms:.2f} ms)"
        )
        print(f"{'query':28} {'hits':>5} {'index+matcher':>14} {'matcher only':>13} {'ratio':>7}")
        for query in QUERIES:
            began = time.perf_counter()
            page = search_articles(rt, query, limit=50)
            indexed = time.perf_counter() - began
            began = time.perf_counter()
            expected = brute_force(url, query, 50)
            baseline = time.perf_counter() - began
            assert [item.id for item in page.items] == expected, query
            print(
                f"{query:28} {len(expected):5} {indexed * 1000:11.1f} ms "
                f"{baseline * 1000:10.1f} ms {baseline / max(indexed, 1e-9):6.1f}x"
            )
        store.dispose_all()


if __name__ == "__main__":
    main()
