"""Score ``find_numbers`` on the Recognizers-Text English number specs (../shared corpora).

A case passes when we find exactly as many numbers as the spec lists and, pairwise in order,
each value equals the expected one (relative tolerance 1e-9; "100%" counts as 100) and our
span overlaps the expected span. Our spans may be wider (we keep "$" and "%" in money and
percent spans), so overlap rather than identical text is required. Cases whose NotSupported
or NotSupportedByDesign names python are skipped, as the spec asks.

    .venv/bin/python benchmarks/eval_numbers.py [--show-failures]
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from any directory

from pipeline.stages.extract.numbers import find_numbers  # noqa: E402

SHARED = Path(
    os.environ.get("NEWSWATCH_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")
)
SPEC_DIR = SHARED / "corpora" / "number-specs-recognizers" / "Specs" / "Number" / "English"
SPEC_FILES = ("NumberModel.json", "PercentModel.json")


def load_cases(name: str) -> list[dict[str, object]]:
    cases = json.loads((SPEC_DIR / name).read_text(encoding="utf-8-sig"))
    kept = []
    for case in cases:
        flags = f"{case.get('NotSupported') or ''} {case.get('NotSupportedByDesign') or ''}"
        if "python" not in flags.lower():
            kept.append(case)
    return kept


def expected_value(result: dict[str, object]) -> float:
    resolution = result["Resolution"]
    assert isinstance(resolution, dict)
    return float(str(resolution["value"]).rstrip("%"))


def case_passes(case: dict[str, object]) -> bool:
    text = str(case["Input"])
    results = case["Results"]
    assert isinstance(results, list)
    found = find_numbers(text)
    if len(found) != len(results):
        return False
    for span, result in zip(found, results, strict=True):
        want = expected_value(result)
        if not math.isclose(span.value, want, rel_tol=1e-9, abs_tol=1e-9):
            return False
        start, end = int(result["Start"]), int(result["End"]) + 1
        if span.end <= start or span.start >= end:
            return False
    return True


def score(name: str, show: bool) -> tuple[int, int]:
    cases = load_cases(name)
    passed = 0
    for case in cases:
        if case_passes(case):
            passed += 1
        elif show:
            got = [(s.text, s.value) for s in find_numbers(str(case["Input"]))]
            results = case["Results"]
            assert isinstance(results, list)
            want = [(r["Text"], expected_value(r)) for r in results]
            print(f"  FAIL {case['Input']!r}\n       got  {got}\n       want {want}")
    return passed, len(cases)


def main() -> int:
    if not SPEC_DIR.exists():
        print(f"{SPEC_DIR} is absent", file=sys.stderr)
        return 2
    show = "--show-failures" in sys.argv
    for name in SPEC_FILES:
        passed, total = score(name, show)
        print(f"{name}: {passed}/{total} cases exact = {passed / total:.1%}")
    cases = [str(c["Input"]) for name in SPEC_FILES for c in load_cases(name)]
    began = time.perf_counter()
    for _ in range(20):
        for text in cases:
            find_numbers(text)
    per_case = (time.perf_counter() - began) / (20 * len(cases)) * 1e6
    print(f"speed: {per_case:.1f} us per spec case")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
