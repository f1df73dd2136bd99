"""Errors as RFC 9457 problem details (``application/problem+json``), never a traceback.

newswatch's error hierarchy (pipeline.errors) maps onto HTTP statuses here, once; an
unexpected exception is logged with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.errors import (
    BlockedDestinationError,
    ConfigError,
    ConflictError,
    FetchError,
    NewswatchError,
    NotFoundError,
    StoreUnavailableError,
)

log = logging.getLogger("newswatch")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://newswatch.invalid/problems/"

# Most specific first: the first class the error is an instance of wins.
_STATUS_OF: tuple[tuple[type[NewswatchError], int, str], ...] = (
    (NotFoundError, 404, "not-found"),
    (ConflictError, 409, "conflict"),
    (StoreUnavailableError, 503, "store-unavailable"),
    (BlockedDestinationError, 422, "blocked-destination"),
    (ConfigError, 422, "invalid-input"),
    (FetchError, 502, "fetch-failed"),
)


class ValidationIssue(BaseModel):
    location: str = Field(description="Where: query.limit, body.url, path.feed_id, …")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "no feed '42' (give its id, URL or name)",
                    "instance": "/api/v1/feeds/42",
                }
            ]
        }
    )

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ValidationIssue] | None = Field(
        default=None, description="For invalid input: each field and what is wrong with it."
    )


def problem_response(
    request: Request,
    status: int,
    detail: str | None = None,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": _title(status),
        "status": status,
        "instance": request.url.path,
    }
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses, all shaped as Problem."""
    return {
        status: {
            "model": Problem,
            "description": _title(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(NewswatchError)
    async def _newswatch_error(request: Request, exc: NewswatchError) -> JSONResponse:
        for cls, status, kind in _STATUS_OF:
            if isinstance(exc, cls):
                return problem_response(request, status, str(exc), kind)
        # A StoreError that is neither busy nor a conflict: ours to fix, not the caller's.
        log.error("request %s failed: %s", request.url.path, exc, exc_info=exc)
        return problem_response(request, 500, "the store refused the request", "internal")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {
                "location": ".".join(str(part) for part in error.get("loc", ())),
                "message": str(error.get("msg", "invalid")),
            }
            for error in exc.errors()
        ]
        detail = "; ".join(f"{i['location']}: {i['message']}" for i in issues[:5])
        return problem_response(request, 422, detail, "invalid-input", issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, detail, None, headers=headers)

    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """The last line: an exception no handler took is logged with its traceback, and the
    client gets a generic 500 problem. (Starlette's own handler for ``Exception`` answers
    too, but then re-raises into the server, which logs the traceback a second time.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request = Request(scope)
            log.error(
                "request %s %s failed unexpectedly",
                request.method,
                request.url.path,
                exc_info=exc,
            )
            if started:
                raise  # half a response went out: the server can only drop the connection
            response = problem_response(
                request, 500, "newswatch could not answer this request; see its log", "internal"
            )
            await response(scope, receive, send)
