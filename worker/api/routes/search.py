"""/api/v1/articles/search (the rule query language over stored articles) and an
article's kept page (/api/v1/articles/{id}/evidence)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from pipeline.runtime import Runtime
from pipeline.services import evidence, search
from worker.api.auth import require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import Id, SearchPage

router = APIRouter(tags=["articles"], dependencies=[Depends(require_read)])
Rt = Annotated[Runtime, Depends(runtime_of)]


@router.get("/articles/search", response_model=SearchPage, responses=problem_responses(422))
def search_articles(
    rt: Rt,
    q: Annotated[
        str | None,
        Query(max_length=10_000, description="A query in the rule language; empty: all."),
    ] = None,
    feed: Annotated[str | None, Query(max_length=2000, description="Feed id, URL or name.")] = None,
    since: Annotated[datetime | None, Query(description="Published at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Published before.")] = None,
    topic: Annotated[str | None, Query(max_length=200, description="IPTC code or label.")] = None,
    place: Annotated[str | None, Query(max_length=200, description="Place or country.")] = None,
    figure: Annotated[
        list[str] | None,
        Query(max_length=20, description="Figure thresholds, e.g. killed:>=10 (repeat)."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=search.MAX_LIMIT)] = 50,
) -> dict[str, Any]:
    """Stored articles matching a query (full-text index first, then the rule matcher),
    newest first, with the terms that matched; pages by cursor."""
    page = search.search_articles(
        rt,
        q,
        feed=feed,
        since=since,
        until=until,
        topic=topic,
        place=place,
        figures=list(figure) if figure else None,
        cursor=cursor,
        limit=limit,
    )
    return {
        "items": [item.to_dict() for item in page.items],
        "next_cursor": page.next_cursor,
        "query": page.query,
        "scanned": page.scanned,
    }


@router.get(
    "/articles/{article_id}/evidence",
    response_class=Response,
    responses={
        200: {
            "content": {evidence.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The page as fetched, a gzipped WARC file; its SHA-256 is in the "
            "X-Evidence-SHA256 header and in the alert payload.",
        },
        **problem_responses(404),
    },
)
def article_evidence(rt: Rt, article_id: Id) -> Response:
    """Download the page an alert fired on, kept as a WARC record."""
    kept = evidence.evidence_for_article(rt, article_id)
    return Response(
        kept.data,
        media_type=evidence.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{kept.filename}"',
            "X-Evidence-SHA256": kept.sha256,
        },
    )
