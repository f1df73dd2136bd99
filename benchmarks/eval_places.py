"""Geotagging quality and speed on the displacement-figures excerpts.

Usage: .venv/bin/python benchmarks/eval_places.py [--misses N]

An excerpt is a hit when its labelled country (ISO3 in the CSVs) is the main country or the
country of any extracted place. Excerpts without a labelled ISO country are not counted. The
baseline, measured in the same run, only looks for geonames country names as substrings.

The headline rates count every excerpt. A second rate leaves out label errors found by one
rule: the row's own gold location is, in the gazetteer, only a place of other countries
(a row labelled Tanzania whose location is "Tanganyika", a DR Congo province).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pycountry

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.stages.extract.gazetteer import load_gazetteer  # noqa: E402
from pipeline.stages.extract.places import extract_places  # noqa: E402

# file, excerpt, ISO alpha-2 label, excerpt names the location, gold location contradicts label
Example = tuple[str, str, str, bool, bool]

SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "corpora" / "displacement-figures"
# file -> (excerpt column, country column, location column)
FILES = {
    "IDMC_fully_labelled.csv": ("Excerpt", "Location (Country)", "Specific location"),
    "IDETECT_test_dataset_NLP.csv": ("excerpt", "Country", "Location"),
}
BIG_CITY = 100000
_SPLIT_LOCATIONS = re.compile(r"\s*(?:,|;|\band\b)\s*")


def alpha2(label: str) -> str | None:
    """ISO alpha-2 for "Afghanistan;AFG;004" or "AFG"; None for non-ISO codes ("AB9")."""
    code = label.split(";")[1] if ";" in label else label
    record = pycountry.countries.get(alpha_3=code.strip().upper()) if code.strip() else None
    return record.alpha_2 if record is not None else None


def names_location(text: str, label: str, location: str) -> bool:
    """Does the excerpt itself name the gold location or country (so a gazetteer could)?"""
    lowered = text.lower()
    record = pycountry.countries.get(alpha_2=label)
    names = [location, *_SPLIT_LOCATIONS.split(location)]
    if record is not None:
        names += [record.name, getattr(record, "common_name", "")]
    return any(len(n.strip()) >= 3 and n.strip().lower() in lowered for n in names if n)


def contradicts_label(label: str, location: str) -> bool:
    """The gold location is a region or big city, and only ever of other countries.

    Towns are left out: the gazetteer lacks most small ones, so a foreign namesake proves
    nothing ("Exmouth" in Australia is not in it, the English one is).
    """
    gaz = load_gazetteer()
    every: set[str | None] = set()
    certain: set[str | None] = set()
    for part in {location.strip(), *_SPLIT_LOCATIONS.split(location)}:
        for candidate in gaz.lookup(part.strip()) if len(part.strip()) >= 3 else ():
            every.add(candidate.country)
            if candidate.kind in ("country", "region") or candidate.population >= BIG_CITY:
                certain.add(candidate.country)
    return bool(certain) and label not in every


def load_examples() -> Iterator[Example]:
    for name, (text_col, label_col, location_col) in FILES.items():
        with (CORPUS / name).open(encoding="utf-8", errors="replace", newline="") as handle:
            for row in csv.DictReader(handle):
                text = (row.get(text_col) or "").strip()
                label = alpha2(row.get(label_col) or "")
                if text and label:
                    location = row.get(location_col) or ""
                    named = names_location(text, label, location)
                    yield name, text, label, named, contradicts_label(label, location)


def ours(text: str) -> set[str]:
    result = extract_places(text)
    found = {place.country for place in result.places if place.country}
    return found | ({result.country} if result.country else set())


def baseline_factory() -> Callable[[str], set[str]]:
    names = {iso: country.name for iso, country in load_gazetteer().countries.items()}

    def baseline(text: str) -> set[str]:
        return {iso for iso, name in names.items() if name in text}

    return baseline


def evaluate(
    examples: list[Example], tagger: Callable[[str], set[str]]
) -> tuple[list[bool], float]:
    started = time.perf_counter()
    hits = [label in tagger(text) for _, text, label, _, _ in examples]
    elapsed_ms = (time.perf_counter() - started) * 1000 / max(len(examples), 1)
    return hits, elapsed_ms


def rate(hits: list[bool], examples: list[Example], keep: Callable[[Example], bool]) -> str:
    chosen = [hit for hit, example in zip(hits, examples, strict=True) if keep(example)]
    return f"{statistics.mean(chosen):.1%} of {len(chosen)}" if chosen else "n/a"


def article_of(words: int, examples: list[Example]) -> str:
    parts: list[str] = []
    count = 0
    for _, text, _, _, _ in examples:
        parts.append(text)
        count += len(text.split())
        if count >= words:
            break
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", type=int, default=20, help="misses to print")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is absent")
    started = time.perf_counter()
    load_gazetteer()
    print(f"gazetteer build: {time.perf_counter() - started:.2f} s")
    examples = list(load_examples())

    base_hits, base_ms = evaluate(examples, baseline_factory())
    our_hits, our_ms = evaluate(examples, ours)
    subsets: list[tuple[str, Callable[[Example], bool]]] = [
        ("names a location", lambda example: example[3]),
        ("all labelled", lambda example: True),
        ("names a location, without label errors", lambda example: example[3] and not example[4]),
    ]
    for file_name in FILES:
        for title, keep in subsets[:2]:

            def in_file(
                example: Example, keep: Callable[[Example], bool] = keep, name: str = file_name
            ) -> bool:
                return example[0] == name and keep(example)

            print(
                f"{file_name} [{title}]: hit {rate(our_hits, examples, in_file)} "
                f"(baseline {rate(base_hits, examples, in_file)})"
            )
    for title, keep in subsets:
        ours_rate = statistics.mean(h for h, e in zip(our_hits, examples, strict=True) if keep(e))
        base_rate = statistics.mean(h for h, e in zip(base_hits, examples, strict=True) if keep(e))
        print(
            f"ALL [{title}]: hit {rate(our_hits, examples, keep)} "
            f"(baseline {rate(base_hits, examples, keep)}, "
            f"ratio {ours_rate / max(base_rate, 1e-9):.2f}x)"
        )
    print(f"ms/excerpt: {our_ms:.3f} (baseline {base_ms:.3f}, ratio {our_ms / base_ms:.1f}x)")

    article = article_of(1000, examples)
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        extract_places(article)
    per_article = (time.perf_counter() - started) * 1000 / runs
    print(f"ms per {len(article.split())}-word article: {per_article:.2f}")

    misses = [e for hit, e in zip(our_hits, examples, strict=True) if not hit and e[3]]
    print(f"\nmisses among excerpts naming a location ({len(misses)}), first {args.misses}:")
    errors = sum(1 for example in examples if example[3] and example[4])
    print(f"label errors left out of the third rate: {errors}")
    for _, text, label, _, wrong in misses[: args.misses]:
        snippet = " ".join(text.split())[:140]
        flag = " [label error]" if wrong else ""
        print(f"  want {label} got {sorted(ours(text))}{flag}: {snippet}")


if __name__ == "__main__":
    main()
