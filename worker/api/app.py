"""The HTTP interface: the REST API under /api/v1, /healthz, /readyz and /metrics.

Built by ``create_app(settings)``; the dashboard mounts its pages on the same app and
reuses its auth (worker.api.auth). Routes are thin: each calls one pipeline.services
function and shapes its answer.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pipeline.runtime import Runtime
from pipeline.services import status
from pipeline.settings import Settings, get_settings
from worker.api import metrics
from worker.api.problems import install_problem_handlers, problem_responses
from worker.api.routes import alerts, articles, feeds, opml, rules, search, system

API_PREFIX = "/api/v1"

DESCRIPTION = """
newswatch watches news feeds, tags articles and sends signed alert webhooks. This API
drives it: feeds, rules, articles, stories, alerts and their deliveries.

**Auth**: every route under `/api/v1` needs `Authorization: Bearer <key>`; create a key
with `newswatch keys create NAME --scope read|admin`. A `read` key may call every GET (and
try queries); changes need an `admin` key. `/healthz`, `/readyz` and `/metrics` are open.

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`). **Pages** are newest first; pass `next_cursor` back as
`?cursor=` for the next page.
"""

# Every /api/v1 route may answer these.
COMMON_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422, 500, 502, 503)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime(settings=settings or get_settings())
    app = FastAPI(
        title="newswatch",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = rt
    app.state.session_resolver = None
    app.state.metrics_registry = metrics.build_registry(rt)
    install_problem_handlers(app)
    # Fixed paths before the ones with an {id}: /feeds/opml, /articles/search.
    routers = (opml.router, feeds.router, rules.router, search.router, articles.router)
    for router in (*routers, alerts.router, system.router):
        app.include_router(router, prefix=API_PREFIX, responses=COMMON_PROBLEMS)
    _add_health_routes(app)
    from worker.api.auth import set_session_resolver
    from worker.dashboard import resolve_session
    from worker.dashboard import router as dashboard_router

    app.include_router(dashboard_router)
    set_session_resolver(app, resolve_session)
    return app


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ready": True, "store": "ok", "broker": "ok"}]}
    )

    ready: bool
    store: str = Field(description='"ok", or why the store cannot be used')
    broker: str = Field(description='"ok", or why the broker cannot be reached')


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], response_model=dict[str, str])
    def healthz() -> dict[str, str]:
        """The process is up (no store or broker is consulted)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "The store or broker is unusable"}},
    )
    def readyz(request: Request) -> JSONResponse:
        """Ready when the store is reachable and migrated and the broker answers."""
        found = status.readiness(request.app.state.runtime)
        return JSONResponse(found, status_code=200 if found["ready"] else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
    )
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics: store and queue counts read at scrape time, and the
        workers' own counters and histograms (multiprocess mode)."""
        body = metrics.render(request.app.state.metrics_registry)
        return Response(body, media_type=metrics.CONTENT_TYPE)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newswatch")
    except PackageNotFoundError:
        return "0.0.0"
