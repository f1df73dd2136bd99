"""OPML import and export of the watched feeds.

Import adds each feed outline as ``newswatch feeds add`` would (the same URL check and feed
discovery unless ``check`` is off, the same refusals, made by hand: ``origin`` user), one
outline at a time, so a bad outline is refused with its reason and never loses the others.
A URL already watched, or listed twice, is reported as known and left as it is. The folders
an outline sits in are kept on the feed, and export writes them back as nested outlines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.errors import ConfigError, ConflictError, NewswatchError
from pipeline.io import store
from pipeline.runtime import Runtime

log = logging.getLogger("newswatch")


@dataclass(frozen=True)
class ImportedFeed:
    id: int
    url: str
    name: str
    folder: list[str]


@dataclass(frozen=True)
class KnownFeed:
    id: int | None  # None: listed earlier in the same file and refused there
    url: str


@dataclass(frozen=True)
class RefusedOutline:
    url: str | None
    title: str
    line: int | None
    reason: str

    def describe(self) -> str:
        where = f"line {self.line}" if self.line else "outline"
        name = f" {self.title!r}" if self.title else ""
        return f"{where}{name} {self.url or '(no URL)'}: {self.reason}"


@dataclass
class ImportReport:
    added: list[ImportedFeed] = field(default_factory=list)
    known: list[KnownFeed] = field(default_factory=list)
    refused: list[RefusedOutline] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_opml(
    rt: Runtime,
    data: bytes,
    *,
    check: bool = True,
    progress: Callable[[int, int], Any] | None = None,
) -> ImportReport:
    """Watch every feed of an OPML file. ``check`` GETs each URL first (and follows a web
    page to the feed it announces), as ``feeds add`` does. A file that is not OPML is a
    ConfigError and changes nothing; ``progress(done, total)`` is called per outline."""
    from pipeline.services import catalog
    from pipeline.stages.opml import parse_opml

    try:
        parsed = parse_opml(data)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    report = ImportReport()
    seen: dict[str, int | None] = {}
    total = len(parsed.outlines)
    for done, outline in enumerate(parsed.outlines, start=1):
        url = outline.url
        if url is None or outline.problem:
            reason = outline.problem or "it has no feed URL"
            report.refused.append(RefusedOutline(url, outline.title, outline.line, reason))
        elif url in seen:
            report.known.append(KnownFeed(seen[url], url))
        else:
            seen[url] = _import_one(rt, catalog, outline, check, report)
        if progress is not None:
            progress(done, total)
    log.info(
        "OPML import: %d added, %d known, %d refused",
        len(report.added),
        len(report.known),
        len(report.refused),
    )
    return report


def _import_one(
    rt: Runtime, catalog: Any, outline: Any, check: bool, report: ImportReport
) -> int | None:
    """Add one outline's feed; returns its feed id (None when refused)."""
    url: str = outline.url
    folder = list(outline.folder)
    try:
        known = _watched(rt, url)
        if known is not None:
            report.known.append(KnownFeed(known, url))
            return known
        name = outline.title
        if check:
            found = catalog.check_feed(rt, url)
            url, name = found.url, name or found.title
            known = _watched(rt, url)
            if known is not None:
                report.known.append(KnownFeed(known, url))
                return known
        feed = catalog.add_feed(rt, url, name)
        feed_id = int(feed.id)
        if folder:
            with store.session_scope(rt.store_url) as session:
                store.set_feed_folder(session, feed_id, folder)
        report.added.append(ImportedFeed(feed_id, feed.url, feed.name, folder))
        return feed_id
    except ConflictError:  # watched meanwhile by someone else
        found_id = _watched(rt, url)
        report.known.append(KnownFeed(found_id, url))
        return found_id
    except NewswatchError as exc:
        report.refused.append(RefusedOutline(outline.url, outline.title, outline.line, str(exc)))
    except Exception as exc:  # one outline must never lose the others
        log.exception("OPML outline failed", extra={"url": url})
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        report.refused.append(RefusedOutline(outline.url, outline.title, outline.line, reason))
    return None


def _watched(rt: Runtime, url: str) -> int | None:
    with store.session_scope(rt.store_url) as session:
        feed = store.find_feed_by_url(session, url)
        return int(feed.id) if feed is not None and feed.id is not None else None


def export_opml(rt: Runtime) -> bytes:
    """Every watched feed (paused ones too) as an OPML 2.0 file, in its folders."""
    from pipeline.stages.opml import OpmlFeed, build_opml

    with store.session_scope(rt.store_url) as session:
        feeds = [
            OpmlFeed(url=feed.url, title=feed.name, folder=tuple(feed.folder or ()))
            for feed in store.list_feeds(session)
        ]
    return build_opml(feeds, "newswatch feeds", rt.now())
