"""Feed parsing: fetched bytes and response headers in, entries out.

RSS and Atom go through feedparser, which only ever sees bytes (never a URL or a path, which it
would fetch or open), after DOCTYPE/ENTITY declarations are removed so a feed cannot expand
entities or reach external resources. JSON Feed (versions 1 and 1.1) is read with ``json``.
A malformed feed keeps every entry that could be recovered.

Titles, summaries and content leave as plain text: no entities, no markup, normalised
whitespace. Downstream stages read numbers out of this text, so a leftover ``&#039;`` is not
cosmetic: its ``039`` was once extracted as "39 killed".
"""

from __future__ import annotations

import hashlib
import html
import html.entities
import io
import json
import re
import threading
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import feedparser.encodings
import lxml.etree
import lxml.html

# A DOCTYPE, with an optional internal subset in brackets, and any stray ENTITY declarations.
_DOCTYPE = re.compile(rb"<!DOCTYPE\b(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.IGNORECASE | re.DOTALL)
_ENTITY = re.compile(rb"<!ENTITY\b[^>]*>", re.IGNORECASE | re.DOTALL)
_DOCTYPE_START = re.compile(rb"<!DOCTYPE\b", re.IGNORECASE)
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


# Removing one declaration can join the text around it into another ("<!DOC<!ENTITY ..>TYPE").
_MAX_STRIP_ROUNDS = 4


def strip_declarations(body: bytes) -> bytes:
    """Remove DOCTYPE and ENTITY declarations (XXE and entity-expansion defence).

    Works on ASCII-compatible bytes: ``parse_feed`` calls it on the UTF-8 the XML parser is
    then given, never on the bytes as served (UTF-16 and UTF-32 would slip through).
    Raises ValueError if declarations remain after a few rounds."""
    for _ in range(_MAX_STRIP_ROUNDS):
        stripped = _ENTITY.sub(b"", _DOCTYPE.sub(b"", body))
        if stripped == body:
            return body
        body = stripped
    if _DOCTYPE_START.search(body) or _ENTITY.search(body):
        raise ValueError("not a feed (DOCTYPE or ENTITY declarations nested to survive removal)")
    return body


def _feed_as_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], str | None]:
    """The feed as feedparser's XML parser will read it: UTF-8, declarations removed.

    feedparser picks the encoding (BOM, XML declaration, HTTP charset, RFC 3023) and
    transcodes to UTF-8 before parsing, so the declarations are removed from what it
    produces; the headers handed on then name UTF-8, so the parse reads exactly the bytes
    checked here. Returns (body, headers, why feedparser found the encoding wrong, if it
    did)."""
    found: dict[str, Any] = {}
    utf8 = feedparser.encodings.convert_to_utf8(headers, body, found)
    problem = _describe(found["bozo_exception"]) if found.get("bozo") else None
    media_type = headers.get("content-type", "").split(";")[0].strip() or "application/xml"
    return (
        strip_declarations(utf8),
        {**headers, "content-type": f"{media_type}; charset=utf-8"},
        problem,
    )


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


# --- plain text out of feed markup ---------------------------------------------------------

