"""/api/v1/feeds/opml: every feed as OPML, and an OPML file's feeds watched."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from pipeline.errors import ConfigError
from pipeline.runtime import Runtime
from pipeline.services import opml
from worker.api.auth import require_admin, require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import OpmlImport

router = APIRouter(tags=["feeds"])
Rt = Annotated[Runtime, Depends(runtime_of)]
OPML_TYPE = "text/x-opml"
MAX_OPML_BYTES = 5_000_000


@router.get(
    "/feeds/opml",
    dependencies=[Depends(require_read)],
    response_class=Response,
    responses={200: {"content": {OPML_TYPE: {}}, "description": "An OPML 2.0 file"}},
)
def export_opml(rt: Rt) -> Response:
    """Every watched feed (paused ones too), in its folders, as OPML 2.0."""
    return Response(
        opml.export_opml(rt),
        media_type=OPML_TYPE,
        headers={"Content-Disposition": 'attachment; filename="newswatch-feeds.opml"'},
    )


@router.post(
    "/feeds/opml",
    dependencies=[Depends(require_admin)],
    response_model=OpmlImport,
    responses=problem_responses(413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                OPML_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "text/xml": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_opml(
    request: Request,
    check: Annotated[bool, Query(description="GET each feed first, as POST /feeds does.")] = True,
) -> dict[str, Any]:
    """Watch every feed of an OPML file (the body), in its folders. Feeds already watched
    are listed as known; an outline that cannot be watched is refused with its reason."""
    from starlette.concurrency import run_in_threadpool

    data = await request.body()
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"an OPML file is at most {MAX_OPML_BYTES} bytes")
    rt: Runtime = request.app.state.runtime
    report = await run_in_threadpool(opml.import_opml, rt, data, check=check)
    return report.to_dict()
