"""Speed of extraction (figures + topics + places) against cleaning, per article, same run.

On the 181 pages of the article-extraction-benchmark: ``clean_article(html, url)`` (trafilatura
plus language detection) is the baseline; ``extract(title, text, language)`` runs on its
output. Both are warmed up first (topic model, gazetteer, trafilatura's caches), then timed
page by page. Prints totals, mean/median/p95 ms per article, the ratio extraction/cleaning
(target: at most 0.5) and peak RSS. ``--stages`` also times figures, topics and places alone.

    .venv/bin/python -m benchmarks.bench_extract [--repeat 3] [--warmup 10] [--stages]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from statistics import fmean, median

from benchmarks.eval_clean import CORPUS, load_pages
from pipeline.stages.clean import CleanedArticle, clean_article
from pipeline.stages.extract import _topic_model, extract, warm_up
from pipeline.stages.extract.figures import extract_figures
from pipeline.stages.extract.places import extract_places
from pipeline.stages.extract.topics import classify_topics


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation, so it is always an observed value)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_each(calls: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Best-of-``repeat`` seconds for each call (the minimum filters scheduler noise)."""
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def describe(name: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:22}{sum(ms) / 1000:9.2f}{fmean(ms):9.2f}{median(ms):9.2f}"
        f"{percentile(ms, 0.95):9.2f}{max(ms):9.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Timed passes; best one per page.")
    parser.add_argument("--warmup", type=int, default=10, help="Pages run once untimed.")
    parser.add_argument("--stages", action="store_true", help="Also time each extractor.")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: the benchmark corpus is needed", file=sys.stderr)
        return 2
    pages = load_pages()
    rss_loaded = peak_rss_mib()

    warm_up()
    for page in pages[: args.warmup]:
        warm = clean_article(page.html, url=page.url)
        extract(warm.title, warm.text, warm.language)
    rss_warm = peak_rss_mib()

    cleaned: list[CleanedArticle] = [clean_article(p.html, url=p.url) for p in pages]
    clean_s = time_each([partial(clean_article, p.html, url=p.url) for p in pages], args.repeat)
    extract_s = time_each(
        [partial(extract, c.title, c.text, c.language) for c in cleaned], args.repeat
    )

    words = sum(len(c.text.split()) for c in cleaned)
    print(f"pages: {len(pages)}   words of cleaned text: {words}   best of {args.repeat} passes")
    print(f"{'ms per article':22}{'total s':>9}{'mean':>9}{'median':>9}{'p95':>9}{'max':>9}")
    print(describe("clean_article", clean_s))
    print(describe("extract", extract_s))
    if args.stages:
        model = _topic_model(None)
        stage_calls: dict[str, list[Callable[[], object]]] = {
            "  figures": [partial(extract_figures, c.text) for c in cleaned],
            "  topics": [partial(classify_topics, model, c.title, c.text) for c in cleaned],
            "  places": [partial(extract_places, c.text, title=c.title) for c in cleaned],
        }
        for name, calls in stage_calls.items():
            print(describe(name, time_each(calls, args.repeat)))
    ratio = sum(extract_s) / sum(clean_s)
    verdict = "meets" if ratio <= 0.5 else "misses"
    print(f"ratio extraction/cleaning (totals): {ratio:.3f} ({verdict} the 0.5 target)")
    print(f"ratio of medians: {median(extract_s) / median(clean_s):.3f}")
    print(
        f"peak RSS: {peak_rss_mib():.0f} MiB (after loading pages {rss_loaded:.0f} MiB, "
        f"after warm-up {rss_warm:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
