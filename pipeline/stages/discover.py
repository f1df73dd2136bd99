"""Feed discovery: the feeds a web page announces in its head.

A user often pastes a site's address instead of its feed's. Pages announce their feeds
with ``<link rel="alternate" type="application/rss+xml" href="…">`` (also Atom and JSON
Feed); this reads those links from the fetched bytes, resolved against the page's URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.etree
import lxml.html

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
}


@dataclass(frozen=True)
class FeedLink:
    url: str
    kind: str  # rss | atom | json
    title: str


def feed_links(page: bytes, base_url: str) -> list[FeedLink]:
    """The feeds ``page`` links to, in page order, without duplicates (http/https only)."""
    if not page.strip():
        return []
    try:
        document = lxml.html.document_fromstring(page)
    except (ValueError, lxml.etree.ParserError):
        return []
    found: dict[str, FeedLink] = {}
    for link in document.iter("link"):
        rel = {part.lower() for part in (link.get("rel") or "").split()}
        kind = FEED_TYPES.get((link.get("type") or "").split(";")[0].strip().lower())
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind is None or not href:
            continue
        url = urljoin(base_url, href)
        if url.lower().startswith(("http://", "https://")) and url not in found:
            found[url] = FeedLink(url=url, kind=kind, title=(link.get("title") or "").strip())
    return list(found.values())
