"""Evidence: the page an alert fired on, kept as it was fetched.

When an article raises an alert, its fetched page (the request sent and the response
received: status, headers and body) is stored as a gzipped WARC file in the store, in the
same transaction as the alert, and the file's SHA-256 goes into the alert payload
(``data.article.evidence``). ``evidence_for_article`` hands the file back; the
stuck-article relay tick drops files older than ``evidence_retention_days``.

An article whose page could not be fetched (the feed's own text was used) has no evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import NotFoundError
from pipeline.io import store
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    from pipeline.io.http import FetchResult
    from pipeline.stages.evidence import WarcFile

log = logging.getLogger("newswatch")

MEDIA_TYPE = "application/warc"  # gzipped per record: served as a .warc.gz file
_SWEEP_BATCH = 500


@dataclass(frozen=True)
class Evidence:
    """A kept page: ``data`` is the .warc.gz file; ``sha256`` is its digest as hex."""

    filename: str
    sha256: str
    data: bytes
    captured_at: datetime


def evidence_filename(article_id: int, sha256: str) -> str:
    return f"newswatch-article-{article_id}-{sha256[:12]}.warc.gz"


def page_capture(result: FetchResult, fetched_at: datetime) -> dict[str, Any]:
    """What to keep of a page fetch beside its body until the article is processed."""
    from pipeline.stages.evidence import PageCapture

    return PageCapture(
        url=result.url,
        status=result.status_code,
        reason=result.reason,
        request_headers=result.request_headers,
        response_headers=result.headers,
        fetched_at=fetched_at,
        http_version=result.http_version,
    ).to_dict()


def build_evidence(capture: dict[str, Any] | None, page: bytes | None) -> WarcFile | None:
    """The WARC file of a fetched page, or None when no page was fetched."""
    from pipeline.stages.evidence import PageCapture, build_warc

    if capture is None or page is None:
        return None
    return build_warc(PageCapture.from_dict(capture), page)


def payload_ref(article_id: int, warc: WarcFile | None) -> dict[str, Any] | None:
    """How an alert payload names the evidence (None: the page was not fetched)."""
    if warc is None:
        return None
    return {
        "sha256": warc.sha256,
        "size": len(warc.data),
        "filename": evidence_filename(article_id, warc.sha256),
        "media_type": MEDIA_TYPE,
    }


def evidence_for_article(rt: Runtime, article_id: int) -> Evidence:
    """The kept page of an article; NotFoundError when there is none (it raised no alert,
    its page was never fetched, or the file passed its retention)."""
    with store.session_scope(rt.store_url) as session:
        row = store.get_evidence(session, article_id)
        if row is None:
            if store.get_article(session, article_id) is None:
                raise NotFoundError(f"no article with id {article_id}")
            raise NotFoundError(
                f"article {article_id} has no evidence: only the page of an article that "
                "raised an alert is kept (and for evidence_retention_days)"
            )
        return Evidence(
            filename=evidence_filename(article_id, row.sha256),
            sha256=row.sha256,
            data=bytes(row.warc),
            captured_at=row.captured_at,
        )


def sweep_evidence(rt: Runtime) -> int:
    """Drop evidence older than ``evidence_retention_days`` (0: keep forever), a batch at a
    time so a tick stays short; returns how many files were dropped."""
    days = rt.settings.evidence_retention_days
    if days <= 0:
        return 0
    cutoff = rt.now() - timedelta(days=days)
    with store.session_scope(rt.store_url) as session:
        dropped = store.delete_evidence_before(session, cutoff, _SWEEP_BATCH)
    if dropped:
        log.info("dropped %d evidence files older than %d days", dropped, days)
    return dropped
