"""Benchmark RuleMatcher (prefilter + exact evaluation) against a naive loop over every rule.

Generates 1,000 / 10,000 / 100,000 deterministic rules (news vocabulary plus random rare
strings, so most rules are selective like real alert rules), runs them over a sample of the
bbc-news corpus, and prints ms per article, compile time, memory growth and the speed ratio.

    .venv/bin/python -m benchmarks.bench_rules [--articles 300] [--naive-articles 20]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import string
import sys
import time
from pathlib import Path

from pipeline.stages.match import MatchDocument, RuleMatcher, compile_query, match_query
from pipeline.stages.query.document import DocumentIndex
from pipeline.stages.query.evaluate import evaluate
from pipeline.stages.query.syntax import CompiledQuery

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "bbc-news" / "data"

# A generic English news vocabulary (written for this script, not taken from the corpus).
VOCABULARY = " ".join(
    (
        "attack army border bomb ceasefire conflict troops soldiers rebels militia missile",
        "airstrike refugees evacuation flood storm earthquake hurricane wildfire drought",
        "famine outbreak virus vaccine hospital doctors nurses patients disease epidemic",
        "pandemic election vote ballot parliament minister president government opposition",
        "protest strike union workers wages inflation prices market shares stocks bank",
        "interest rates economy recession growth exports imports tariffs trade deal sanctions",
        "embassy diplomat summit treaty agreement talks peace police arrest court judge trial",
        "verdict prison sentence crime murder fraud corruption bribery investigation inquiry",
        "report scandal resignation scientists research study climate emissions carbon energy",
        "oil gas pipeline electricity solar wind nuclear reactor water pollution forest",
        "wildlife ocean fishing farmers harvest crops food shortage supply chain factory",
        "production company profits losses jobs unemployment housing rent mortgage school",
        "students teachers university exams children families women migrants asylum border",
        "visa citizens villagers capital city village region province district coast island",
        "river mountain desert airport railway bridge highway tunnel port harbour ship tanker",
        "aircraft pilot passengers crash accident fire explosion collapse rescue survivors",
        "casualties injured dead missing hostages kidnapping terrorism extremists security",
        "intelligence spy cyber hackers data privacy internet technology software smartphone",
        "network satellite launch space mission rocket telescope football match tournament",
        "championship league players coach stadium fans olympics medal record film music",
        "festival artist album concert theatre museum exhibition book author prize award",
        "television broadcast newspaper journalist media censorship freedom rights activists",
        "church mosque temple religious leader festival holiday tourism hotel flights airline",
        "travel budget taxes spending debt loan investment fund charity donation aid",
        "volunteers appeal",
    )
).split(" ")


def load_articles(limit: int, seed: int) -> list[MatchDocument]:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the bbc-news corpus is needed for this benchmark")
    paths = sorted(SHARED.rglob("*.txt"))
    random.Random(seed).shuffle(paths)
    documents = []
    for path in paths[:limit]:
        title, _, text = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        documents.append(
            MatchDocument(title=title.strip(), text=text.strip(), feeds=("BBC",), language="en")
        )
    return documents


def _rare(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(6, 9)))


def generate_rules(count: int, seed: int) -> list[str]:
    """A mix of terms, phrases, booleans and prefixes; ~95% contain a rare required word."""
    rng = random.Random(seed)
    word = lambda: rng.choice(VOCABULARY)  # noqa: E731
    rules: list[str] = []
    for _ in range(count):
        rare = _rare(rng)
        shape = rng.randrange(10)
        if rng.random() < 0.05:  # broad rules built from common words only
            rules.append(
                rng.choice(
                    [
                        f"{word()} AND {word()}",
                        f'"{word()} {word()}"',
                        f"({word()} OR {word()}) AND {word()} -{word()}",
                        f'"{word()} {word()}"~5 AND {word()}',
                    ]
                )
            )
        elif shape == 0:
            rules.append(rare)
        elif shape == 1:
            rules.append(f"{word()} AND {rare}")
        elif shape == 2:
            rules.append(f'"{word()} {rare}"')
        elif shape == 3:
            rules.append(f"({word()} OR {word()}) AND {rare} -{word()}")
        elif shape == 4:
            rules.append(f"{rare[:5]}* AND {word()}")
        elif shape == 5:
            rules.append(f'"{rare} {word()}"~5')
        elif shape == 6:
            rules.append(f"title:{rare} OR text:({word()} AND {_rare(rng)})")
        elif shape == 7:
            rules.append(f"{rare} OR {_rare(rng)} OR {_rare(rng)}")
        elif shape == 8:
            rules.append(f"{word()} {rare} killed:>=10")
        else:
            rules.append(f"{word()}-{rare} lang:en")
    return rules


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(count: int, articles: list[MatchDocument], naive_articles: int, seed: int) -> None:
    sources = generate_rules(count, seed)
    gc.collect()
    rss_before = _rss_mb()
    started = time.perf_counter()
    compiled: list[tuple[int, CompiledQuery]] = [
        (number, compile_query(source)) for number, source in enumerate(sources)
    ]
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    matcher = RuleMatcher(compiled)
    build_seconds = time.perf_counter() - started
    rss_growth = _rss_mb() - rss_before

    matched = 0
    candidates = 0
    started = time.perf_counter()
    for doc in articles:
        matched += len(matcher.match(doc))
    fast_ms = (time.perf_counter() - started) * 1000 / len(articles)
    for doc in articles[:naive_articles]:
        candidates += len(matcher.candidates(DocumentIndex(doc)))

    naive_sample = articles[:naive_articles]
    naive_matched = 0
    # Strong baseline: every rule evaluated, article normalised once, leaf cache shared.
    started = time.perf_counter()
    for doc in naive_sample:
        index = DocumentIndex(doc)
        naive_matched += sum(evaluate(query.root, index).matched for _, query in compiled)
    naive_ms = (time.perf_counter() - started) * 1000 / len(naive_sample)
    check = sum(len(matcher.match(doc)) for doc in naive_sample)
    assert check == naive_matched, "prefilter disagrees with the naive loop"

    # The literal naive loop: match_query per rule, re-normalising the article every time.
    # Measured on the first 500 rules over 3 articles, scaled linearly to the rule count.
    subset = compiled[:500]
    started = time.perf_counter()
    for doc in naive_sample[:3]:
        for _, query in subset:
            match_query(query, doc)
    per_rule_ms = (time.perf_counter() - started) * 1000 / (3 * len(subset))
    literal_ms = per_rule_ms * count

    print(
        f"rules={count:>7,}  compile_query={compile_seconds:6.2f}s  "
        f"RuleMatcher build={build_seconds:5.2f}s  peak RSS growth={rss_growth:6.0f} MB  "
        f"candidates/article={candidates / len(naive_sample):7.1f}  "
        f"matches/article={matched / len(articles):5.2f}"
    )
    print(
        f"    RuleMatcher {fast_ms:8.3f} ms/article ({len(articles)} articles)   "
        f"naive {naive_ms:9.2f} ms/article ({len(naive_sample)} articles)   "
        f"speed-up {naive_ms / fast_ms:7.1f}x"
    )
    print(
        f"    literal naive match_query loop ~{literal_ms:10.1f} ms/article (extrapolated)   "
        f"speed-up {literal_ms / fast_ms:9.0f}x"
    )
    del matcher, compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--naive-articles", type=int, default=20)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    articles = load_articles(args.articles, args.seed)
    # Warm the stem cache once so every size sees the same steady state.
    RuleMatcher([(0, compile_query("warmup"))])
    for doc in articles:
        DocumentIndex(doc).field("text")
    for size in (int(value) for value in args.sizes.split(",")):
        bench(size, articles, min(args.naive_articles, len(articles)), args.seed)


if __name__ == "__main__":
    main()
