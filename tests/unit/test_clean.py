"""Article cleaning: boilerplate and comments out, metadata and language in, empty → a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from benchmarks.eval_clean import load_pages, run_cli, score_text, shingles, summarise
from pipeline.stages.clean import (
    clean_article,
    detect_language,
    looks_like_html,
    parse_page_date,
    word_count,
)
from tests.conftest import need_shared

ARTICLE_PARAGRAPHS = (
    "The river burst its banks early on Tuesday morning, sending muddy water through the "
    "lower streets of the village and into dozens of homes near the old stone bridge.",
    "Emergency crews moved forty residents to the school gymnasium, where volunteers handed "
    "out blankets, hot soup and dry clothes throughout the afternoon.",
    "The mayor said the clean-up would take weeks and asked drivers to avoid the valley road "
    "until engineers had inspected the damaged embankment.",
)
PAGE = f"""<!DOCTYPE html>
<html lang="{{lang}}">
<head>
<title>River floods village | The Valley Courier</title>
<meta property="og:title" content="River floods village after three days of rain">
<meta property="og:site_name" content="The Valley Courier">
<meta name="author" content="Jane Marlowe">
<meta property="article:published_time" content="2024-03-05T08:30:00+00:00">
</head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li></ul></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main>
<article>
<h1>River floods village after three days of rain</h1>
{"".join(f"<p>{paragraph}</p>" for paragraph in ARTICLE_PARAGRAPHS)}
</article>
<section id="comments" class="comments">
<h3>Comments</h3>
<div class="comment"><p>Quillfeather wrote: the council ignored the embankment warnings for
years and nobody listened to the residents of the lower streets.</p></div>
</section>
</main>
<footer><p>Copyright 2024 The Valley Courier. All rights reserved. Subscribe to our
newsletter.</p></footer>
</body></html>"""
URL = "https://courier.example.com/news/river-floods"


def _page(lang: str = "en") -> str:
    return PAGE.replace("{lang}", lang)


def test_article_paragraphs_are_kept_and_boilerplate_removed() -> None:
    cleaned = clean_article(_page(), url=URL)
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in cleaned.text
    for boilerplate in ("cookies", "Copyright", "newsletter", "Weather", "Home"):
        assert boilerplate not in cleaned.text
    assert cleaned.reason is None


def test_comments_are_excluded() -> None:
    cleaned = clean_article(_page(), url=URL)
    assert "Quillfeather" not in cleaned.text
    assert "council ignored" not in cleaned.text


def test_metadata_title_author_date_site_name() -> None:
    cleaned = clean_article(_page(), url=URL)
    assert cleaned.title == "River floods village after three days of rain"
    assert cleaned.author == "Jane Marlowe"
    assert cleaned.site_name == "The Valley Courier"
    assert cleaned.published is not None
    assert cleaned.published.tzinfo is not None
    assert cleaned.published.date() == date(2024, 3, 5)


def test_bytes_and_str_give_the_same_result() -> None:
    assert clean_article(_page().encode("utf-8"), url=URL) == clean_article(_page(), url=URL)


def test_language_comes_from_the_text_not_the_html_attribute() -> None:
    # A mislabelled page (lang="fr", English text) must not be tagged French.
    assert clean_article(_page("fr"), url=URL).language == "en"
    german = (
        '<html lang="en"><body><article><p>Die Brücke über den Fluss wurde am Dienstag nach '
        "einem schweren Hochwasser gesperrt, teilte die Gemeinde am Abend mit.</p></article>"
        "</body></html>"
    )
    assert clean_article(german).language == "de"


def test_text_without_line_noise_has_one_line_per_paragraph() -> None:
    lines = clean_article(_page(), url=URL).text.split("\n")
    assert all(line == line.strip() and "  " not in line for line in lines)
    assert lines[-1] == ARTICLE_PARAGRAPHS[-1]


def test_plain_text_is_tidied_not_parsed() -> None:
    document = (
        "  The harbour   festival returns next summer\r\n\r\n\r\n"
        "with boats, music and a night market on the quay.  \n"
    )
    cleaned = clean_article(document)
    assert cleaned.title == ""
    assert cleaned.text == (
        "The harbour festival returns next summer\n"
        "with boats, music and a night market on the quay."
    )
    assert cleaned.language == "en"
    assert cleaned.reason is None
    assert clean_article(document.encode("utf-8")) == cleaned


@pytest.mark.parametrize("document", ["<html><body></body></html>", b"<!DOCTYPE html><p></p>"])
def test_page_without_article_text_gives_a_reason(document: str | bytes) -> None:
    cleaned = clean_article(document)
    assert cleaned.text == ""
    assert cleaned.reason == "no article text found in the page"


@pytest.mark.parametrize("document", ["", "   \n\t ", b""])
def test_empty_document_gives_a_reason(document: str | bytes) -> None:
    cleaned = clean_article(document)
    assert cleaned.text == ""
    assert cleaned.reason == "empty document"
    assert cleaned.language is None


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("<!doctype html><title>x</title>", True),
        (b"<HTML><body>text</body></HTML>", True),
        ("<div class='story'>text</div>", True),
        ("Shares rose 3% <b>after</b> the report.", False),
        ("A plain sentence about a < b and c > d.", False),
    ],
)
def test_looks_like_html(document: str | bytes, expected: bool) -> None:
    assert looks_like_html(document) is expected


def test_detect_language_declines_short_text() -> None:
    assert detect_language("Bonjour.") is None
    assert detect_language("") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05 08:30:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
        ("2024-03-05T08:30:00+0200", datetime.fromisoformat("2024-03-05T08:30:00+02:00")),
        ("5 March 2024", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_page_date(value: object, expected: datetime | None) -> None:
    assert parse_page_date(value) == expected


def test_word_count() -> None:
    assert word_count("  one two\nthree  ") == 3
    assert word_count("") == 0


# --- the evaluation metric used as the quality gate (benchmarks/eval_clean.py) ----------


def test_shingles_are_lowercased_word_four_grams() -> None:
    assert shingles("The cat, the CAT sat.") == {
        ("the", "cat", "the", "cat"),
        ("cat", "the", "cat", "sat"),
    }
    assert shingles("Too short") == {("too", "short")}
    assert shingles(" ... ") == set()


def test_score_text_precision_and_recall() -> None:
    gold = "one two three four five six"
    assert score_text(gold, gold).f1 == 1.0
    # Extra words lower precision only; missing words lower recall only.
    longer = score_text(gold + " seven eight", gold)
    assert longer.recall == 1.0
    assert longer.precision == pytest.approx(3 / 5)
    shorter = score_text("one two three four five", gold)
    assert shorter.precision == 1.0
    assert shorter.recall == pytest.approx(2 / 3)
    assert score_text("", gold).f1 == 0.0
    assert score_text("", "").f1 == 1.0


@pytest.mark.shared
def test_batch_extract_keeps_trafilatura_quality_on_benchmark_sample() -> None:
    corpus = need_shared("corpora", "article-extraction-benchmark")
    pages = load_pages(corpus, sample=30)
    texts = run_cli(pages)
    assert set(texts) == {page.id for page in pages}
    summary = summarise([score_text(texts[page.id], page.gold) for page in pages])
    assert summary.pages == 30
    assert summary.f1 >= 0.95, summary


def test_a_dated_article_skips_the_date_search_but_keeps_its_text() -> None:
    from pipeline.stages.clean import _WARM_UP_PAGE, clean_article

    page = _WARM_UP_PAGE.replace(
        "<head>", "<head><meta property='article:published_time' content='2026-03-03T10:00:00Z'>"
    )
    searched = clean_article(page, url="https://news.invalid/story")
    known = clean_article(page, url="https://news.invalid/story", search_date=False)
    assert known.text == searched.text and "Buses and ambulances" in known.text
    assert known.published == searched.published  # the markup's date is still read
    assert known.published is not None and known.published.day == 3
