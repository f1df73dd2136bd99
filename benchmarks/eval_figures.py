"""Score ``extract_figures`` on the displacement corpus, the hand-written cases and speed.

1. ../shared/corpora/displacement-figures: the 445 labelled excerpts (IDETECT test set, 312
   rows with Quantity/Term, and IDMC fully labelled, 133 rows with Displacement figure /
   Reporting term). An excerpt passes when some extracted figure has the labelled value (as
   ``value`` or, for a range, ``value_max``) and a category compatible with the reporting term
   (TERM_CATEGORIES below); the exact-value rate only accepts ``value``. Gold values that no
   number in the excerpt has are listed as probable gold errors (they are still scored).
2. tests/unit/test_figures.py FIGURE_CASES and SECOND_PASS_CASES: precision and recall by
   (value, category).
3. Speed: ms per 1,000 words on BBC articles, against a same-run baseline (split_sentences
   plus one regex pass for digits over the same texts).

    .venv/bin/python benchmarks/eval_figures.py [--show-failures]
"""

from __future__ import annotations

import csv
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from any directory

from pipeline.stages.extract.figures import extract_figures  # noqa: E402
from pipeline.stages.extract.numbers import find_numbers  # noqa: E402
from pipeline.stages.text import split_sentences  # noqa: E402
from tests.unit.test_figures import FIGURE_CASES, SECOND_PASS_CASES  # noqa: E402

SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO.parent / "shared"))
DISPLACEMENT = SHARED / "corpora" / "displacement-figures"
BBC = SHARED / "corpora" / "bbc-news" / "data"

_MOVED = frozenset({"displaced", "evacuated"})
# Every reporting term of the corpus. Housing terms count dwellings ("60 homes were
# destroyed": count) but are often reported as the households that lost them (displaced).
TERM_CATEGORIES: dict[str, frozenset[str]] = {
    "Displaced": _MOVED,
    "Evacuated": _MOVED,
    "Forced to Flee": _MOVED,
    "Relocated": _MOVED,
    "Homeless": _MOVED,
    "In Relief Camp": _MOVED,
    "Sheltered": _MOVED,
    "Destroyed Housing": frozenset({"count", "displaced"}),
    "Partially Destroyed Housing": frozenset({"count", "displaced"}),
    "Uninhabitable Housing": frozenset({"count", "displaced"}),
}


def load_excerpts() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with (DISPLACEMENT / "IDETECT_test_dataset_NLP.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append((row["excerpt"], float(row["Quantity"]), row["Term"]))
    with (DISPLACEMENT / "IDMC_fully_labelled.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append((row["Excerpt"], float(row["Displacement figure"]), row["Reporting term"]))
    return rows


def score_displacement(show: bool) -> float:
    """Headline rate (the bar): the label is a figure's value or its range's value_max, since
    the gold picks either bound of "between 18,000 and 25,000". Exact rate: value only."""
    rows = load_excerpts()
    passed = strict = 0
    gold_errors: list[str] = []
    for text, value, term in rows:
        allowed = TERM_CATEGORIES[term]
        figures = [f for f in extract_figures(text) if f.category in allowed]
        if any(f.value == value for f in figures):
            strict += 1
        if any(value in (f.value, f.value_max) for f in figures):
            passed += 1
            continue
        if not any(span.value == value for span in find_numbers(text)):
            gold_errors.append(f"  gold {value:g} ({term}) not in text: {text[:110]!r}")
        elif show:
            got = [(f.value, f.category) for f in extract_figures(text)]
            print(f"  FAIL {value:g} {term}: {text[:160]!r}\n       got {got}")
    rate = passed / len(rows)
    print(f"displacement-figures: {passed}/{len(rows)} excerpts = {rate:.1%} (value or value_max)")
    print(f"  exact value match: {strict}/{len(rows)} = {strict / len(rows):.1%}")
    print(f"  probable gold errors (labelled value absent from the excerpt): {len(gold_errors)}")
    for line in gold_errors:
        print(line)
    return rate


def score_cases(name: str, cases: list[tuple[str, list[tuple[float, str]]]]) -> tuple[float, float]:
    tp = fp = fn = 0
    for text, gold in cases:
        got = Counter((f.value, f.category) for f in extract_figures(text))
        want = Counter((float(v), c) for v, c in gold)
        matched = sum((got & want).values())
        tp, fp, fn = (
            tp + matched,
            fp + sum(got.values()) - matched,
            fn + sum(want.values()) - matched,
        )
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"{name}: precision {precision:.3f} recall {recall:.3f}", end=" ")
    print(f"({tp} tp, {fp} fp, {fn} fn)")
    return precision, recall


def measure_speed() -> None:
    files = sorted(BBC.rglob("*.txt"))[:300]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    words = sum(len(text.split()) for text in texts)
    digits = re.compile(r"\d[\d,.]*")

    def baseline() -> None:
        for text in texts:
            split_sentences(text)
            digits.findall(text)

    def subject() -> None:
        for text in texts:
            extract_figures(text)

    timings = {}
    for name, func in (("baseline", baseline), ("extract_figures", subject)):
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            func()
            best = min(best, time.perf_counter() - began)
        timings[name] = best / words * 1000 * 1000  # ms per 1,000 words
    print(
        f"speed over {len(texts)} BBC articles ({words} words): extract_figures "
        f"{timings['extract_figures']:.2f} ms/1k words, baseline {timings['baseline']:.2f} "
        f"ms/1k words, ratio {timings['extract_figures'] / timings['baseline']:.1f}x"
    )


def main() -> int:
    show = "--show-failures" in sys.argv
    if DISPLACEMENT.exists():
        score_displacement(show)
    else:
        print(f"{DISPLACEMENT} is absent: skipped")
    score_cases("hand-written cases", FIGURE_CASES)
    score_cases("second-pass cases (regression)", SECOND_PASS_CASES)
    if BBC.exists():
        measure_speed()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
