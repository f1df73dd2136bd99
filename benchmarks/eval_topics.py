"""Top-level IPTC topic accuracy and speed on the BBC News corpus (5 labelled classes).

Usage: .venv/bin/python benchmarks/eval_topics.py [--corpus DIR] [--errors N]

The top-level of the first returned topic is the prediction ("none" when nothing scores).
Speed is reported against a same-run baseline: lower-casing and regex-tokenising each article.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.stages.extract.topics import (
    TopicModel,
    classify_topics,
    load_topic_model,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO_ROOT.parent / "shared"))
BBC_DIR = SHARED / "corpora" / "bbc-news" / "data"
BBC_TO_IPTC = {
    "business": "medtop:04000000",
    "entertainment": "medtop:01000000",
    "politics": "medtop:11000000",
    "sports": "medtop:15000000",
    "tech": "medtop:13000000",
}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Article:
    path: Path
    gold: str
    title: str
    text: str


@dataclass
class Report:
    total: int = 0
    correct: int = 0
    per_class: Counter[str] = field(default_factory=Counter)
    per_class_correct: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[tuple[Article, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def load_bbc(directory: Path = BBC_DIR) -> list[Article]:
    """Every article: the first line is the title, the rest the body."""
    articles = []
    for label, code in sorted(BBC_TO_IPTC.items()):
        for path in sorted((directory / label).glob("*.txt")):
            raw = path.read_text(encoding="utf-8", errors="replace")
            title, _, body = raw.strip().partition("\n")
            articles.append(Article(path, code, title.strip(), body.strip()))
    return articles


def predict_top_level(model: TopicModel, article: Article) -> str:
    topics = classify_topics(model, article.title, article.text)
    return model.top_level(topics[0].code) if topics else "none"


def evaluate(model: TopicModel, articles: list[Article]) -> Report:
    report = Report()
    for article in articles:
        predicted = predict_top_level(model, article)
        report.total += 1
        report.per_class[article.gold] += 1
        report.confusion[article.gold, predicted] += 1
        if predicted == article.gold:
            report.correct += 1
            report.per_class_correct[article.gold] += 1
        else:
            report.errors.append((article, predicted))
    return report


def _time_per_article(articles: list[Article], work: object, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for article in articles:
            work(article)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best / len(articles) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=BBC_DIR)
    parser.add_argument("--errors", type=int, default=0, help="print the first N misclassified")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    model = load_topic_model()
    load_ms = (time.perf_counter() - start) * 1000
    articles = load_bbc(args.corpus)
    report = evaluate(model, articles)
    labels = {code: model.labels[model.codes.index(code)] for code in BBC_TO_IPTC.values()}

    print(f"model: {model!r}, loaded in {load_ms:.0f} ms")
    print(f"top-1 top-level accuracy: {report.accuracy:.4f} ({report.correct}/{report.total})")
    print("per class:")
    for bbc, code in sorted(BBC_TO_IPTC.items()):
        n, ok = report.per_class[code], report.per_class_correct[code]
        print(f"  {bbc:<13} {code}  {ok / n:.4f} ({ok}/{n})  {labels[code]}")
    predicted_codes = sorted({p for (_g, p) in report.confusion})
    print("confusion (rows gold, columns predicted top-level):")
    print(" " * 15 + " ".join(f"{p[-8:-6] if p != 'none' else '--':>5}" for p in predicted_codes))
    for bbc, code in sorted(BBC_TO_IPTC.items()):
        cells = " ".join(f"{report.confusion[code, p]:>5}" for p in predicted_codes)
        print(f"  {bbc:<13}{cells}")
    print("  (columns are medtop:NN000000; -- = no topic)")

    words = sum(len(a.text.split()) + len(a.title.split()) for a in articles) / len(articles)
    topics_ms = _time_per_article(articles, lambda a: classify_topics(model, a.title, a.text))
    base_ms = _time_per_article(articles, lambda a: _WORD.findall((a.title + a.text).lower()))
    print(
        f"speed: {topics_ms:.3f} ms/article (mean {words:.0f} words), "
        f"{topics_ms / words * 1000:.3f} ms per 1,000 words; baseline regex tokenise "
        f"{base_ms:.3f} ms/article; ratio {topics_ms / base_ms:.2f}x"
    )
    for article, predicted in report.errors[: args.errors]:
        found = classify_topics(model, article.title, article.text, limit=4)
        shown = ", ".join(f"{t.label} {t.score:.2f}" for t in found) or "nothing"
        print(f"  {article.path.parent.name}/{article.path.name} -> {predicted}: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
