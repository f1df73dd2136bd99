"""Article cleaning: page HTML (or plain text) in, title/metadata/clean text out.

trafilatura does the work; comments are excluded. An empty result is a normal outcome
(``CleanedArticle.text == ""`` with a reason), not an exception: the caller falls back
to the feed's summary.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import load_html

_LOOKS_LIKE_HTML = re.compile(
    rb"<\s*(html|head|body|article|section|main|div|p|span|h[1-6]|ul|ol|table|br|!doctype)\b",
    re.IGNORECASE,
)
_HTML_LANG = re.compile(rb"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_MIN_LANGUAGE_CHARS = 20
log = logging.getLogger("newswatch")


@dataclass(frozen=True)
class CleanedArticle:
    title: str
    text: str
    author: str | None = None
    published: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    description: str | None = None
    # Set when no article text could be extracted: why.
    reason: str | None = None


def looks_like_html(document: bytes | str) -> bool:
    head = document[:4096] if isinstance(document, bytes) else document[:4096].encode()
    return bool(_LOOKS_LIKE_HTML.search(head))


def clean_article(
    document: bytes | str, url: str | None = None, search_date: bool = True
) -> CleanedArticle:
    """Extract the article from an HTML page, or tidy a plain-text document.

    ``search_date=False`` when the caller already knows the publication date (the feed
    entry gave one): the page's date then comes from its markup only, and htmldate's
    extensive text search (dateparser, by far its dearest part) is skipped.
    """
    if not looks_like_html(document):
        text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
        text = _tidy(text)
        return CleanedArticle(
            title="",
            text=text,
            language=detect_language(text),
            reason=None if text else "empty document",
        )
    tree = load_html(document)
    if tree is None:
        return CleanedArticle(title="", text="", reason="no article text found in the page")
    # Read before the extraction, which prunes its own copy of the tree.
    meta = _page_metadata(tree, url, search_date)
    extracted = trafilatura.bare_extraction(
        tree,
        url=url,
        include_comments=False,
        include_tables=True,
        # No second opinion from readability and jusText: on the extraction benchmark
        # their comparison changed no page's score for the better (F1 0.9604 with it,
        # 0.9607 without) and cost about a third of trafilatura's time per page.
        fast=True,
    )
    if extracted is None:
        return CleanedArticle(title="", text="", reason="no article text found in the page")
    title = (meta.title or "").strip()
    text = _drop_repeated_title(_tidy(extracted.as_dict().get("text") or ""), title)  # type: ignore[union-attr]
    html_language = _html_language(document)
    return CleanedArticle(
        title=title,
        text=text,
        author=meta.author or None,
        published=parse_page_date(meta.date),
        site_name=meta.sitename or None,
        language=detect_language(text) or html_language,
        description=meta.description or None,
        reason=None if text else "no article text found in the page",
    )


def _page_metadata(tree: HtmlElement, url: str | None, search_date: bool) -> Document:
    """The page's title, author, site name, description and date, found as trafilatura's
    ``extract_metadata`` finds them, less what newswatch never shows: its search for
    categories, tags and a licence (about 7 ms of XPath per page, a sixth of cleaning)."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a single word is a handle or a section, rarely a byline
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # trafilatura guards its JSON-LD reader the same way
        log.debug("JSON-LD metadata unreadable", exc_info=True)
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    meta.date = find_date(
        tree,
        url=meta.url,
        extensive_search=search_date,
        # Keep the time of day: htmldate's default output format is a bare date.
        outputformat="%Y-%m-%dT%H:%M:%S%z",
    )
    meta.sitename = meta.sitename or extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if "." not in meta.sitename and not meta.sitename[:1].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (found := META_URL.match(meta.url)):
        meta.sitename = found[1]
    meta.clean_and_trim()
    return meta


def _html_language(document: bytes | str) -> str | None:
    """The page's declared language (<html lang>): trafilatura only reports one on request."""
    head = document[:8192] if isinstance(document, bytes) else document[:8192].encode()
    found = _HTML_LANG.search(head)
    return found.group(1).decode().lower() if found else None


def _drop_repeated_title(text: str, title: str) -> str:
    """Drop the headline when the page repeats it as the first line of the body."""
    first, _, rest = text.partition("\n")
    if title and rest and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return text


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line).strip()


def parse_page_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``, or None when it is too short or too uncertain to say."""
    sample = text[:5000]
    if len(sample.strip()) < _MIN_LANGUAGE_CHARS:
        return None
    language, probability = _language_identifier().classify(sample)
    return str(language) if probability >= 0.5 else None


def word_count(text: str) -> int:
    return len(text.split())


_WARM_UP_PARAGRAPH = (
    "<p>Buses and ambulances left the last pocket of the city on Thursday morning, "
    "officials said, as thousands waited in the cold to leave.</p>"
)
_WARM_UP_PAGE = (
    "<html lang='en'><head><title>Warm-up</title></head><body><article>"
    f"<h1>Convoys leave Aleppo</h1><p>Published Tuesday 3 March 2026</p>{_WARM_UP_PARAGRAPH * 6}"
    "</article></body></html>"
)


def warm_up() -> None:
    """Build what cleaning otherwise builds on first use: trafilatura's and lxml's caches
    and the language model.

    dateparser is left cold on purpose: htmldate calls it only for a page date it cannot
    read itself, and only when the feed entry had no date (see ``search_date``); warming it
    would cost every worker start ~3 s of CPU for all ~400 of its locales, where a child
    that meets an undated entry pays that once in its lifetime."""
    clean_article(_WARM_UP_PAGE, url="https://warm-up.invalid/article", search_date=False)
