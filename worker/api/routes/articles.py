"""/api/v1/articles and /api/v1/stories."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from pipeline.runtime import Runtime
from pipeline.services import browse, reports
from worker.api.auth import require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import MAX_ID, ArticleOut, ArticlePage, Id, StoryOut, StorySummary

router = APIRouter(dependencies=[Depends(require_read)])
Rt = Annotated[Runtime, Depends(runtime_of)]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")]


@router.get(
    "/articles", tags=["articles"], response_model=ArticlePage, responses=problem_responses(422)
)
def list_articles(
    rt: Rt,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 50,
    feed_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    story_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    """Stored articles, newest first, a page at a time."""
    page = browse.list_articles(rt, limit, cursor, feed_id, story_id)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/articles/{article_id}", tags=["articles"], response_model=ArticleOut)
def get_article(rt: Rt, article_id: Id) -> dict[str, Any]:
    """One article with its text, extraction, feeds and alerts."""
    return browse.show_article(rt, article_id)


@router.get("/stories", tags=["stories"], response_model=list[StorySummary])
def list_stories(
    rt: Rt, limit: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 50
) -> list[dict[str, Any]]:
    """Recently updated stories (near-duplicate articles grouped)."""
    return reports.list_stories(rt, limit)


@router.get("/stories/{story_id}", tags=["stories"], response_model=StoryOut)
def get_story(rt: Rt, story_id: Id) -> dict[str, Any]:
    """A story with every version and the figures each one added or revised."""
    return browse.show_story(rt, story_id)
