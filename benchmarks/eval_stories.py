"""Same-story detection on realistic copies of real articles; picks ``STORY_THRESHOLD``.

Usage: .venv/bin/python -m benchmarks.eval_stories [--sample N] [--seed S] [--show N]

Positives: two synthetic wire copies of every distinct BBC News and article-extraction-benchmark
body (a light copy with one edit, a heavy one with two or three: edited headline, paragraph
added from another article, paragraph removed, adjacent sentences swapped, a figure revised,
a boilerplate line, trimmed to the first half or more of the paragraphs), plus the corpus's own
byte-identical BBC duplicates. Hard negatives: for every BBC article, its most similar other
article of the same category and a random one. Same-category pairs that share at least half of
the smaller article's 5-grams verbatim are follow-ups or copies, not different stories: they are
listed as gold issues and left out of both classes.
Speed: ms per signature against a same-run baseline (tokenising the same articles).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.stages.stories import (
    STORY_BANDS,
    STORY_ROWS,
    STORY_THRESHOLD,
    StorySignature,
    band_keys,
    best_story,
    similarity,
    story_shingles,
    story_signature,
    story_tokens,
)
from pipeline.stages.text import split_sentences

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO_ROOT.parent / "shared"))
BBC_DIR = SHARED / "corpora" / "bbc-news" / "data"
AEB_TRUTH = SHARED / "corpora" / "article-extraction-benchmark" / "ground-truth.json"
THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(13))
FOLLOW_UP_CONTAINMENT = 0.5

# Written for this evaluation: the kind of line syndication adds around a wire story.
BOILERPLATE = (
    "Reporting by our correspondents; editing by the news desk.",
    "Sign up for our morning newsletter to get the top stories in your inbox.",
    "This story has been updated with additional information.",
    "Follow us on social media for the latest updates.",
    "Copyright 2024 The Daily Chronicle. All rights reserved.",
    "Additional reporting by agencies.",
)
HEADLINE_PREFIXES = ("UPDATE 2-", "Latest: ", "BREAKING: ", "")
HEADLINE_SUFFIXES = (" - report", ", officials say", " (updated)", "")
_FIGURE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b")


@dataclass(frozen=True)
class Article:
    ident: str
    source: str
    category: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class Pair:
    label: bool
    kind: str
    a: tuple[str, str]
    b: tuple[str, str]
    ids: tuple[str, str]


@dataclass
class Report:
    pairs: list[tuple[Pair, float]] = field(default_factory=list)
    gold_issues: list[tuple[str, str, float, float]] = field(default_factory=list)
    excluded_exact: int = 0
    articles: int = 0
    lsh_verified: int = 0
    lsh_found: int = 0

    def scores(self, label: bool, kind: str | None = None) -> list[float]:
        return [s for p, s in self.pairs if p.label is label and (kind is None or p.kind == kind)]

    def precision_recall(self, threshold: float) -> tuple[float, float]:
        tp = sum(1 for s in self.scores(True) if s >= threshold)
        fp = sum(1 for s in self.scores(False) if s >= threshold)
        positives = len(self.scores(True))
        precision = tp / (tp + fp) if tp + fp else 1.0
        return precision, tp / positives if positives else 0.0


# --- corpora -------------------------------------------------------------------------------


def load_bbc(directory: Path = BBC_DIR) -> list[Article]:
    """data/<category>/<nnn>.txt: the first line is the title, blank lines split paragraphs."""
    articles = []
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.txt")):
            raw = path.read_text(encoding="utf-8", errors="replace").strip()
            title, _, body = raw.partition("\n")
            paragraphs = tuple(p.strip() for p in re.split(r"\n\s*\n", body) if p.strip())
            ident = f"bbc/{folder.name}/{path.stem}"
            articles.append(Article(ident, "bbc", folder.name, title.strip(), paragraphs))
    return articles


def load_aeb(path: Path = AEB_TRUTH) -> list[Article]:
    """Ground-truth bodies (no headlines); every line is a paragraph."""
    truth = json.loads(path.read_text(encoding="utf-8"))
    articles = []
    for key, item in sorted(truth.items()):
        paragraphs = tuple(p.strip() for p in item["articleBody"].splitlines() if p.strip())
        if paragraphs:
            articles.append(Article(f"aeb/{key[:12]}", "aeb", "aeb", "", paragraphs))
    return articles


def exact_duplicates(articles: list[Article]) -> list[list[Article]]:
    groups: dict[tuple[str, str], list[Article]] = defaultdict(list)
    for article in articles:
        groups[article.title, article.text].append(article)
    return [g for g in groups.values() if len(g) > 1]


# --- copies --------------------------------------------------------------------------------

Edit = Callable[[random.Random, str, list[str], list[Article]], tuple[str, list[str]]]


def edit_headline(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    words = (title or " ".join(paras[0].split()[:9])).split()
    if len(words) > 4 and rng.random() < 0.5:
        del words[rng.randrange(1, len(words))]
    headline = rng.choice(HEADLINE_PREFIXES) + " ".join(words) + rng.choice(HEADLINE_SUFFIXES)
    return headline, paras


def _sentences(paragraph: str) -> list[str]:
    return [s.text for s in split_sentences(paragraph)]


def _words(paras: list[str]) -> int:
    return sum(len(p.split()) for p in paras)


def add_paragraph(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    # BBC paragraphs are often whole sections; a wire insert is a short paragraph.
    donor = _sentences(rng.choice(rng.choice(pool).paragraphs))
    start = rng.randrange(len(donor))
    insert = " ".join(donor[start : start + rng.randint(1, 3)])
    paras = list(paras)
    paras.insert(rng.randint(1, len(paras)), insert)
    return title, paras


def remove_paragraph(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    if len(paras) < 2:
        return title, paras
    paras = list(paras)
    i = rng.randrange(1, len(paras))
    sentences = _sentences(paras[i])
    if len(paras[i].split()) > 0.3 * _words(paras) and len(sentences) > 1:
        # A section that long stands for several paragraphs: cut one of its sentences.
        del sentences[rng.randrange(len(sentences))]
        paras[i] = " ".join(sentences)
    elif len(paras) > 2:
        del paras[i]
    return title, paras


def swap_sentences(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    paras = list(paras)
    candidates = [i for i, p in enumerate(paras) if len(split_sentences(p)) > 1]
    if not candidates:
        if len(paras) > 2:
            i = rng.randrange(1, len(paras) - 1)
            paras[i], paras[i + 1] = paras[i + 1], paras[i]
        return title, paras
    i = rng.choice(candidates)
    sentences = [s.text for s in split_sentences(paras[i])]
    j = rng.randrange(len(sentences) - 1)
    sentences[j], sentences[j + 1] = sentences[j + 1], sentences[j]
    paras[i] = " ".join(sentences)
    return title, paras


def revise_figure(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    spots = [(i, m) for i, p in enumerate(paras) for m in _FIGURE.finditer(p)]
    if not spots:
        return title, paras
    i, match = rng.choice(spots)
    value = int(match.group(0).replace(",", ""))
    revised = f"{math.ceil(value * rng.uniform(1.1, 1.5)) + 1:,}"
    paras = list(paras)
    paras[i] = paras[i][: match.start()] + revised + paras[i][match.end() :]
    return title, paras


def add_boilerplate(
    rng: random.Random, title: str, paras: list[str], pool: list[Article]
) -> tuple[str, list[str]]:
    line = rng.choice(BOILERPLATE)
    return title, ([line, *paras] if rng.random() < 0.3 else [*paras, line])


def trim(
    rng: random.Random,
    title: str,
    paras: list[str],
    pool: list[Article],
    keep: float | None = None,
) -> tuple[str, list[str]]:
    """The first sentences holding ``keep`` (default 50-90%) of the words, paragraphs intact."""
    share = rng.uniform(0.5, 0.9) if keep is None else keep
    budget, kept = share * _words(paras), list[str]()
    for paragraph in paras:
        sentences: list[str] = []
        for sentence in _sentences(paragraph):
            if _words(kept) + len(" ".join(sentences).split()) >= budget:
                break
            sentences.append(sentence)
        if sentences:
            kept.append(" ".join(sentences))
        if len(sentences) < len(_sentences(paragraph)):
            break
    return title, kept or paras[:1]


# Applied in this order, as a desk would: cut first, then add, then touch up.
EDITS: dict[str, Edit] = {
    "trim": trim,
    "remove-paragraph": remove_paragraph,
    "add-paragraph": add_paragraph,
    "boilerplate": add_boilerplate,
    "swap-sentences": swap_sentences,
    "revise-figure": revise_figure,
    "headline": edit_headline,
}


def make_copy(
    rng: random.Random, article: Article, pool: list[Article], edits: int
) -> tuple[str, tuple[str, str]]:
    chosen = set(rng.sample(sorted(EDITS), edits))
    names = [name for name in EDITS if name in chosen]
    title, paras = article.title, list(article.paragraphs)
    for name in names:
        title, paras = EDITS[name](rng, title, paras, pool)
    return "+".join(sorted(names)), (title, "\n\n".join(paras))


# --- evaluation ----------------------------------------------------------------------------


def _containment(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def build_pairs(articles: list[Article], rng: random.Random, report: Report) -> list[Pair]:
    duplicates = exact_duplicates(articles)
    report.excluded_exact = sum(len(g) - 1 for g in duplicates)
    pairs = [
        Pair(
            True,
            "corpus-duplicate",
            (g[0].title, g[0].text),
            (x.title, x.text),
            (g[0].ident, x.ident),
        )
        for g in duplicates
        for x in g[1:]
    ]
    twins = {x.ident for g in duplicates for x in g[1:]}
    distinct = [a for a in articles if a.ident not in twins]
    report.articles = len(distinct)
    by_category: dict[str, list[Article]] = defaultdict(list)
    for article in distinct:
        by_category[article.category].append(article)
    for article in distinct:
        pool = [a for a in by_category[article.category] if a.ident != article.ident]
        original = (article.title, article.text)
        for weight, edits in (("light", 1), ("heavy", rng.randint(2, 3))):
            kind, copy = make_copy(rng, article, pool, edits)
            pairs.append(Pair(True, f"{weight}:{kind}", original, copy, (article.ident, "copy")))
    pairs.extend(_negatives(by_category, rng, report))
    return pairs


def _negatives(
    by_category: dict[str, list[Article]], rng: random.Random, report: Report
) -> list[Pair]:
    pairs = []
    for category, members in sorted(by_category.items()):
        shingles = [story_shingles(a.title, a.text) for a in members]
        matrix = np.stack([story_signature(a.title, a.text).hashvalues for a in members])
        for i, article in enumerate(members):
            scores = (matrix == matrix[i]).mean(axis=1)
            scores[i] = -1.0
            picks = {"nearest": int(np.argmax(scores)), "random": rng.randrange(len(members))}
            for kind, j in picks.items():
                if j == i:
                    continue
                other = members[j]
                contained = _containment(shingles[i], shingles[j])
                if contained >= FOLLOW_UP_CONTAINMENT:
                    first, second = sorted((article.ident, other.ident))
                    issue = (first, second, contained, float(scores[j]))
                    if issue not in report.gold_issues:
                        report.gold_issues.append(issue)
                    continue
                pairs.append(
                    Pair(
                        False,
                        f"{category}-{kind}" if category == "aeb" else f"same-category-{kind}",
                        (article.title, article.text),
                        (other.title, other.text),
                        (article.ident, other.ident),
                    )
                )
    return pairs


class SignatureCache:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], StorySignature] = {}

    def __call__(self, title: str, text: str) -> StorySignature:
        key = (title, text)
        if key not in self._cache:
            self._cache[key] = story_signature(title, text)
        return self._cache[key]


def evaluate(articles: list[Article], seed: int = 7) -> Report:
    rng = random.Random(seed)
    report = Report()
    sign = SignatureCache()
    for pair in build_pairs(articles, rng, report):
        a, b = sign(*pair.a), sign(*pair.b)
        report.pairs.append((pair, similarity(a, b)))
        if pair.label and similarity(a, b) >= STORY_THRESHOLD:
            report.lsh_verified += 1
            report.lsh_found += bool(set(band_keys(a)) & set(band_keys(b)))
    return report


def trim_sweep(articles: list[Article], shares: tuple[float, ...]) -> dict[float, float]:
    """Recall of copies cut to the first ``share`` of their words, for each share."""
    rng = random.Random(0)
    recall = {}
    for share in shares:
        hits = 0
        for article in articles:
            title, paras = trim(rng, article.title, list(article.paragraphs), [], keep=share)
            copy = story_signature(title, "\n\n".join(paras))
            hits += (
                similarity(story_signature(article.title, article.text), copy) >= STORY_THRESHOLD
            )
        recall[share] = hits / len(articles)
    return recall


def load_all(sample: int = 1) -> list[Article]:
    """Every ``sample``-th article of each corpus (1 = all)."""
    return load_bbc()[::sample] + load_aeb()[::sample]


def _percentiles(scores: list[float]) -> str:
    if not scores:
        return "-"
    q = np.percentile(scores, [0, 1, 5, 25, 50, 75, 95, 99, 100])
    return " ".join(f"{v:.2f}" for v in q)


def _lsh_report(report: Report) -> str:
    return (
        f"LSH {STORY_BANDS} bands x {STORY_ROWS} rows: {report.lsh_found}/{report.lsh_verified} "
        f"positive pairs at or above the threshold share a band key"
    )


# band key -> (id, signature) of everything indexed under it: the store's story_bands table.
BandIndex = dict[str, list[tuple[int, StorySignature]]]


def _add(index: BandIndex, ident: int, signature: StorySignature) -> None:
    for key in band_keys(signature):
        index.setdefault(key, []).append((ident, signature))


def _candidates(index: BandIndex, signature: StorySignature) -> list[tuple[int, StorySignature]]:
    """Everything sharing a band key with ``signature``, once each, in ascending id order (the
    order the store's candidate query returns, which decides ``best_story``'s ties)."""
    found: dict[int, StorySignature] = {}
    for key in band_keys(signature):
        for ident, other in index.get(key, ()):
            found.setdefault(ident, other)
    return sorted(found.items(), key=lambda item: item[0])


def _index_report(articles: list[Article]) -> str:
    signatures = [story_signature(a.title, a.text) for a in articles]
    everything: BandIndex = {}
    for number, signature in enumerate(signatures):
        _add(everything, number, signature)
    candidates: list[int] = []
    verified: list[int] = []
    for number, signature in enumerate(signatures):
        others = [s for i, s in _candidates(everything, signature) if i != number]
        candidates.append(len(others))
        verified.append(sum(similarity(signature, s) >= STORY_THRESHOLD for s in others))
    # The service's rule: each article in turn joins best_story among the stories so far (a
    # story keeps its first article's signature) or starts a new one.
    stories: BandIndex = {}
    count = 0
    for signature in signatures:
        if best_story(signature, _candidates(stories, signature)) is None:
            count += 1
            _add(stories, count, signature)
    return (
        f"band-key index over {len(signatures)} articles: mean {np.mean(candidates):.2f} other "
        f"candidates per article, mean {np.mean(verified):.3f} verified\n"
        f"best_story over the articles in order: {count} stories, "
        f"{len(signatures) - count} articles joined an earlier story"
    )


def _ms_per(articles: list[Article], work: Callable[[Article], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for article in articles:
            work(article)
        best = min(best, time.perf_counter() - start)
    return best / len(articles) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1, help="use every Nth article")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=5, help="print the N worst errors each way")
    args = parser.parse_args()
    if not BBC_DIR.is_dir() or not AEB_TRUTH.is_file():
        print(f"corpora not found under {SHARED}", file=sys.stderr)
        return 2

    articles = load_all(args.sample)
    report = evaluate(articles, args.seed)
    print(
        f"articles: {report.articles} distinct ({report.excluded_exact} exact BBC duplicates "
        f"set aside as corpus-duplicate positives)"
    )
    kinds = Counter((p.label, p.kind.split(":")[0]) for p, _ in report.pairs)
    print("pairs:", ", ".join(f"{k[1]}={n}" for k, n in sorted(kinds.items())))
    print("similarity percentiles (min 1% 5% 25% 50% 75% 95% 99% max):")
    for label, kind in sorted(kinds):
        scores = [s for p, s in report.pairs if p.label is label and p.kind.split(":")[0] == kind]
        print(f"  {'same' if label else 'diff'} {kind:<26} {_percentiles(scores)}")
    edits: Counter[str] = Counter()
    edits_hit: Counter[str] = Counter()
    for pair, score in report.pairs:
        if pair.label and ":" in pair.kind:
            for name in pair.kind.split(":")[1].split("+"):
                edits[name] += 1
                edits_hit[name] += score >= STORY_THRESHOLD
    print(f"recall by edit at {STORY_THRESHOLD} (copies containing that edit):")
    for name in sorted(edits):
        print(f"  {name:<18} {edits_hit[name] / edits[name]:.3f} ({edits_hit[name]}/{edits[name]})")

    print("threshold  precision  recall  f1")
    best = None
    for threshold in THRESHOLDS:
        precision, recall = report.precision_recall(threshold)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        # A false merge silences a story's alert, a false split only repeats one: favour
        # precision, so take the highest threshold that still finds 99% of the copies.
        if precision >= 0.99 and recall >= 0.99:
            best = (threshold, recall)
        mark = "  <- STORY_THRESHOLD" if math.isclose(threshold, STORY_THRESHOLD) else ""
        print(f"  {threshold:.2f}      {precision:.4f}     {recall:.4f}  {f1:.4f}{mark}")
    precision, recall = report.precision_recall(STORY_THRESHOLD)
    print(f"at STORY_THRESHOLD={STORY_THRESHOLD}: precision {precision:.4f} recall {recall:.4f}")
    if best:
        print(f"highest threshold with recall >= 0.99 and precision >= 0.99: {best[0]:.2f}")
    print(_lsh_report(report))
    print(_index_report(articles))
    sweep = trim_sweep(articles[:: max(1, 8 // args.sample)], (0.25, 0.33, 0.4, 0.5, 0.6))
    print(
        "recall of copies cut to the first share of their words: "
        + ", ".join(f"{share:.0%} -> {r:.3f}" for share, r in sweep.items())
    )

    print(
        f"gold issues: {len(report.gold_issues)} same-category pairs listed as different "
        f"articles share >= {FOLLOW_UP_CONTAINMENT:.0%} of the smaller one's 5-grams:"
    )
    issues = report.gold_issues
    near_copies = sum(1 for *_, score in issues if score >= 0.9)
    merged = sum(1 for *_, score in issues if score >= STORY_THRESHOLD)
    print(
        f"  {near_copies} of them are copies (similarity >= 0.9: retitled or re-spaced); "
        f"{merged} reach STORY_THRESHOLD and would join one story; "
        f"{len(issues) - merged} stay apart"
    )
    for a, b, contained, score in sorted(issues, key=lambda x: (x[3], -x[2]))[: args.show]:
        print(f"  {a} ~ {b}: containment {contained:.2f}, similarity {score:.2f}")
    misses = sorted((s, p.kind, p.ids) for p, s in report.pairs if p.label)[: args.show]
    print("lowest-scoring copies:", *(f"{s:.2f} {k} {i}" for s, k, i in misses), sep="\n  ")
    false = sorted(((s, p.kind, p.ids) for p, s in report.pairs if not p.label), reverse=True)
    print("highest-scoring different articles:")
    for s, k, i in false[: args.show]:
        print(f"  {s:.2f} {k} {i}")

    bbc = [a for a in articles if a.source == "bbc"]
    words = np.mean([len(a.text.split()) for a in bbc])
    sign_ms = _ms_per(bbc, lambda a: story_signature(a.title, a.text))
    base_ms = _ms_per(bbc, lambda a: story_tokens(a.title + " " + a.text))
    print(
        f"speed: {sign_ms:.3f} ms/signature (BBC, mean {words:.0f} words); baseline "
        f"story_tokens {base_ms:.3f} ms/article; ratio {sign_ms / base_ms:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
