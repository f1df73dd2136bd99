"""OPML: bytes in, the feed outlines out; the watched feeds in, an OPML 2.0 file out.

Readers export OPML in every shape: nested folders, ``xmlUrl`` or ``url``, UTF-16 with a
BOM, a latin-1 declaration, an undeclared windows-1252 file, HTML entities and bare
ampersands in titles. The text is decoded first (BOM, then the declared encoding if it
holds, then UTF-8, then windows-1252), DOCTYPE and ENTITY declarations are removed as for
feeds (:func:`pipeline.stages.parse.strip_declarations`: no entity expansion, nothing
external), and lxml parses with entities, DTDs and the network off, recovering from
markup errors so one broken outline does not hide the others.
"""

from __future__ import annotations

import codecs
import html.entities
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import lxml.etree

from pipeline.stages.parse import strip_declarations

# Outlines nested deeper than this are not read (lxml itself stops at 256 levels).
MAX_DEPTH = 64
_FEED_TYPES = frozenset({"rss", "atom", "feed", "rdf", "json", "jsonfeed"})
_DECLARATION = re.compile(rb"^\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_XML_DECLARATION = re.compile(r"^\s*<\?xml\b[^>]*\?>")
# Entity references XML knows without a DTD; other names are HTML's, replaced by their text.
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY_REF = re.compile(r"&([A-Za-z][A-Za-z0-9]{0,31});")
_BARE_AMPERSAND = re.compile(r"&(?!#[0-9]{1,8};|#[xX][0-9a-fA-F]{1,8};|[A-Za-z][A-Za-z0-9]{0,31};)")
# Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Outline:
    """One outline that is, or claims to be, a feed."""

    url: str | None  # None: it looks like a feed but names no URL (see ``problem``)
    title: str
    folder: tuple[str, ...]  # the folders it sits in, outermost first
    line: int | None  # where it starts in the file
    html_url: str | None = None
    problem: str | None = None  # why it cannot be imported, when known here

    @property
    def label(self) -> str:
        where = f"line {self.line}" if self.line else "an outline"
        return f"{where} ({self.title!r})" if self.title else where


@dataclass(frozen=True)
class ParsedOpml:
    title: str
    outlines: list[Outline]


def parse_opml(data: bytes) -> ParsedOpml:
    """The feed outlines of an OPML file, in document order; ValueError if it is not one."""
    text = decode_xml(data)
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        raise ValueError("not an OPML file: it is empty")
    cleaned = strip_declarations(_fix_entities(text).encode("utf-8"))
    parser = lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",
    )
    try:
        root = lxml.etree.fromstring(cleaned, parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise ValueError(f"not an OPML file: {exc.msg}") from exc
    if root is None:
        raise ValueError("not an OPML file: no XML element found")
    if _local(root) != "opml":
        raise ValueError(f"not an OPML file: the document is <{_local(root)}>, not <opml>")
    head = _child(root, "head")
    title_element = _child(head, "title") if head is not None else None
    title = _clean(title_element.text or "") if title_element is not None else ""
    body = _child(root, "body")
    if body is None:
        raise ValueError("not an OPML file: it has no <body>")
    outlines: list[Outline] = []
    _walk(body, (), 0, outlines)
    return ParsedOpml(title=title, outlines=outlines)


def decode_xml(data: bytes) -> str:
    """The text of an XML file whatever its encoding (BOM, declaration, or a good guess)."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    declared = _DECLARATION.match(data[:1024])
    candidates = []
    if declared:
        name = declared.group(1).decode("ascii").lower()
        # An ASCII-readable declaration cannot be in UTF-16 or UTF-32: that one is wrong.
        if not name.replace("-", "").startswith(("utf16", "utf32", "ucs")):
            candidates.append(name)
    candidates.append("utf-8")
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _fix_entities(text: str) -> str:
    """HTML entities as their characters and bare ``&`` escaped: neither is XML."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES:
            return match.group(0)
        value = html.entities.html5.get(name + ";")
        if value is None:
            return "&amp;" + name + ";"
        return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")

    return _ENTITY_REF.sub(replace, _BARE_AMPERSAND.sub("&amp;", text))


def _walk(
    parent: lxml.etree._Element, folder: tuple[str, ...], depth: int, out: list[Outline]
) -> None:
    if depth >= MAX_DEPTH:
        return
    for element in parent:
        if not isinstance(element.tag, str) or _local(element) != "outline":
            continue
        attrs = {str(k).lower(): _clean(str(v)) for k, v in element.attrib.items()}
        kind = attrs.get("type", "").lower()
        title = attrs.get("title") or attrs.get("text") or ""
        url = attrs.get("xmlurl") or (attrs.get("url") if kind != "include" else None)
        has_children = any(
            isinstance(child.tag, str) and _local(child) == "outline" for child in element
        )
        if url:
            out.append(
                Outline(
                    url=url,
                    title=title,
                    folder=folder or _category(attrs.get("category")),
                    line=element.sourceline,
                    html_url=attrs.get("htmlurl") or None,
                )
            )
        elif kind == "include":
            out.append(
                Outline(
                    None,
                    title,
                    folder,
                    element.sourceline,
                    problem="an included OPML file (type=include) is not fetched",
                )
            )
        elif kind in _FEED_TYPES and not has_children:
            out.append(
                Outline(
                    None, title, folder, element.sourceline, problem="it has no xmlUrl attribute"
                )
            )
        if has_children:
            inner = folder if url or not title else (*folder, title)
            _walk(element, inner, depth + 1, out)


def _category(value: str | None) -> tuple[str, ...]:
    """OPML 2.0's ``category="/News/World,/Other"``: the first path, as folders."""
    if not value:
        return ()
    first = value.split(",")[0]
    return tuple(part.strip() for part in first.split("/") if part.strip())


def _local(element: lxml.etree._Element) -> str:
    return lxml.etree.QName(element).localname.lower()


def _child(element: lxml.etree._Element, name: str) -> lxml.etree._Element | None:
    for child in element:
        if isinstance(child.tag, str) and _local(child) == name:
            return child
    return None


def _clean(value: str) -> str:
    return " ".join(_NOT_XML.sub("", value).split())


# --- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str
    folder: tuple[str, ...] = ()


def build_opml(feeds: Iterable[OpmlFeed], title: str, created: datetime) -> bytes:
    """An OPML 2.0 file: folders as nested outlines, feeds as ``type="rss"`` outlines."""
    root = lxml.etree.Element("opml", version="2.0")
    head = lxml.etree.SubElement(root, "head")
    lxml.etree.SubElement(head, "title").text = _xml_text(title)
    when = created if created.tzinfo else created.replace(tzinfo=UTC)
    lxml.etree.SubElement(head, "dateCreated").text = format_datetime(when.astimezone(UTC))
    body = lxml.etree.SubElement(root, "body")
    folders: dict[tuple[str, ...], lxml.etree._Element] = {(): body}
    for feed in feeds:
        parent = body
        for depth in range(1, len(feed.folder) + 1):
            path = feed.folder[:depth]
            if path not in folders:
                name = _xml_text(path[-1])
                folders[path] = lxml.etree.SubElement(parent, "outline", text=name, title=name)
            parent = folders[path]
        name = _xml_text(feed.title or feed.url)
        lxml.etree.SubElement(
            parent, "outline", type="rss", text=name, title=name, xmlUrl=_xml_text(feed.url)
        )
    return lxml.etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)
