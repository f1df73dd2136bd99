"""/api/v1/feeds and /api/v1/feed-events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from pipeline.runtime import Runtime
from pipeline.services import browse, catalog
from worker.api.auth import require_admin, require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import (
    FeedCreate,
    FeedCreated,
    FeedEventOut,
    FeedOut,
    FeedPatch,
    Id,
)

router = APIRouter(tags=["feeds"])
Rt = Annotated[Runtime, Depends(runtime_of)]
READ = [Depends(require_read)]
ADMIN = [Depends(require_admin)]


@router.get("/feeds", dependencies=READ, response_model=list[FeedOut])
def list_feeds(rt: Rt) -> list[dict[str, object]]:
    """Watched feeds with their health (ok, failing, silent, paused) and polling state."""
    return [browse.feed_row(feed) for feed in catalog.list_feeds(rt)]


@router.post(
    "/feeds",
    dependencies=ADMIN,
    status_code=201,
    response_model=FeedCreated,
    responses=problem_responses(409, 422),
)
def add_feed(rt: Rt, body: FeedCreate) -> dict[str, object]:
    """Watch a feed. With ``check`` (the default) the URL is fetched once: a 404 or an
    unreachable host is refused, and a web page is searched for the feed it links to."""
    url, name, found = body.url, body.name, None
    if body.check:
        found = catalog.check_feed(rt, url)
        url, name = found.url, name or found.title
    feed = catalog.add_feed(rt, url, name, body.interval, backfill=body.backfill)
    return {
        "feed": browse.feed_row(feed),
        "discovered_from": found.discovered_from if found else None,
        "alternatives": list(found.alternatives) if found else [],
    }


@router.get("/feeds/{feed_id}", dependencies=READ, response_model=FeedOut)
def get_feed(rt: Rt, feed_id: Id) -> dict[str, object]:
    return browse.feed_row(catalog.resolve_feed(rt, str(feed_id)))


@router.patch(
    "/feeds/{feed_id}",
    dependencies=ADMIN,
    response_model=FeedOut,
    responses=problem_responses(409, 422),
)
def edit_feed(rt: Rt, feed_id: Id, body: FeedPatch) -> dict[str, object]:
    """Change a feed's name or interval (a feed from a feeds file is changed there: 409)."""
    return browse.feed_row(catalog.edit_feed(rt, str(feed_id), body.name, body.interval))


@router.post("/feeds/{feed_id}/pause", dependencies=ADMIN, response_model=FeedOut)
def pause_feed(rt: Rt, feed_id: Id) -> dict[str, object]:
    """Stop polling a feed (its articles and alerts stay)."""
    return browse.feed_row(catalog.pause_feed(rt, str(feed_id)))


@router.post("/feeds/{feed_id}/resume", dependencies=ADMIN, response_model=FeedOut)
def resume_feed(rt: Rt, feed_id: Id) -> dict[str, object]:
    """Poll a paused feed again, at once."""
    return browse.feed_row(catalog.resume_feed(rt, str(feed_id)))


@router.delete(
    "/feeds/{feed_id}", dependencies=ADMIN, status_code=204, responses=problem_responses(409)
)
def remove_feed(
    rt: Rt,
    feed_id: Id,
    force: Annotated[bool, Query(description="Also disable the rules scoped to it.")] = False,
) -> Response:
    """Stop watching a feed; one that rules are scoped to needs ``force`` (409 otherwise)."""
    catalog.remove_feed(rt, str(feed_id), force=force)
    return Response(status_code=204)


@router.get("/feed-events", dependencies=READ, response_model=list[FeedEventOut])
def feed_events(
    rt: Rt, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, object]]:
    """Feeds that started failing, went silent or recovered, newest first."""
    return [event.__dict__ for event in catalog.list_feed_events(rt, limit)]
