"""/api/v1/alerts: the outbox, every delivery attempt, replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from pipeline.model import OutboxStatus
from pipeline.runtime import Runtime
from pipeline.services import browse, delivery, reports
from worker.api.auth import require_admin, require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import AlertOut, AlertPage, Id, Replayed

router = APIRouter(tags=["alerts"])
Rt = Annotated[Runtime, Depends(runtime_of)]


@router.get(
    "/alerts",
    dependencies=[Depends(require_read)],
    response_model=AlertPage,
    responses=problem_responses(422),
)
def list_alerts(
    rt: Rt,
    status: OutboxStatus | None = None,
    rule: Annotated[str | None, Query(max_length=200, description="Rule id or name.")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Alerts, newest first, filtered by status or rule."""
    page = browse.list_alerts(rt, limit, cursor, status, rule)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/alerts/{alert_id}", dependencies=[Depends(require_read)], response_model=AlertOut)
def get_alert(rt: Rt, alert_id: Id) -> dict[str, Any]:
    """One alert with its payload and every delivery attempt."""
    return reports.show_alert(rt, alert_id)


@router.post(
    "/alerts/{alert_id}/replay", dependencies=[Depends(require_admin)], response_model=Replayed
)
def replay_alert(rt: Rt, alert_id: Id) -> dict[str, Any]:
    """Send an alert again with the same webhook-id (receivers can drop the duplicate); the
    worker's next relay tick sends it."""
    delivery.replay_alerts(rt, [alert_id])
    return {
        "id": alert_id,
        "status": OutboxStatus.PENDING,
        "detail": "queued for the next relay tick",
    }
