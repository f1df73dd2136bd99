"""Feed parsing: fetched bytes and response headers in, entries out.

feedparser only ever sees bytes (never a URL or a path, which it would fetch or open), and
DOCTYPE/ENTITY declarations are removed first so a feed cannot expand entities or reach
external resources. A malformed feed keeps every entry feedparser could recover.
"""

from __future__ import annotations

import hashlib
import io
import re
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.html

# A DOCTYPE, with an optional internal subset in brackets, and any stray ENTITY declarations.
_DOCTYPE = re.compile(rb"<!DOCTYPE\b(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.IGNORECASE | re.DOTALL)
_ENTITY = re.compile(rb"<!ENTITY\b[^>]*>", re.IGNORECASE | re.DOTALL)
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|cmpid|ocid)$", re.IGNORECASE)


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    link: str | None
    canonical_url: str
    title: str
    summary: str
    content: str
    author: str | None
    published: datetime | None


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry] = field(default_factory=list)
    # Why feedparser called the feed malformed, if it did; its good entries are still kept.
    problem: str | None = None


def strip_declarations(body: bytes) -> bytes:
    """Remove DOCTYPE and ENTITY declarations (XXE and entity-expansion defence)."""
    return _ENTITY.sub(b"", _DOCTYPE.sub(b"", body))


def canonical_url(url: str) -> str:
    """Normalise a link so the same story under cosmetic URL variants is one article."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        ]
    )
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, query, ""))


def html_to_text(fragment: str) -> str:
    """Plain text of a feed summary or content fragment."""
    if not fragment or "<" not in fragment:
        return (fragment or "").strip()
    try:
        document = lxml.html.fromstring(fragment)
    except (ValueError, lxml.etree.ParserError):
        return re.sub(r"<[^>]+>", " ", fragment).strip()
    for node in document.xpath("//br|//p|//div|//li"):
        node.tail = "\n" + (node.tail or "")
    return re.sub(r"[ \t]+", " ", document.text_content()).strip()


def parse_feed(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Parse feed bytes fetched from ``url`` with the response ``headers``."""
    response_headers = {k.lower(): v for k, v in headers.items()}
    # feedparser resolves relative links against this; a relative header would leave them so.
    response_headers["content-location"] = urljoin(
        url, response_headers.get("content-location", "")
    )
    parsed = feedparser.parse(
        io.BytesIO(strip_declarations(body)),
        response_headers=response_headers,
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = f"{type(exc).__name__}: {' '.join(str(exc).split())}" if exc else "malformed feed"
    if not parsed.entries and not parsed.feed and problem:
        raise ValueError(f"not a feed ({problem})")
    entries = []
    for raw in parsed.entries:
        try:
            entry = _entry(raw, url)
        except ValueError:  # one entry with an unusable link must not cost the others
            continue
        if entry is not None:
            entries.append(entry)
    return ParsedFeed(title=str(parsed.feed.get("title", "")), entries=entries, problem=problem)


def _entry(raw: Any, feed_url: str) -> FeedEntry | None:
    link = _http_link(raw.get("link"))
    guid = raw.get("id") or None
    if link is None and guid and _http_link(guid):
        link = guid
    title = html_to_text(raw.get("title", ""))
    summary = html_to_text(raw.get("summary", ""))
    content = "\n\n".join(html_to_text(c.get("value", "")) for c in raw.get("content", []) or [])
    if not (link or guid or title or summary):
        return None
    if link:
        canonical = canonical_url(link)
    else:
        # No URL to fetch: key the story on the feed and its guid (or its text).
        key = guid or hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
        canonical = f"urn:newswatch:{canonical_url(feed_url)}#{key}"
    return FeedEntry(
        guid=guid,
        link=link,
        canonical_url=canonical,
        title=title,
        summary=summary,
        content=content,
        author=raw.get("author") or None,
        published=_entry_date(raw),
    )


def _http_link(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def _entry_date(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            try:
                return datetime.fromtimestamp(timegm(value), tz=UTC)
            except (OverflowError, ValueError):
                continue
    return None
