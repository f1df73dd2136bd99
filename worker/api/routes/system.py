"""/api/v1/counts and /api/v1/me."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from pipeline.runtime import Runtime
from pipeline.services import browse
from worker.api.auth import Principal, require_read, runtime_of
from worker.api.schemas import Counts, WhoAmI

router = APIRouter(tags=["system"])
Rt = Annotated[Runtime, Depends(runtime_of)]


@router.get("/counts", response_model=Counts, dependencies=[Depends(require_read)])
def counts(rt: Rt) -> dict[str, Any]:
    """Rows by state: feeds by health, rules, articles, stories, alerts, notifications."""
    return browse.counts(rt)


@router.get("/me", response_model=WhoAmI)
def whoami(principal: Annotated[Principal, Depends(require_read)]) -> dict[str, Any]:
    """The key (or dashboard session) this request was made with, and its scope."""
    return {"name": principal.name, "scope": principal.scope, "via": principal.via}
