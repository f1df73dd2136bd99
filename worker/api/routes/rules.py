"""/api/v1/rules: CRUD, trying a query, backtests, secret rotation, enable/disable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from pipeline.runtime import Runtime
from pipeline.services import browse, catalog, delivery
from worker.api.auth import require_admin, require_read, runtime_of
from worker.api.problems import problem_responses
from worker.api.schemas import (
    ArticlesTest,
    ArticlesTestResult,
    BacktestResult,
    Id,
    RotateSecret,
    RuleCreate,
    RuleOut,
    RulePatch,
    RuleSaved,
    TextTest,
    TextTestResult,
)

router = APIRouter(tags=["rules"])
Rt = Annotated[Runtime, Depends(runtime_of)]
READ = [Depends(require_read)]
ADMIN = [Depends(require_admin)]


def _warnings(query: str) -> list[str]:
    from pipeline.stages.match import query_warnings

    return list(query_warnings(query))


@router.get("/rules", dependencies=READ, response_model=list[RuleOut])
def list_rules(rt: Rt) -> list[dict[str, Any]]:
    """Saved rules (never their secrets)."""
    return [browse.rule_row(rule) for rule in catalog.list_rules(rt)]


@router.post(
    "/rules",
    dependencies=ADMIN,
    status_code=201,
    response_model=RuleSaved,
    responses=problem_responses(404, 409, 422),
)
def create_rule(rt: Rt, body: RuleCreate) -> dict[str, Any]:
    """Save a new rule; the query is checked first (422 with its position when invalid).
    The signing secret is in the answer when newswatch generated it, and never again."""
    rule = catalog.create_rule(
        rt,
        body.name,
        body.query,
        body.webhook_url,
        secret=body.secret,
        feed=body.feed,
        enabled=body.enabled,
        mode=body.mode,
        channels=list(body.channels),
    )
    return {
        "rule": browse.rule_row(rule),
        "secret": None if body.secret else rule.secret,
        "warnings": _warnings(rule.query),
    }


@router.post(
    "/rules/test",
    dependencies=READ,
    response_model=TextTestResult,
    responses=problem_responses(422),
)
def test_text(body: TextTest) -> dict[str, Any]:
    """Whether and why a text matches a query (figures, topics and places are extracted
    from it first)."""
    return browse.test_query_on_text(body.query, body.text, body.title, body.language)


@router.post(
    "/rules/test-articles",
    dependencies=READ,
    response_model=ArticlesTestResult,
    responses=problem_responses(404, 422),
)
def test_articles(rt: Rt, body: ArticlesTest) -> dict[str, Any]:
    """Try a query on stored articles: the ids given, or the newest ``last`` processed."""
    return browse.test_query_on_articles(rt, body.query, body.article_ids, body.last)


@router.get("/rules/{rule_id}", dependencies=READ, response_model=RuleOut)
def get_rule(rt: Rt, rule_id: Id) -> dict[str, Any]:
    return browse.show_rule(rt, str(rule_id))


@router.patch(
    "/rules/{rule_id}",
    dependencies=ADMIN,
    response_model=RuleSaved,
    responses=problem_responses(409, 422),
)
def edit_rule(rt: Rt, rule_id: Id, body: RulePatch) -> dict[str, Any]:
    """Change some fields; the others and the signing secret stay."""
    rule = catalog.edit_rule(
        rt,
        str(rule_id),
        query=body.query,
        webhook_url=body.webhook_url,
        feed=body.feed,
        mode=body.mode,
        channels=list(body.channels) if body.channels is not None else None,
    )
    return {"rule": browse.rule_row(rule), "secret": None, "warnings": _warnings(rule.query)}


@router.delete(
    "/rules/{rule_id}", dependencies=ADMIN, status_code=204, responses=problem_responses(409)
)
def remove_rule(rt: Rt, rule_id: Id) -> Response:
    catalog.remove_rule(rt, str(rule_id))
    return Response(status_code=204)


@router.post(
    "/rules/{rule_id}/enable",
    dependencies=ADMIN,
    response_model=RuleOut,
    responses=problem_responses(409),
)
def enable_rule(rt: Rt, rule_id: Id) -> dict[str, Any]:
    return browse.rule_row(catalog.enable_rule(rt, str(rule_id)))


@router.post(
    "/rules/{rule_id}/disable",
    dependencies=ADMIN,
    response_model=RuleOut,
    responses=problem_responses(409),
)
def disable_rule(rt: Rt, rule_id: Id) -> dict[str, Any]:
    """Stop matching (its alerts stay; deliveries already queued still go out)."""
    return browse.rule_row(catalog.disable_rule(rt, str(rule_id)))


@router.post(
    "/rules/{rule_id}/rotate-secret",
    dependencies=ADMIN,
    response_model=RuleSaved,
    responses=problem_responses(422),
)
def rotate_secret(rt: Rt, rule_id: Id, body: RotateSecret) -> dict[str, Any]:
    """Start a rotation (deliveries carry the new and the old signatures) or finish it."""
    rule = delivery.rotate_secret(rt, str(rule_id), body.secret, body.finish)
    return {"rule": browse.rule_row(rule), "secret": None if body.finish else rule.secret}


@router.get(
    "/rules/{rule_id}/backtest",
    dependencies=READ,
    response_model=BacktestResult,
    responses=problem_responses(422),
)
def backtest(
    rt: Rt,
    rule_id: Id,
    since: Annotated[
        str, Query(pattern=r"^[0-9]{1,7}[mhdwMHDW]$", description="30m, 12h, 7d, 2w")
    ] = "7d",
    samples: Annotated[int, Query(ge=0, le=200)] = 20,
) -> dict[str, Any]:
    """What the saved rule would have fired on among the articles stored in the period."""
    return browse.backtest(rt, str(rule_id), since, samples)
