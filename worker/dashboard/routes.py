"""The dashboard's pages: each route reads the session, calls one service function and
renders a template. Changes are POSTed forms (CSRF-checked) that redirect back with a
one-line message; htmx swaps in the live rule test and the backtest without a reload."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pipeline.errors import NewswatchError
from pipeline.model import FIGURE_CATEGORIES, OutboxStatus, RuleMode
from pipeline.runtime import Runtime
from worker.dashboard.session import (
    CsrfError,
    Session,
    authenticate,
    check_csrf,
    read_session,
    write_session,
)

PREFIX = "/dashboard"
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(prefix=PREFIX, figure_categories=FIGURE_CATEGORIES)
templates.env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def runtime(request: Request) -> Runtime:
    found = getattr(request.app.state, "runtime", None)
    if found is not None:
        return found
    from pipeline.runtime import get_runtime

    return get_runtime()


def _page(
    request: Request, session: Session, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.update(
        session=session,
        message=request.query_params.get("msg"),
        error=context.get("error") or request.query_params.get("error"),
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    write_session(response, session, runtime(request).settings, _secure(request))
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _back(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{PREFIX}{path}{'?' + query if query else ''}", status_code=303)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?{urlencode({'next': target})}", status_code=303)


def _session(request: Request) -> Session:
    return read_session(request, runtime(request).settings)


async def _change(
    request: Request, path: str, action: Callable[[Runtime, dict[str, Any]], str]
) -> Response:
    """A POSTed change: logged in as admin, CSRF token checked, then ``action`` runs and the
    browser goes back to ``path`` with its message (or the error, one line)."""
    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    form = await request.form()
    try:
        check_csrf(session, _str(form.get("csrf_token")) or request.headers.get("x-csrf-token"))
    except CsrfError as exc:
        return _back(path, error=str(exc))
    if not session.admin:
        return _back(path, error="your key has the read scope: changes need an admin key")
    try:
        message = action(runtime(request), dict(form))
    except NewswatchError as exc:
        return _back(path, error=str(exc))
    return _back(path, msg=message)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- login ---------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    session = _session(request)
    settings = runtime(request).settings
    return _page(
        request,
        session,
        "login.html",
        next=request.query_params.get("next") or f"{PREFIX}/feeds",
        user_login=bool(settings.dashboard_user),
    )


@router.post("/login")
async def login(request: Request) -> Response:
    session = _session(request)
    form = await request.form()
    target = _str(form.get("next"))
    if not target.startswith(f"{PREFIX}/"):
        target = f"{PREFIX}/feeds"  # never an open redirect
    try:
        check_csrf(session, _str(form.get("csrf_token")))
    except CsrfError as exc:
        return _back("/login", error=str(exc), next=target)
    found = authenticate(runtime(request), _str(form.get("user")), _str(form.get("secret")))
    if found is None:
        return _back("/login", error="wrong user, password or API key", next=target)
    who, scope = found
    response = RedirectResponse(target, status_code=303)
    # A fresh CSRF token at login, so a token seen before login is worth nothing after it.
    from secrets import token_urlsafe

    session = Session(who, scope, token_urlsafe(24))
    write_session(response, session, runtime(request).settings, _secure(request))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    try:
        check_csrf(_session(request), _str(form.get("csrf_token")))
    except CsrfError as exc:
        return _back("/feeds", error=str(exc))
    response = _back("/login", msg="logged out")
    response.delete_cookie("newswatch_session", path="/")
    return response


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home() -> Response:
    return _back("/feeds")


# --- feeds ---------------------------------------------------------------------------------


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request) -> Response:
    from pipeline.services import views

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    rows = views.feed_health(runtime(request))
    return _page(request, session, "feeds.html", feeds=rows)


@router.post("/feeds")
async def feeds_add(request: Request) -> Response:
    def add(rt: Runtime, form: dict[str, Any]) -> str:
        from pipeline.services import catalog

        url, name = _str(form.get("url")), _str(form.get("name"))
        interval = int(_str(form.get("interval")) or 0) or None
        if not url:
            from pipeline.errors import ConfigError

            raise ConfigError("give the feed's URL (or a web page that links to it)")
        if form.get("no_check"):
            feed = catalog.add_feed(rt, url, name, interval)
            return f"watching feed {feed.id}: {feed.name or feed.url} (not checked)"
        checked = catalog.check_feed(rt, url)
        feed = catalog.add_feed(rt, checked.url, name or checked.title, interval)
        found = f" (found on {checked.discovered_from})" if checked.discovered_from else ""
        entries = f"{checked.entries} {'entry' if checked.entries == 1 else 'entries'}"
        return f"watching feed {feed.id}: {feed.name or feed.url}{found}, {entries}"

    return await _change(request, "/feeds", add)


@router.post("/feeds/opml")
async def feeds_opml(request: Request) -> Response:
    form = await request.form()
    upload = form.get("file")
    body = await upload.read() if upload is not None and hasattr(upload, "read") else b""

    def do_import(rt: Runtime, _: dict[str, Any]) -> str:
        from pipeline.errors import ConfigError
        from pipeline.services.opml import import_opml

        if not body:
            raise ConfigError("choose an OPML file to import")
        report = import_opml(rt, body, check=not form.get("no_check"))
        refused = "".join(f"; {outline.describe()}" for outline in report.refused[:3])
        return (
            f"OPML imported: {len(report.added)} feeds added, {len(report.known)} already "
            f"watched, {len(report.refused)} refused{refused}"
        )

    return await _change(request, "/feeds", do_import)


@router.get("/feeds/opml")
def feeds_opml_export(request: Request) -> Response:
    from pipeline.services.opml import export_opml

    if not _session(request).logged_in:
        return _login_redirect(request)
    return Response(
        export_opml(runtime(request)),
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="newswatch-feeds.opml"'},
    )


@router.post("/feeds/{feed_id}/{action}")
async def feeds_action(request: Request, feed_id: int, action: str) -> Response:
    def act(rt: Runtime, _: dict[str, Any]) -> str:
        from pipeline.services import catalog

        if action == "pause":
            return f"feed {catalog.pause_feed(rt, str(feed_id)).id} paused"
        if action == "resume":
            return f"feed {catalog.resume_feed(rt, str(feed_id)).id} resumed"
        if action == "remove":
            return f"feed {catalog.remove_feed(rt, str(feed_id)).id} removed"
        from pipeline.errors import NotFoundError

        raise NotFoundError(f"no feed action {action!r}")

    return await _change(request, "/feeds", act)


# --- rules ---------------------------------------------------------------------------------


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request) -> Response:
    from pipeline.services import catalog, views

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    rt = runtime(request)
    rules = catalog.list_rules(rt)
    editing = next((r for r in rules if r.name == request.query_params.get("edit")), None)
    return _page(
        request,
        session,
        "rules.html",
        rules=rules,
        editing=editing,
        modes=list(RuleMode),
        feeds=views.feed_health(rt),
        test_limit=rt.settings.dashboard_test_articles,
    )


@router.post("/rules")
async def rules_save(request: Request) -> Response:
    def save(rt: Runtime, form: dict[str, Any]) -> str:
        from pipeline.services import catalog

        channels = [line.strip() for line in _str(form.get("channels")).splitlines()]
        if form.get("edit"):
            # Only the fields of the form change: the rule stays enabled or disabled.
            rule = catalog.edit_rule(
                rt,
                _str(form.get("name")),
                query=_str(form.get("query")),
                webhook_url=_str(form.get("webhook")),
                feed=_str(form.get("feed")),
                mode=_str(form.get("mode")) or RuleMode.IMMEDIATE,
                channels=[c for c in channels if c],
            )
            return f"rule {rule.name!r} saved"
        rule = catalog.add_rule(
            rt,
            _str(form.get("name")),
            _str(form.get("query")),
            _str(form.get("webhook")),
            _str(form.get("secret")) or None,
            feed=_str(form.get("feed")) or None,
            mode=_str(form.get("mode")) or RuleMode.IMMEDIATE,
            channels=[c for c in channels if c],
        )
        return f"rule {rule.name!r} saved"

    return await _change(request, "/rules", save)


@router.post("/rules/test", response_class=HTMLResponse)
async def rules_test(request: Request) -> Response:
    """The live test (htmx, as you type): the query against the newest stored articles."""
    from pipeline.services import views

    session = _session(request)
    if not session.logged_in:
        return HTMLResponse("<p class=error>log in again</p>", status_code=401)
    form = await request.form()
    try:
        check_csrf(session, request.headers.get("x-csrf-token") or _str(form.get("csrf_token")))
    except CsrfError as exc:
        return HTMLResponse(f"<p class=error>{exc}</p>", status_code=403)
    query = _str(form.get("query"))
    result, error = None, None
    if query:
        try:
            result = views.test_query(runtime(request), query)
        except NewswatchError as exc:
            error = str(exc)
    return templates.TemplateResponse(
        request, "_rule_test.html", {"result": result, "error": error, "query": query}
    )


@router.get("/rules/{name}/backtest", response_class=HTMLResponse)
def rules_backtest(request: Request, name: str) -> Response:
    from pipeline.services import browse

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    since = request.query_params.get("since") or "7d"
    result, error = None, None
    try:
        result = browse.backtest(runtime(request), name, since, samples=50)
    except NewswatchError as exc:
        error = str(exc)
    return templates.TemplateResponse(
        request, "_backtest.html", {"result": result, "error": error, "since": since, "rule": name}
    )


@router.post("/rules/{name}/{action}")
async def rules_action(request: Request, name: str, action: str) -> Response:
    def act(rt: Runtime, _: dict[str, Any]) -> str:
        from pipeline.services import catalog

        if action == "enable":
            return f"rule {catalog.enable_rule(rt, name).name!r} enabled"
        if action == "disable":
            return f"rule {catalog.disable_rule(rt, name).name!r} disabled"
        if action == "remove":
            return f"rule {catalog.remove_rule(rt, name).name!r} removed"
        from pipeline.errors import NotFoundError

        raise NotFoundError(f"no rule action {action!r}")

    return await _change(request, "/rules", act)


# --- alerts --------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request) -> Response:
    from pipeline.services import catalog, views

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    rt = runtime(request)
    rule = request.query_params.get("rule") or None
    status = request.query_params.get("status") or None
    rows, error = [], None
    if status and status not in tuple(OutboxStatus):
        error, status = f"unknown status {status!r}", None
    try:
        rows = views.alerts_timeline(rt, rule, status)
    except NewswatchError as exc:
        error = str(exc)
    return _page(
        request,
        session,
        "alerts.html",
        alerts=rows,
        rules=catalog.list_rules(rt),
        statuses=list(OutboxStatus),
        rule=rule,
        status=status,
        error=error,
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: int) -> Response:
    from pipeline.services import reports

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    try:
        alert = reports.show_alert(runtime(request), alert_id)
    except NewswatchError as exc:
        return _page(request, session, "error.html", status_code=404, error=str(exc))
    payload = json.dumps(alert["payload"], indent=2, ensure_ascii=False)
    return _page(request, session, "alert.html", alert=alert, payload=payload)


@router.post("/alerts/{alert_id}/replay")
async def alert_replay(request: Request, alert_id: int) -> Response:
    def replay(rt: Runtime, _: dict[str, Any]) -> str:
        from pipeline.services import delivery

        if not delivery.replay_alerts(rt, [alert_id]):
            return f"alert {alert_id}: nothing to replay"
        return f"alert {alert_id} queued for replay (same webhook-id)"

    return await _change(request, f"/alerts/{alert_id}", replay)


# --- articles, places, status ----------------------------------------------------------------


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: int) -> Response:
    from pipeline.services import views

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    query = request.query_params.get("q") or None
    try:
        article = views.article_view(runtime(request), article_id, query)
    except NewswatchError as exc:
        status = 404 if "no article" in str(exc) else 422
        return _page(request, session, "error.html", status_code=status, error=str(exc))
    return _page(request, session, "article.html", article=article, query=query or "")


@router.get("/places", response_class=HTMLResponse)
def places_page(request: Request) -> Response:
    from pipeline.services import views

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    days_text = request.query_params.get("days") or "7"
    days = int(days_text) if days_text.isdigit() and 0 < int(days_text) <= 3650 else 7
    rows = views.articles_per_country(runtime(request), timedelta(days=days))
    counts = {row.numeric: {"n": row.articles, "name": row.name} for row in rows}
    return _page(
        request, session, "places.html", countries=rows, counts=json.dumps(counts), days=days
    )


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> Response:
    from pipeline.services import views
    from worker.api.metrics import task_queues

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    activity = views.activity(runtime(request), task_queues())
    return _page(request, session, "status.html", activity=activity)


@router.get("/articles/{article_id}/evidence")
def article_evidence(request: Request, article_id: int) -> Response:
    """The page kept when the article raised an alert, as the .warc.gz file."""
    from pipeline.services.evidence import evidence_for_article

    session = _session(request)
    if not session.logged_in:
        return _login_redirect(request)
    try:
        found = evidence_for_article(runtime(request), article_id)
    except NewswatchError as exc:
        return _page(request, session, "error.html", status_code=404, error=str(exc))
    return Response(
        found.data,
        media_type="application/warc",
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "X-Content-SHA256": found.sha256,
        },
    )


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    """Vendored and own assets, from the package (no CDN: the dashboard works offline)."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "max-age=3600"})
