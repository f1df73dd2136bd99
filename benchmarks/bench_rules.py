"""Benchmark RuleMatcher (prefilter + exact evaluation) against evaluating every rule.

Generates 1,000 / 10,000 / 100,000 deterministic rules (news vocabulary plus random rare
strings, so most rules are selective like real alert rules), runs them over a sample of the
bbc-news corpus, and prints ms per article, compile time, memory growth and the speed ratio.

    .venv/bin/python -m benchmarks.bench_rules [--articles 300] [--sizes 1000,10000,100000]

Compile is measured cold (query, fold and stem caches cleared); matching after one warm-up
pass over the articles. The headline baseline is the obvious loop, match_query for every rule
on every article, timed on a sample of rules and scaled linearly; a second, stricter baseline
evaluates every rule on one shared normalised article.
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
from pipeline.stages.query.normalise import clear_caches
from pipeline.stages.query.syntax import CompiledQuery, compile_cached

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


def _clear_caches() -> None:
    """Start each size cold: no compiled queries, folds or stems left from the last size."""
    compile_cached.cache_clear()
    clear_caches()


def bench(count: int, articles: list[MatchDocument], args: argparse.Namespace) -> None:
    sources = generate_rules(count, args.seed)
    _clear_caches()
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

    # Best of a few passes (after a warm-up pass): the machine may be shared.
    for doc in articles:
        matcher.match(doc)
    passes: list[float] = []
    for _ in range(args.passes):
        started = time.perf_counter()
        results = [matcher.match(doc) for doc in articles]
        passes.append((time.perf_counter() - started) * 1000 / len(articles))
    fast_ms = min(passes)
    matched = sum(len(result) for result in results)
    candidates = sum(len(matcher.candidates(DocumentIndex(doc))) for doc in articles)
    naive_sample = articles[: args.naive_articles]

    # Headline baseline, the obvious loop: for each article, for each rule,
    # match_query(rule, article). Timed on an evenly spaced sample of rules and scaled
    # linearly to the full rule count (each call is independent of the others).
    step = max(1, count // args.naive_rules)
    sampled = compiled[::step][: args.naive_rules]
    started = time.perf_counter()
    loop_results = [
        [match_query(query, doc).matched for _, query in sampled] for doc in naive_sample
    ]
    per_call_ms = (time.perf_counter() - started) * 1000 / (len(naive_sample) * len(sampled))
    naive_ms = per_call_ms * count
    for doc_result, result in zip(loop_results, results, strict=False):
        expected = [key for (key, _), hit in zip(sampled, doc_result, strict=True) if hit]
        assert expected == [key for key in result if key % step == 0 and key // step < len(sampled)]

    # Stricter baseline: every rule evaluated, but the article normalised once and the
    # leaf-result cache shared, so only the prefilter differs from RuleMatcher.
    shared_sample = articles[: args.shared_articles]
    started = time.perf_counter()
    shared_matched = 0
    for doc in shared_sample:
        index = DocumentIndex(doc)
        shared_matched += sum(evaluate(query.root, index).matched for _, query in compiled)
    shared_ms = (time.perf_counter() - started) * 1000 / len(shared_sample)
    check = sum(len(result) for result in results[: len(shared_sample)])
    assert check == shared_matched, "prefilter disagrees with evaluating every rule"

    print(
        f"rules={count:>7,}  compile: compile_query {compile_seconds:5.2f}s + RuleMatcher "
        f"{build_seconds:4.2f}s = {compile_seconds + build_seconds:5.2f}s  "
        f"peak RSS growth {rss_growth:4.0f} MB  "
        f"candidates/article {candidates / len(articles):6.1f}  "
        f"matches/article {matched / len(articles):5.2f}"
    )
    print(
        f"    RuleMatcher          {fast_ms:10.3f} ms/article  ({len(articles)} articles, best of "
        f"{args.passes} passes)"
    )
    print(
        f"    naive match_query loop {naive_ms:8.1f} ms/article  "
        f"speed-up {naive_ms / fast_ms:7.0f}x"
        f"  ({per_call_ms:.4f} ms per call, timed on {len(sampled)} rules (1 in {step})"
        f" x {len(naive_sample)} articles, x {count:,} rules)"
    )
    print(
        f"    shared-normalisation {shared_ms:10.2f} ms/article  speed-up "
        f"{shared_ms / fast_ms:7.1f}x  (every rule evaluated on one DocumentIndex per "
        f"article, {len(shared_sample)} articles)"
    )
    del matcher, compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--naive-articles", type=int, default=3)
    parser.add_argument("--naive-rules", type=int, default=300)
    parser.add_argument("--shared-articles", type=int, default=5)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    articles = load_articles(args.articles, args.seed)
    args.naive_articles = min(args.naive_articles, len(articles))
    args.shared_articles = min(args.shared_articles, len(articles))
    for size in (int(value) for value in args.sizes.split(",")):
        bench(size, articles, args)


if __name__ == "__main__":
    main()