# Feeds that escape twice (`&amp;#039;`, `&amp;lt;p&amp;gt;`) still hold entities or tags after
# one decode, so decoding repeats while the text changes; the bound keeps a hostile fragment
# (`&amp;amp;amp;...`) from costing more than a few passes.
_MAX_DECODE_ROUNDS = 3
# A character reference the decoder takes. A named one needs its ';', so "AT&T", "R&D" and
# "&notice" stay text; a numeric one may omit it, as HTML allows ("&#039s").
_CHAR_REF = re.compile(r"&(?:#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[a-zA-Z][a-zA-Z0-9]{1,31};)")
# An '&' that starts no such reference. libxml2 follows HTML5 and reads "&notice" as "¬ice" and
# "&copy 2024" as "© 2024"; escaping these first gives text with and without tags one rule.
_BARE_AMPERSAND = re.compile(r"&(?!#[0-9]|#[xX][0-9a-fA-F]|[a-zA-Z][a-zA-Z0-9]{1,31};)")
# Where an HTML tokenizer sees a tag: '<' then a letter, '/', '!' or '?'. "a < b" and "<3" are
# text, so they never send a fragment through the parser again.
_MARKUP = re.compile(r"<[a-zA-Z/!?]")
# Tag-shaped leftovers once the rounds are spent (quadruple escaping, raw-text elements such as
# <textarea> or <xmp> whose contents the parser keeps verbatim). Linear: no nested quantifiers.
_TAG = re.compile(r"<[a-zA-Z/!?][^<>]*>")
# libxml2 reads "<![CDATA[" in HTML as a bogus comment and drops the text up to the next '>'.
_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)
# "<?xml ... encoding=...?>" makes lxml refuse a str; HTML treats any "<?...>" as a comment.
_PROCESSING_INSTRUCTION = re.compile(r"<\?[^>]*>?")
# Never text: their contents are code, or not rendered.
_HIDDEN = ("script", "style", "template", "noscript")
# Elements that end a line in a browser; the line breaks are all that is kept of the layout.
_BLOCK_NAMES = """address article aside blockquote br caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary
    table tr ul"""
_BLOCKS = frozenset(_BLOCK_NAMES.split())
_CELLS = ("td", "th")
# Control characters (C0 but \t, \n and the line breaks \v \f \r, DEL, C1 but NEL), lone
# surrogates (a JSON "\ud800" or an invalid reference; they cannot be encoded to UTF-8 for
# storage), noncharacters and invisible format characters that split words ("evac\u00aduated"
# must still match "evacuated").
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff\ufffe\uffff\ud800-\udfff]"
)

# No network, no DTD: libxml2's HTML parser never resolves external entities, and its depth
# limit (256 levels; huge_tree stays off) bounds the tree a fragment can build.
_PARSER_OPTIONS: dict[str, bool] = {
    "remove_comments": True,
    "remove_pis": True,
    "no_network": True,
    "default_doctype": False,
}
# One parser per thread: the error log read after a parse belongs to the parser, not the call.
_LOCAL = threading.local()


def html_to_text(fragment: str) -> str:
    """Plain text of a feed title, summary or content fragment.

    Entities are decoded, markup (including markup that only appears once an escaped fragment is
    decoded) is dropped with the contents of script and style, block elements become line
    breaks, and whitespace is normalised: one space between words, one newline between blocks,
    no blank lines and no control characters but newline.
    """
    text = fragment or ""
    for round_ in range(_MAX_DECODE_ROUNDS):
        if _MARKUP.search(text):
            # In HTML source a line break is a space ("<p>At least 40\npeople</p>" is one line);
            # block elements make the breaks. Text from an earlier round keeps its breaks: they
            # came from such blocks.
            decoded = _markup_to_text(
                text.replace("\r", " ").replace("\n", " ") if round_ == 0 else text
            )
        elif "&" in text:
            decoded = _CHAR_REF.sub(_decode_char_ref, text)
        else:
            break
        if decoded == text:  # only unknown names such as "&foo;" were left
            break
        text = decoded
    else:
        if _MARKUP.search(text):
            text = _TAG.sub(" ", text)
    return _normalise_space(text)


def _markup_to_text(fragment: str) -> str:
    if "<![CDATA[" in fragment:
        fragment = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), fragment)
    if "<?" in fragment:
        fragment = _PROCESSING_INSTRUCTION.sub("", fragment)
    if "&" in fragment:
        fragment = _BARE_AMPERSAND.sub("&amp;", fragment)
    parser = _html_parser()
    try:
        root = lxml.html.fromstring(fragment, parser=parser)
    except (ValueError, lxml.etree.ParserError):
        # Nothing but comments or whitespace ("Document is empty").
        return _strip_tags(fragment)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        # Nested past the depth limit: libxml2 stops there and the rest of the text would go.
        return _strip_tags(fragment)
    if root.tag in _HIDDEN:
        return ""
    lxml.etree.strip_elements(root, *_HIDDEN, with_tail=False)
    # Filtered by tag in C: most elements are inline and never become Python objects.
    for node in root.iter(*_BLOCKS, *_CELLS):
        if node.tag in _CELLS:
            node.tail = " " + (node.tail or "")
            continue
        node.tail = "\n" + (node.tail or "")
        if node.tag not in ("br", "hr"):
            node.text = "\n" + (node.text or "")
    return str(root.text_content())


