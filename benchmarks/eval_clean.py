"""Cleaning quality on the article-extraction-benchmark (181 pages with gold article bodies).

Runs the batch contract as an evaluator would: JSON lines ``{"id", "html", "url"}`` piped into
``newswatch extract --jsonl`` (module form ``python -m worker.cli``), each output line's
``text`` compared with the gold ``articleBody``. Beside it, in the same run, the same metric
for plain ``trafilatura.extract(html, url=url, include_comments=False)``.

Metric (per page, then averaged over pages): words are the lowercased ``\\w+`` runs (so
whitespace and punctuation both split), shingles are the *set* of word 4-grams (a text shorter
than four words is one shingle), precision = |A∩B|/|A|, recall = |A∩B|/|B| with A the
extracted and B the gold shingles, F1 their harmonic mean. Both empty scores 1; one empty
scores 0. The set ignores repeated 4-grams (a duplicated paragraph is not penalised).

    .venv/bin/python -m benchmarks.eval_clean [--sample N] [--worst 10] [--command "..."]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO_ROOT.parent / "shared"))
CORPUS = SHARED / "corpora" / "article-extraction-benchmark"
DEFAULT_COMMAND = (sys.executable, "-m", "worker.cli", "extract", "--jsonl")
SHINGLE_SIZE = 4
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    id: str
    html: str
    url: str
    gold: str


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class Summary:
    precision: float
    recall: float
    f1: float
    pages: int


def load_pages(corpus: Path = CORPUS, sample: int | None = None) -> list[Page]:
    """The benchmark's pages sorted by id; ``sample`` takes that many evenly spread pages."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)
    if sample is not None and sample < len(ids):
        step = len(ids) / sample
        ids = [ids[int(i * step)] for i in range(sample)]
    pages = []
    for page_id in ids:
        with gzip.open(corpus / "html" / f"{page_id}.html.gz") as handle:
            html = handle.read().decode("utf-8", "replace")
        item = truth[page_id]
        pages.append(Page(page_id, html, item.get("url") or "", item.get("articleBody") or ""))
    return pages


def shingles(text: str, size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def score_text(extracted: str, gold: str) -> Score:
    found, expected = shingles(extracted), shingles(gold)
    if not found and not expected:
        return Score(1.0, 1.0)
    if not found or not expected:
        return Score(0.0, 0.0)
    common = len(found & expected)
    return Score(common / len(found), common / len(expected))


def summarise(scores: Sequence[Score]) -> Summary:
    return Summary(
        precision=fmean(s.precision for s in scores),
        recall=fmean(s.recall for s in scores),
        f1=fmean(s.f1 for s in scores),
        pages=len(scores),
    )


def run_cli(pages: Sequence[Page], command: Sequence[str] = DEFAULT_COMMAND) -> dict[str, str]:
    """Pipe the pages through the batch command; the ``text`` of each output line by id."""
    stdin = "".join(
        json.dumps({"id": p.id, "html": p.html, "url": p.url}, ensure_ascii=False) + "\n"
        for p in pages
    )
    completed = subprocess.run(
        list(command),
        input=stdin.encode("utf-8"),
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"{shlex.join(command)} exited {completed.returncode}: {stderr}")
    texts: dict[str, str] = {}
    for line in completed.stdout.decode("utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            texts[str(item.get("id"))] = item.get("text") or ""
    return texts


def run_trafilatura(pages: Sequence[Page]) -> dict[str, str]:
    import trafilatura

    return {
        p.id: trafilatura.extract(p.html, url=p.url, include_comments=False) or "" for p in pages
    }


def score_pages(pages: Sequence[Page], texts: dict[str, str]) -> dict[str, Score]:
    # A page missing from the output scores as an empty extraction.
    return {p.id: score_text(texts.get(p.id, ""), p.gold) for p in pages}


def _timed(run: Callable[[], dict[str, str]]) -> tuple[dict[str, str], float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=None, help="Evenly spread page subset.")
    parser.add_argument("--worst", type=int, default=10, help="Worst pages to list.")
    parser.add_argument(
        "--command", default=None, help="Batch command (default: python -m worker.cli ...)."
    )
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: the benchmark corpus is needed", file=sys.stderr)
        return 2
    command = shlex.split(args.command) if args.command else DEFAULT_COMMAND
    pages = load_pages(sample=args.sample)
    ours_texts, ours_seconds = _timed(lambda: run_cli(pages, command))
    base_texts, base_seconds = _timed(lambda: run_trafilatura(pages))
    ours, base = score_pages(pages, ours_texts), score_pages(pages, base_texts)
    ours_summary, base_summary = summarise(list(ours.values())), summarise(list(base.values()))

    print(f"pages: {len(pages)}   command: {shlex.join(command)}")
    print(f"metric: set of lowercased word {SHINGLE_SIZE}-grams, per-page scores averaged")
    print(f"{'':24}{'precision':>10}{'recall':>10}{'F1':>10}{'seconds':>10}")
    for name, summary, seconds in (
        ("newswatch extract", ours_summary, ours_seconds),
        ("trafilatura.extract", base_summary, base_seconds),
    ):
        print(
            f"{name:24}{summary.precision:10.4f}{summary.recall:10.4f}"
            f"{summary.f1:10.4f}{seconds:10.1f}"
        )
    print(f"F1 difference (ours - trafilatura): {ours_summary.f1 - base_summary.f1:+.4f}")
    print(f"\nworst {args.worst} pages (ours; trafilatura's F1 beside):")
    print(f"{'id':14}{'P':>7}{'R':>7}{'F1':>7}{'traf F1':>9}  url")
    for page in sorted(pages, key=lambda p: ours[p.id].f1)[: args.worst]:
        s = ours[page.id]
        print(
            f"{page.id[:12]:14}{s.precision:7.3f}{s.recall:7.3f}{s.f1:7.3f}"
            f"{base[page.id].f1:9.3f}  {page.url[:70]}"
        )
    missing = [p.id for p in pages if p.id not in ours_texts]
    if missing:
        print(f"\n{len(missing)} pages missing from the command's output: {missing[:5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