def _html_parser() -> lxml.html.HTMLParser:
    parser: lxml.html.HTMLParser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = lxml.html.HTMLParser(**_PARSER_OPTIONS)
    return parser


def _strip_tags(fragment: str) -> str:
    return _CHAR_REF.sub(_decode_char_ref, _TAG.sub(" ", fragment))


def _decode_char_ref(match: re.Match[str]) -> str:
    ref = match.group()
    if ref[1] == "#":
        # html.unescape applies HTML's rules: cp1252 for &#128;-&#159;, U+FFFD for 0,
        # surrogates and anything past U+10FFFF.
        return html.unescape(ref if ref.endswith(";") else ref + ";")
    return html.entities.html5.get(ref[1:], ref)


def _normalise_space(text: str) -> str:
    # splitlines() breaks at \r, \v, \f, NEL and U+2028/9 as well; split() with no argument
    # splits at every other whitespace, NBSP and the Unicode spaces included. Both run in C,
    # where a regex over every space would be the slowest step of the whole function.
    lines = (" ".join(line.split()) for line in _INVISIBLE.sub("", text).splitlines())
    return "\n".join(line for line in lines if line)


def parse_feed(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Parse feed bytes fetched from ``url`` with the response ``headers``.

    Raises ValueError("not a feed (...)") when the body holds no feed at all.
    """
    response_headers = {k.lower(): v for k, v in headers.items()}
    # Relative links resolve against this; a relative header would leave them relative.
    base = urljoin(url, response_headers.get("content-location", ""))
    response_headers["content-location"] = base
    if _is_json(body, response_headers.get("content-type", "")):
        return _parse_json_feed(body, base, url)
    utf8, utf8_headers, encoding_problem = _feed_as_utf8(body, response_headers)
    parsed = feedparser.parse(
        io.BytesIO(utf8),
        response_headers=utf8_headers,
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    problem = encoding_problem
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = _describe(exc) if exc else "malformed feed"
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
    title = html_to_text(str(parsed.feed.get("title", "")))
    return ParsedFeed(title=title, entries=entries, problem=problem)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _entry(raw: Any, feed_url: str) -> FeedEntry | None:
    contents = (html_to_text(c.get("value", "")) for c in raw.get("content", []) or [])
    return _feed_entry(
        feed_url,
        guid=raw.get("id") or None,
        link=_http_link(raw.get("link")),
        title=html_to_text(raw.get("title", "")),
        summary=html_to_text(raw.get("summary", "")),
        content="\n\n".join(text for text in contents if text),
        author=raw.get("author") or None,
        published=_entry_date(raw),
    )


def _feed_entry(
    feed_url: str,
    *,
    guid: str | None,
    link: str | None,
    title: str,
    summary: str,
    content: str,
    author: str | None,
    published: datetime | None,
) -> FeedEntry | None:
    """The entry, keyed on its link; None when it has nothing to identify or show."""
    if link is None and guid and _http_link(guid):
        link = guid
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
        author=author,
        published=published,
    )


# --- JSON Feed (https://www.jsonfeed.org/version/1.1/) ------------------------------------

_JSON_CONTENT_TYPE = re.compile(r"^\s*application/(?:feed\+)?json\s*(?:;|$)", re.IGNORECASE)
_FIRST_BYTE = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*(.)", re.DOTALL)
# Versions 1 and 1.1; both name the same fields this reader uses (1.1 adds "authors").
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(?:\.\d+)?/?$")


def _is_json(body: bytes, content_type: str) -> bool:
    """A body that opens with '{', or one labelled JSON that does not open with '<'.

    The body wins when it plainly contradicts the label: no XML document opens with '{', and an
    RSS body served as application/json is still RSS. Whether the JSON is a JSON Feed (its
    "version") is checked once it is parsed, so other JSON gets a "not a feed" that says why.
    """
    first = _FIRST_BYTE.match(body)
    opening = first.group(1) if first else b""
    if opening == b"{":
        return True
    return opening != b"<" and bool(_JSON_CONTENT_TYPE.match(content_type))


def _parse_json_feed(body: bytes, base: str, feed_url: str) -> ParsedFeed:
    try:
        text = body.decode(json.detect_encoding(body), errors="replace")
        # Numbers keep their literal text: nothing here reads a number, a numeric id must become
        # a string anyway (JSON Feed 1.1), and int() refuses more than 4,300 digits.
        document = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except RecursionError:  # the C decoder's own guard against absurd nesting
        raise ValueError("not a feed (RecursionError: JSON nested too deeply)") from None
    except ValueError as exc:
        raise ValueError(f"not a feed ({_describe(exc)})") from None
    if not isinstance(document, dict):
        raise ValueError("not a feed (JSON document that is not a JSON Feed: not an object)")
    version = document.get("version")
    if not (isinstance(version, str) and _JSON_FEED_VERSION.match(version.strip())):
        seen = f"version {version[:80]!r}" if isinstance(version, str) else "no version"
        raise ValueError(f"not a feed (JSON document that is not a JSON Feed: {seen})")
    items = document.get("items")
    problem = None
    if not isinstance(items, list):
        problem = "JSON Feed without an items list"
        items = []
    feed_author = _json_authors(document)
    entries = []
    unreadable = 0
    for raw in items:
        try:
            entry = _json_entry(raw, base, feed_url, feed_author)
        except ValueError:  # one unusable item must not cost the others
            unreadable += 1
            continue
        if entry is not None:
            entries.append(entry)
    if unreadable:
        problem = f"JSON Feed with {unreadable} unreadable item(s) of {len(items)}"
    title = html_to_text(_json_str(document.get("title")) or "")
    return ParsedFeed(title=title, entries=entries, problem=problem)


def _json_entry(raw: Any, base: str, feed_url: str, feed_author: str | None) -> FeedEntry | None:
    if not isinstance(raw, dict):
        raise ValueError("item is not an object")
    link = None
    for key in ("url", "external_url"):  # the item's own page first, then what it links to
        value = _json_str(raw.get(key))
        link = _http_link(urljoin(base, value)) if value else None
        if link:
            break
    content = html_to_text(_json_str(raw.get("content_html")) or "")
    if not content:
        content = html_to_text(_json_str(raw.get("content_text")) or "")
    return _feed_entry(
        feed_url,
        guid=_json_str(raw.get("id")),
        link=link,
        title=html_to_text(_json_str(raw.get("title")) or ""),
        summary=html_to_text(_json_str(raw.get("summary")) or ""),
        content=content,
        # An item without authors has the feed's (JSON Feed 1.1).
        author=_json_authors(raw) or feed_author,
        published=_json_date(raw.get("date_published")) or _json_date(raw.get("date_modified")),
    )


def _json_str(value: Any) -> str | None:
    """A JSON string (or number, kept as its literal text) fit to store, or None."""
    if not isinstance(value, str):
        return None
    # A JSON string may escape NUL or a lone surrogate; neither can be stored as text.
    return _INVISIBLE.sub("", value).strip() or None


def _json_authors(obj: dict[str, Any]) -> str | None:
    people = obj.get("authors")  # 1.1
    if not isinstance(people, list):
        people = [obj.get("author")]  # 1.0
    names = (_json_str(p.get("name")) for p in people if isinstance(p, dict))
    return ", ".join(dict.fromkeys(name for name in names if name)) or None


def _json_date(value: Any) -> datetime | None:
    text = _json_str(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.upper())  # RFC 3339, as the spec asks
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)  # RFC 822, as some generators write anyway
        except (ValueError, TypeError):
            return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range
        return None


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
