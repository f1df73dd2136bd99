"""The `newswatch` command line. Every command is a thin layer over pipeline.services.

User mistakes (bad URL, unknown feed, invalid YAML or query, unreachable broker or
database) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from typer._click import exceptions as typer_click_errors

from pipeline.errors import ConfigError, NewswatchError
from pipeline.model import ArticleState, FeedHealth, OutboxStatus, RuleMode

PROG = "newswatch"

app = typer.Typer(
    name=PROG,
    help="Watch news feeds, tag articles and send signed alert webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:  # a source checkout run without `pip install -e .`
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {_installed_version()}")
        raise typer.Exit(0)


class _LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.callback()
def _app_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
    log_format: Annotated[
        _LogFormat | None,
        typer.Option(
            "--log-format",
            help="Log lines as text or json (one object per line); overrides NEWSWATCH_LOG_FORMAT.",
        ),
    ] = None,
) -> None:
    """Options of `newswatch` itself (its help text is the one given to typer.Typer)."""
    if log_format is not None:
        # Through the environment, so worker processes started from here log the same way.
        os.environ["NEWSWATCH_LOG_FORMAT"] = log_format.value
        from pipeline.runtime import reset_runtime

        reset_runtime()


feeds_app = typer.Typer(help="Watched feeds.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts (the delivery outbox).", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
config_app = typer.Typer(help="Settings and the shipped config files.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
stories_app = typer.Typer(help="Stories: near-duplicate articles grouped.", no_args_is_help=True)
app.add_typer(stories_app, name="stories")
articles_app = typer.Typer(help="Articles and their processing state.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")
keys_app = typer.Typer(help="API keys for the HTTP API (`newswatch serve`).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _runtime() -> Any:
    from pipeline.runtime import get_runtime

    return get_runtime()


def _upgrade() -> None:
    from pipeline.services.schema import prepare_schema

    prepare_schema(_runtime())


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


# --- processes --------------------------------------------------------------------------


def _start_worker(spec: Any, supervised: bool) -> None:
    rt = _runtime()
    if not supervised:  # `newswatch run` migrated the store before starting its children
        _upgrade()
    _attach_broker(rt.settings)
    from worker.celery_app import app as celery_app

    if not supervised:  # `newswatch run` checked it once; a restarted child waits for it
        _check_broker(celery_app)
    argv = [
        "worker",
        f"--queues={','.join(queue.value for queue in spec.queues)}",
        f"--pool={spec.pool.value}",
        f"--concurrency={spec.concurrency}",
        f"--hostname={spec.name}@%h",
        f"--loglevel={rt.settings.log_level}",
        "--without-gossip",
        "--without-mingle",
    ]
    if rt.settings.log_level in ("WARNING", "ERROR", "CRITICAL"):
        argv.insert(0, "--quiet")  # a global option: it goes before the sub-command
    # Not worker_main(): it drops the worker's exit status, and a worker that stopped on an
    # "Unrecoverable error" would look to `run` and systemd like one that was asked to stop.
    sys.exit(celery_app.start(argv))


def _attach_broker(settings: Any) -> None:
    """Start or reuse the embedded Redis server when no broker URL is set (it stops when
    the last newswatch process using it exits: see pipeline/io/embedded_redis.py)."""
    if settings.uses_embedded_broker:
        from pipeline.io.embedded_redis import attach_process

        attach_process(settings.data_dir, settings.embedded_redis_server)


def _check_broker(celery_app: Any) -> None:
    from pipeline.settings import mask_password

    url = celery_app.conf.broker_url
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # kombu raises many types; the user needs one line
        raise ConfigError(f"cannot reach the broker at {mask_password(url)}: {exc}") from exc


_SUPERVISED = typer.Option("--supervised", hidden=True, help="Started by `newswatch run`.")


@app.command()
def run(
    concurrency: Annotated[
        int | None, typer.Option(help="Extract worker processes (CPU-bound work).")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also run the HTTP API and dashboard (`serve`).")
    ] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --serve: port to listen on.")] = 8000,
) -> None:
    """The main job: the whole worker layout and beat, as child processes of this one.

    One worker for beat ticks and deliveries, one for feed polls and page fetches (threads),
    one for extraction (processes), and beat; the same split as production.
    """
    rt = _runtime()
    _sync_files()
    _attach_broker(rt.settings)
    _prepare_metrics_dir(rt)  # before worker.tasks: it installs the metrics sink on import
    import worker.tasks  # noqa: F401  (once here: the forked children share the imports)
    from worker.celery_app import app as celery_app

    # Once, here, as one line: the children do not check it, so that one restarted while
    # the broker is down waits for it (Celery retries) instead of exiting at once.
    _check_broker(celery_app)
    from worker.layout import run_layout
    from worker.logs import configure_logging
    from worker.supervisor import supervise

    # The supervisor's own lines (a child started, exited, restarted) in the children's
    # format and level; unconfigured, INFO lines were dropped and the rest had no time.
    configure_logging(rt.settings.log_level, rt.settings.log_format)
    children: list[tuple[str, Any]] = [
        (spec.name, functools.partial(_start_worker, spec, True))
        for spec in run_layout(rt.settings, concurrency)
    ]
    children.append(("beat", functools.partial(beat, supervised=True)))
    if serve:
        _check_port_free(host, port)
        children.append(("api", functools.partial(serve_http, host, port, supervised=True)))
    raise typer.Exit(supervise(children))


def _prepare_metrics_dir(rt: Any) -> None:
    """The children's Prometheus files (multiprocess mode), read by `--serve`'s /metrics.
    Left to the user when NEWSWATCH_METRICS_DIR or PROMETHEUS_MULTIPROC_DIR is set; else
    <data_dir>/metrics, emptied first: a previous run's files would count twice."""
    if rt.settings.metrics_dir is not None or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from pipeline.io.files import ensure_writable_dir

    folder = ensure_writable_dir(rt.settings.data_dir / "metrics", "metrics directory")
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@app.command()
def worker(
    queues: Annotated[
        str,
        typer.Option(
            help="Comma-separated queues, served in this order: tick (beat ticks), deliver "
            "(webhooks, notifications), poll (feeds), fetch (pages), extract."
        ),
    ] = "tick,deliver,poll,fetch,extract",
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Threads (I/O queues) or processes (extract); default from the settings."
        ),
    ] = None,
    pool: Annotated[
        str,
        typer.Option(help="auto (threads for I/O queues, prefork with extract), threads, prefork."),
    ] = "auto",
    name: Annotated[str, typer.Option(help="Celery node name: NAME@host.")] = "celery",
    supervised: Annotated[bool, _SUPERVISED] = False,
) -> None:
    """A worker only (run one beat elsewhere)."""
    from worker.layout import Pool, parse_queues, worker_spec

    rt = _runtime()
    try:
        chosen_pool = Pool(pool)
    except ValueError:
        raise ConfigError(f"unknown pool {pool!r}: use auto, threads or prefork") from None
    spec = worker_spec(parse_queues(queues), rt.settings, chosen_pool, concurrency, name)
    _start_worker(spec, supervised)


@app.command()
def beat(supervised: Annotated[bool, _SUPERVISED] = False) -> None:
    """The scheduler only (run exactly one): claims due feeds, re-sends due alerts.

    It also syncs config/feeds.yaml and config/rules.yaml into the store at start.
    """
    rt = _runtime()
    if not supervised:  # `newswatch run` synced before starting its children
        _sync_files()
    _attach_broker(rt.settings)
    from worker.celery_app import app as celery_app

    if not supervised:
        _check_broker(celery_app)
    schedule = _beat_schedule(rt)
    sys.exit(
        celery_app.start(["beat", f"--loglevel={rt.settings.log_level}", f"--schedule={schedule}"])
    )


def _beat_schedule(rt: Any) -> Path:
    """Beat keeps its schedule in the data directory, which may not exist yet (a first
    start with Redis and PostgreSQL creates nothing else there)."""
    from pipeline.io.files import ensure_writable_dir

    return ensure_writable_dir(rt.settings.data_dir, "data directory") / "beat-schedule"


@app.command("serve")
def serve_http(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    supervised: Annotated[bool, _SUPERVISED] = False,
) -> None:
    """The HTTP interface: REST API under /api/v1 (OpenAPI at /openapi.json), /metrics,
    /healthz and /readyz. API calls need a key: `newswatch keys create`."""
    rt = _runtime()
    if not supervised:
        _upgrade()
        _check_port_free(host, port)
    # FastAPI and uvicorn are imported here only: the other commands never pay for them.
    import uvicorn

    from worker.api import create_app

    typer.echo(f"newswatch API on http://{_url_host(host)}:{port}/ (docs at /docs)", err=True)
    uvicorn.run(
        create_app(rt.settings, runtime=rt),
        host=host,
        port=port,
        log_level=rt.settings.log_level.lower(),
        log_config=None,  # newswatch's own logging stays in charge
        access_log=False,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_port_free(host: str, port: int) -> None:
    """A port in use is one line before anything starts, not a server's traceback."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror or exc}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError(f"cannot listen on {_url_host(host)}:{port}: {reason}") from exc


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[str, typer.Option(help="read (every GET) or admin (also changes).")] = "read",
) -> None:
    """Create an API key; the key is printed once and only its hash is stored."""
    from pipeline.services import keys

    _upgrade()
    key_id, token = keys.create_key(_runtime(), name, scope)
    typer.echo(token)
    typer.echo(
        f"key {key_id} ({scope}) for {name!r}: shown once, store it now "
        "(send it as Authorization: Bearer …)",
        err=True,
    )


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """API keys (their first characters, never the keys)."""
    from pipeline.services import keys

    _upgrade()
    for key in keys.list_keys(_runtime()):
        if as_json:
            _echo_json({**key.__dict__, "active": key.active})
            continue
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.name}\t{key.scope}\t{key.prefix}…\t{state}\tlast used {used}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `keys list`).")],
) -> None:
    """Revoke an API key at once."""
    from pipeline.services import keys

    _upgrade()
    key = keys.revoke_key(_runtime(), key_id)
    typer.echo(f"key {key.id} ({key.name}) revoked")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema."""
    from pipeline.services.schema import upgrade_schema

    applied = upgrade_schema(_runtime())
    if applied:
        typer.echo(f"applied migrations {', '.join(applied)} to {_masked_store_url()}")
    typer.echo(f"database is up to date: {_masked_store_url()}")


def _masked_store_url() -> str:
    from pipeline.settings import mask_password

    return mask_password(_runtime().store_url)


# --- config -----------------------------------------------------------------------------


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings (secrets masked)."""
    _echo_json(_runtime().settings.redacted())


@config_app.command("sync")
def sync_config() -> None:
    """Keep the store in step with the feeds and rules files named in the settings
    (NEWSWATCH_FEEDS_FILE, NEWSWATCH_RULES_FILE). Hand-made feeds and rules are never
    changed; a clash with one, or a notify target Apprise cannot use, is an error line, the
    rest is synced, and the exit status is 2."""
    if _sync_files():
        raise typer.Exit(2)


def _sync_files() -> int:
    """Sync (run, beat and `config sync` call this); returns the number of error lines
    (clashes, refused notify targets): what they name was skipped, the rest synced."""
    from pipeline.services import catalog

    rt = _runtime()
    _upgrade()
    report = catalog.sync_config_files(rt)
    for line in report.released:
        typer.echo(f"newswatch: {line}", err=True)
    for line in report.clashes + report.refused:
        typer.echo(f"newswatch: error: {line}", err=True)
    files = [str(f) for f in (rt.settings.feeds_file, rt.settings.rules_file) if f]
    if files:
        typer.echo(
            f"synced {report.feeds} feeds and {report.rules} rules from {', '.join(files)}",
            err=True,
        )
    return len(report.clashes) + len(report.refused)


# --- feeds ------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Annotated[str, typer.Option(help="A label for the feed.")] = "",
    interval: Annotated[int | None, typer.Option(min=30, help="Seconds between polls.")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="GET the URL once first: refuse a 404 or an unreachable host, and find the "
            "feed a web page links to.",
        ),
    ] = True,
    update: Annotated[
        bool, typer.Option("--update", help="Change the name or interval of a watched URL.")
    ] = False,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="Alert on the entries already in the feed too (by default the first poll's "
            "backlog is stored and searchable but raises no alerts).",
        ),
    ] = False,
) -> None:
    """Watch a feed (RSS, Atom or JSON Feed, or a web page that links to one)."""
    from pipeline.services import catalog

    _upgrade()
    rt = _runtime()
    if check:
        found = catalog.check_feed(rt, url)
        if found.discovered_from:
            typer.echo(f"{url} is a web page; it links to the feed {found.url}", err=True)
            for other in found.alternatives:
                typer.echo(f"  it also links to {other}", err=True)
        url, name = found.url, name or found.title
    feed = catalog.add_feed(rt, url, name, interval, update=update, backfill=backfill)
    typer.echo(f"feed {feed.id}: {feed.url} every {feed.interval_seconds}s")


@feeds_app.command("edit")
def feeds_edit(
    feed: str,
    name: Annotated[str | None, typer.Option(help="A new label.")] = None,
    interval: Annotated[int | None, typer.Option(min=30, help="Seconds between polls.")] = None,
) -> None:
    """Change a feed's name or interval (by id, URL or name)."""
    from pipeline.services import catalog

    _upgrade()
    edited = catalog.edit_feed(_runtime(), feed, name, interval)
    typer.echo(f"feed {edited.id}: {edited.name or '-'} every {edited.interval_seconds}s")


@feeds_app.command("pause")
def feeds_pause(feed: str) -> None:
    """Stop polling a feed for now (its articles and alerts stay)."""
    from pipeline.services import catalog

    _upgrade()
    paused = catalog.pause_feed(_runtime(), feed)
    typer.echo(f"feed {paused.id} paused: {paused.url}")


@feeds_app.command("resume")
def feeds_resume(feed: str) -> None:
    """Poll a paused feed again, from now."""
    from pipeline.services import catalog

    _upgrade()
    resumed = catalog.resume_feed(_runtime(), feed)
    typer.echo(f"feed {resumed.id} resumed: {resumed.url}")


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Watched feeds with their health (ok, failing, silent, paused) and polling state."""
    from pipeline.services import catalog

    _upgrade()
    feeds = catalog.list_feeds(_runtime())
    if as_json:
        for feed in feeds:
            row = feed.model_dump(exclude={"etag"})
            row["health"] = _health(feed)
            _echo_json(row)
        return
    for feed in feeds:
        health = _health(feed)
        detail = f" ({feed.last_error})" if feed.last_error and health != FeedHealth.PAUSED else ""
        last = f"{feed.last_new_entry_at:%Y-%m-%d %H:%M}" if feed.last_new_entry_at else "never"
        typer.echo(
            f"{feed.id}\t{feed.name or '-'}\t{feed.url}\t{health}{detail}\t"
            f"errors={feed.error_count}\tlast new entry {last}\tevery {feed.interval_seconds}s"
            f"\tnext {feed.next_poll_at:%Y-%m-%d %H:%M:%S}"
        )


def _health(feed: Any) -> FeedHealth:
    return FeedHealth.PAUSED if not feed.enabled else FeedHealth(feed.health)


@feeds_app.command("events")
def feeds_events(
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Feeds that started failing, went silent or recovered, newest first."""
    from pipeline.services import catalog

    _upgrade()
    for event in catalog.list_feed_events(_runtime(), limit):
        if as_json:
            _echo_json(event.__dict__)
        else:
            typer.echo(
                f"{event.created_at:%Y-%m-%d %H:%M:%S}\t{event.kind}\tfeed {event.feed_id} "
                f"({event.feed})\t{event.previous} -> {event.health}\t{event.reason or ''}"
            )


@feeds_app.command("import")
def feeds_import(
    file: Annotated[str, typer.Argument(help="An OPML file exported by a feed reader, or -.")],
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="GET each URL first, as `feeds add` does (refuse dead ones, find the feed "
            "a web page links to).",
        ),
    ] = True,
) -> None:
    """Watch every feed of an OPML file; each outline refused is named with the reason."""
    from pipeline.services import opml

    _upgrade()
    report = opml.import_opml(_runtime(), _read_source(file), check=check)
    for added in report.added:
        folder = f"\t[{' / '.join(added.folder)}]" if added.folder else ""
        typer.echo(f"added feed {added.id}: {added.url}\t{added.name or '-'}{folder}")
    for known in report.known:
        typer.echo(f"already watched: {known.url}" + (f" (feed {known.id})" if known.id else ""))
    for refused in report.refused:
        typer.echo(f"newswatch: refused {_one_line(refused.describe())}", err=True)
    typer.echo(
        f"{len(report.added)} feeds added, {len(report.known)} already watched, "
        f"{len(report.refused)} refused",
        err=True,
    )
    if report.refused:
        raise typer.Exit(1)


@feeds_app.command("export")
def feeds_export() -> None:
    """Every watched feed as an OPML 2.0 file on stdout (folders kept)."""
    from pipeline.services import opml

    _upgrade()
    sys.stdout.buffer.write(opml.export_opml(_runtime()))
    sys.stdout.flush()


@feeds_app.command("remove")
def feeds_remove(
    feed: str,
    force: Annotated[
        bool, typer.Option("--force", help="Also disable the rules scoped to this feed.")
    ] = False,
) -> None:
    """Stop watching a feed (by id, URL or name)."""
    from pipeline.services import catalog

    _upgrade()
    removed = catalog.remove_feed(_runtime(), feed, force=force)
    typer.echo(f"removed feed {removed.id}: {removed.url}")


@app.command()
def poll(
    feed: str,
    deliver: Annotated[bool, typer.Option(help="Also send the alerts now.")] = False,
) -> None:
    """Poll one feed now, synchronously: fetch, clean, extract and match its new articles."""
    from pipeline.model import PollStatus
    from pipeline.services import polling

    _upgrade()
    report = polling.poll_feed_now(_runtime(), feed, deliver=deliver)
    poll = report.poll
    if poll.status == PollStatus.ERROR:
        typer.echo(f"feed {report.feed_id}: poll failed: {poll.error}")
        raise typer.Exit(1)
    if poll.status == PollStatus.DEFERRED:  # its host is blocked (Retry-After): nothing sent
        typer.echo(f"feed {report.feed_id}: not polled now: {poll.error}")
        raise typer.Exit(1)
    typer.echo(
        f"feed {report.feed_id}: {poll.status}, {poll.entries} entries, "
        f"{len(poll.new_article_ids)} new articles"
        + (f" (feed is malformed: {poll.problem})" if poll.problem else "")
    )
    for outcome in report.articles:
        typer.echo(
            f"  article {outcome.article_id}: {outcome.fetch_status}, "
            f"alerts {outcome.alert_ids or '-'}"
        )
        for alert_id, status in outcome.deliveries.items():
            typer.echo(f"    alert {alert_id}: {status}")


# --- rules ------------------------------------------------------------------------------


@rules_app.command("add")
def rules_add(
    name: str,
    query: str,
    webhook: Annotated[str, typer.Option(help="URL that receives the signed alerts.")],
    secret: Annotated[
        str | None, typer.Option(help="whsec_… signing secret (generated if omitted).")
    ] = None,
    feed: Annotated[str | None, typer.Option(help="Only match articles of this feed.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Save it switched off.")] = False,
    mode: Annotated[
        str, typer.Option(help="immediate, or hourly/daily: one digest message per period.")
    ] = RuleMode.IMMEDIATE.value,
    notify: Annotated[
        list[str] | None,
        typer.Option(help="Apprise URL of a channel for people (slack://…, mailto://…); repeat."),
    ] = None,
) -> None:
    """Save a rule (replaces a rule of the same name). The query is checked first."""
    from pipeline.services import catalog

    _upgrade()
    rule = catalog.add_rule(
        _runtime(), name, query, webhook, secret, feed, not disabled, mode, list(notify or [])
    )
    typer.echo(f"rule {rule.id}: {rule.name!r} -> {rule.webhook_url}")
    if not secret:
        typer.echo(f"signing secret: {rule.secret}")
    _warn_about(rule.query)


@app.command()
def init(
    webhook: Annotated[
        str, typer.Option(help="Your receiver: the sample rules send their alerts here.")
    ],
    secret: Annotated[
        str | None, typer.Option(help="whsec_… signing secret (generated if omitted).")
    ] = None,
) -> None:
    """Create the store and the sample rules (ceasefire, evacuation), pointed at your webhook.

    A fresh install has no rules and sends nowhere until you add rules (or run this)."""
    from pipeline.services import catalog

    _upgrade()
    added = catalog.add_sample_rules(_runtime(), webhook, secret)
    for rule in added:
        typer.echo(f"rule {rule.id}: {rule.name!r} {rule.query!r} -> {rule.webhook_url}")
    if added and not secret:
        typer.echo(f"signing secret: {added[0].secret}")
    if not added:
        typer.echo("the sample rules exist already; nothing changed", err=True)


@rules_app.command("list")
def rules_list(
    show_secrets: Annotated[bool, typer.Option("--show-secrets")] = False,
) -> None:
    """Saved rules."""
    from pipeline.services import catalog

    _upgrade()
    for rule in catalog.list_rules(_runtime()):
        secret = rule.secret if show_secrets else "whsec_****"
        scope = f"feed {rule.feed_id}" if rule.feed_id else "all feeds"
        state = "enabled" if rule.enabled else "disabled"
        if rule.disabled_at is not None:
            since = f"{rule.disabled_at:%Y-%m-%d %H:%M}"
            state += f", endpoint DISABLED since {since} ({rule.disabled_reason})"
        elif rule.consecutive_failures:
            state += f", {rule.consecutive_failures} failed deliveries in a row"
        channels = f"+{len(rule.channels)} channels" if rule.channels else "webhook only"
        state += f", from {rule.origin}"
        typer.echo(
            f"{rule.id}\t{rule.name}\t{rule.query}\t{rule.webhook_url}\t{channels}\t"
            f"{rule.mode}\t{scope}\t{state}\t{secret}"
        )


@rules_app.command("remove")
def rules_remove(rule: str) -> None:
    """Delete a rule (by id or name)."""
    from pipeline.services import catalog

    _upgrade()
    removed = catalog.remove_rule(_runtime(), rule)
    typer.echo(f"removed rule {removed.id}: {removed.name}")


@rules_app.command("edit")
def rules_edit(
    rule: str,
    query: Annotated[str | None, typer.Option(help="A new query (checked first).")] = None,
    webhook: Annotated[str | None, typer.Option(help="A new webhook URL.")] = None,
    feed: Annotated[
        str | None, typer.Option(help="Only this feed (id, URL or name); '' for all feeds.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="immediate, hourly or daily.")] = None,
    notify: Annotated[
        list[str] | None, typer.Option(help="Apprise URLs replacing the rule's channels.")
    ] = None,
) -> None:
    """Change some fields of a rule; the others and its signing secret stay."""
    from pipeline.services import catalog

    _upgrade()
    edited = catalog.edit_rule(
        _runtime(),
        rule,
        query=query,
        webhook_url=webhook,
        feed=feed,
        mode=mode,
        channels=list(notify) if notify is not None else None,
    )
    typer.echo(f"rule {edited.id}: {edited.name!r} {edited.query!r} -> {edited.webhook_url}")
    _warn_about(edited.query)


@rules_app.command("enable")
def rules_enable(rule: str) -> None:
    """Match a disabled rule again."""
    from pipeline.services import catalog

    _upgrade()
    enabled = catalog.enable_rule(_runtime(), rule)
    typer.echo(f"rule {enabled.id}: {enabled.name!r} enabled")


@rules_app.command("disable")
def rules_disable(rule: str) -> None:
    """Stop matching a rule (its alerts stay; deliveries already queued still go out)."""
    from pipeline.services import catalog

    _upgrade()
    disabled = catalog.disable_rule(_runtime(), rule)
    typer.echo(f"rule {disabled.id}: {disabled.name!r} disabled")


def _warn_about(query: str) -> None:
    """Warnings about a saved query (lowercase and/or/not read as words, …) on stderr."""
    from pipeline.stages.match import query_warnings

    for warning in query_warnings(query):
        typer.echo(f"newswatch: warning: {warning}", err=True)


@rules_app.command("test")
def rules_test(
    query: Annotated[str | None, typer.Argument(help="The query to try.")] = None,
    source: Annotated[str | None, typer.Argument(help="Article file (HTML or text) or -.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Batch mode on stdin.")] = False,
) -> None:
    """Show whether and why an article matches a query (or batch-test JSON lines)."""
    from pipeline.services.reports import explain_match, test_rules_jsonl

    topics_file = _runtime().settings.topics_file
    if jsonl:
        for line in test_rules_jsonl(sys.stdin, topics_file):
            sys.stdout.write(line.rstrip("\n") + "\n")
        return
    if query is None:
        raise ConfigError("give a QUERY (and an article FILE or -), or use --jsonl")
    document = _read_source(source or "-")
    result = explain_match(query, document, topics_file)
    _echo_json(result)
    if not result["matched"]:
        raise typer.Exit(1)


@rules_app.command("backtest")
def rules_backtest(
    rule: str,
    since: Annotated[str, typer.Option(help="Period to look back: 30m, 12h, 7d, 2w.")] = "7d",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a saved rule over stored articles and show what would have fired."""
    from pipeline.services import reports

    rt = _runtime()
    _upgrade()
    period = _parse_period(since)
    total = reports.count_backtest_articles(rt, rule, period)
    with typer.progressbar(length=total, label="matching", file=sys.stderr) as bar:
        fired = reports.backtest_rule(rt, rule, period, progress=bar.update)
    for row in fired:
        if as_json:
            _echo_json(row)
        else:
            sentence = row["hits"][0]["sentence"] if row["hits"] else ""
            typer.echo(f"{row['article_id']}\t{row['title']}\n    \u201c{sentence}\u201d")
    typer.echo(f"{len(fired)} articles would have fired in the last {since}", err=True)


def _parse_period(text: str) -> Any:
    from datetime import timedelta

    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit():
        raise ConfigError(f"invalid period {text!r}: use a number and m, h, d or w (e.g. 7d)")
    period = timedelta(**{units[unit]: min(int(number), 10**6)})
    return min(period, timedelta(days=36500))


# --- alerts -----------------------------------------------------------------------------


@alerts_app.command("list")
def alerts_list(
    status: Annotated[OutboxStatus | None, typer.Option(help="Only alerts in this state.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Dead-lettered alerts only (same as --status dead).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent alerts and their delivery state (dead ones show their last error)."""
    from pipeline.services import reports

    _upgrade()
    rt = _runtime()
    chosen = OutboxStatus.DEAD if failed else status
    rows = reports.list_alerts(rt, chosen, limit)
    for row in rows:
        if as_json:
            _echo_json(row)
        else:
            error = f"\t{row['last_error']}" if row["last_error"] else ""
            typer.echo(
                f"{row['id']}\t{row['status']}\tattempts={row['attempts']}\t{row['rule']}\t"
                f"{row['article']}{error}"
            )
    total = reports.count_alerts(rt, chosen)
    if total > len(rows):
        typer.echo(
            f"showing the newest {len(rows)} of {total} alerts; use --limit {total} for all",
            err=True,
        )


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (see `alerts list`).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One alert with every delivery attempt."""
    from pipeline.services import reports

    _upgrade()
    alert = reports.show_alert(_runtime(), alert_id)
    if as_json:
        _echo_json(alert)
        return
    typer.echo(
        f"alert {alert['id']} ({alert['kind']}): {alert['status']}, rule {alert['rule']!r}, "
        f"webhook-id {alert['webhook_id']}"
    )
    typer.echo(f"  article {alert['article']['id']}: {alert['article']['title']}")
    typer.echo(f"  {alert['article']['url']}")
    if alert["last_error"]:
        typer.echo(f"  last error: {alert['last_error']}")
    for attempt in alert["deliveries"]:
        outcome = attempt["error"] or f"HTTP {attempt['status_code']}"
        typer.echo(f"  {attempt['at']}\t{attempt['to']}\t{outcome}\t{attempt['duration_ms']} ms")
    if not alert["deliveries"]:
        typer.echo("  no delivery attempt yet")


@articles_app.command("list")
def articles_list(
    state: Annotated[ArticleState | None, typer.Option(help="Only articles in this state.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Failed articles only (same as --state failed).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent articles: pending, processed, or failed (with why processing gave up)."""
    from pipeline.services import reports

    _upgrade()
    chosen = ArticleState.FAILED if failed else state
    for row in reports.list_articles(_runtime(), chosen, limit):
        if as_json:
            _echo_json(row)
            continue
        error = f"\t{row['error']}" if row["state"] == ArticleState.FAILED else ""
        typer.echo(f"{row['id']}\t{row['state']}\t{row['title'] or '-'}\t{row['url']}{error}")


@articles_app.command("search")
def articles_search(
    query: Annotated[
        str | None, typer.Argument(help="A rule query (e.g. 'ceasefire AND killed:>=10').")
    ] = None,
    feed: Annotated[str | None, typer.Option(help="Only this feed (id, URL or name).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Published since: a period (7d, 12h) or a date.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Published before: a period or a date.")] = None,
    topic: Annotated[str | None, typer.Option(help="An IPTC topic (code or label).")] = None,
    place: Annotated[str | None, typer.Option(help="A place or country.")] = None,
    figure: Annotated[
        list[str] | None, typer.Option(help="A figure threshold such as killed:>=10; repeat.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stored articles a rule with this query would match, newest first."""
    from pipeline.services.search import search_articles

    _upgrade()
    rt = _runtime()
    page = search_articles(
        rt,
        query,
        feed=feed,
        since=_parse_when(rt, since, "--since"),
        until=_parse_when(rt, until, "--until"),
        topic=topic,
        place=place,
        figures=list(figure or []),
        cursor=cursor,
        limit=limit,
    )
    for item in page.items:
        if as_json:
            _echo_json(item.to_dict())
            continue
        when = f"{item.sort_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{item.id}\t{when}\t{item.title or '-'}\t{item.url}")
        if item.hits:
            typer.echo(f"    \u201c{item.hits[0]['sentence']}\u201d")
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)
    if not page.items:
        typer.echo("no stored article matches", err=True)


def _parse_when(rt: Any, text: str | None, option: str) -> Any:
    """A period back from now (7d) or an ISO date or time (UTC unless it says)."""
    from datetime import UTC, datetime

    if text is None:
        return None
    if text[-1:].lower() in "mhdw" and text[:-1].isdigit():
        return rt.now() - _parse_period(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"invalid {option} {text!r}: give a period (30m, 12h, 7d, 2w) or a date "
            "(2026-11-30, 2026-11-30T08:00)"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@articles_app.command("evidence")
def articles_evidence(
    article_id: Annotated[int, typer.Argument(help="The article's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """The page an alert fired on, as fetched: a .warc.gz file (sha256 in the alert)."""
    from pipeline.services.evidence import evidence_for_article

    _upgrade()
    kept = evidence_for_article(_runtime(), article_id)
    if output is not None:
        output.write_bytes(kept.data)
    elif sys.stdout.isatty():
        raise ConfigError(
            f"the evidence is a binary file: redirect it (> {kept.filename}) or use --output"
        )
    else:
        sys.stdout.buffer.write(kept.data)
        sys.stdout.flush()
    typer.echo(f"sha256 {kept.sha256}  {kept.filename}", err=True)


@stories_app.command("list")
def stories_list(
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent stories with their articles and alerts."""
    from pipeline.services import reports

    _upgrade()
    for row in reports.list_stories(_runtime(), limit):
        if as_json:
            _echo_json(row)
        else:
            typer.echo(
                f"{row['id']}\t{len(row['articles'])} articles\t{len(row['alerts'])} alerts\t"
                f"{row['title']}"
            )


@alerts_app.command("replay")
def alerts_replay(
    alert_ids: Annotated[list[int] | None, typer.Argument(help="Alert ids to send again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every dead-lettered alert.")] = False,
    now: Annotated[
        bool, typer.Option("--now", help="Send here and now, not via the worker.")
    ] = False,
) -> None:
    """Send alerts again with the same webhook-id (receivers can drop duplicates)."""
    from pipeline.services import delivery

    if not alert_ids and not failed:
        raise ConfigError("give alert ids, or --failed for every dead-lettered alert")
    rt = _runtime()
    _upgrade()
    replayed = delivery.replay_alerts(rt, None if failed else list(alert_ids or []))
    for alert_id in replayed:
        outcome = delivery.deliver_alert(alert_id, rt) if now else "queued for the next relay tick"
        typer.echo(f"alert {alert_id}: {outcome}")
    if not replayed:
        typer.echo("nothing to replay")


@rules_app.command("rotate-secret")
def rules_rotate_secret(
    rule: str,
    secret: Annotated[
        str | None, typer.Option(help="The new whsec_ secret (else generated).")
    ] = None,
    finish: Annotated[
        bool, typer.Option("--finish", help="End the rotation: stop signing with old secrets.")
    ] = False,
) -> None:
    """Rotate a rule's signing secret: deliveries carry both signatures until --finish."""
    from pipeline.services import delivery

    _upgrade()
    updated = delivery.rotate_secret(_runtime(), rule, secret, finish)
    if finish:
        typer.echo(f"rule {updated.name!r}: rotation finished, signing with one secret")
    else:
        typer.echo(f"rule {updated.name!r}: new signing secret: {updated.secret}")
        typer.echo("deliveries are signed with the new and the old secret until --finish")


@rules_app.command("enable-endpoint")
def rules_enable_endpoint(rule: str) -> None:
    """Switch a rule's webhook endpoint back on after it was disabled (HTTP 410)."""
    from pipeline.services import delivery

    _upgrade()
    delivery.enable_endpoint(_runtime(), rule)
    typer.echo(f"rule {rule!r}: webhook endpoint enabled")


# --- extraction -------------------------------------------------------------------------


def _read_source(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    if source.startswith(("http://", "https://")):
        return _runtime().http.get(source).body
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"no such file: {source}")
    return path.read_bytes()


@app.command("extract")
def extract_cmd(
    source: Annotated[str, typer.Argument(help="HTML or text file, URL, or - for stdin.")] = "-",
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help='Batch: JSON lines {"id","text"} or {"id","html","url"}.'),
    ] = False,
) -> None:
    """Clean and extract one document (or a JSON-lines batch) and print JSON."""
    from pipeline.services.reports import extract_document

    if not jsonl:
        url = source if source.startswith(("http://", "https://")) else None
        topics_file = _runtime().settings.topics_file
        _echo_json(extract_document(_read_source(source), url=url, topics_file=topics_file))
        return
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(_extract_line(line, number), ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _extract_line(line: str, number: int) -> dict[str, Any]:
    from pipeline.services.reports import extract_document

    try:
        item = json.loads(line)
        if not isinstance(item, dict):
            raise ValueError("a line must be a JSON object")
        document = item.get("html") if item.get("html") is not None else item.get("text")
        if not isinstance(document, str):
            raise ValueError('a line needs "text" or "html" as a string')
    except ValueError as exc:
        return {"id": None, "line": number, "error": f"line {number}: {exc}"}
    try:
        result = extract_document(
            document, url=item.get("url"), topics_file=_runtime().settings.topics_file
        )
    except Exception as exc:  # one bad document must not end the batch
        return {"id": item.get("id"), "line": number, "error": f"line {number}: {exc!r}"}
    if "text" in item and item.get("html") is None:
        result["text"] = item["text"]
    return {"id": item.get("id"), **result, "error": None}


# --- demo -------------------------------------------------------------------------------


@app.command()
def demo(
    exit_after: Annotated[
        int | None, typer.Option(help="Exit 0 once this many verified alerts arrived.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Give up (exit 1) after this many seconds.")
    ] = None,
    keep_data: Annotated[bool, typer.Option(help="Keep the demo's data directory.")] = False,
) -> None:
    """Serve seeds/ on loopback, watch its feeds, and print each verified alert webhook."""
    from worker.demo import run_demo

    raise typer.Exit(run_demo(exit_after=exit_after, timeout=timeout, keep_data=keep_data))


# --- entry point: every user mistake is one line on stderr and exit status 2 ------------

# typer >= 0.2x vendors click as `typer._click` with its own exception classes; `click`
# itself is still installed (celery needs it), so both families are caught.
_USAGE_ERRORS = (typer_click_errors.UsageError, click.exceptions.UsageError)
_CLICK_ERRORS = (typer_click_errors.ClickException, click.exceptions.ClickException)
_NO_SUCH_OPTION = (typer_click_errors.NoSuchOption, click.exceptions.NoSuchOption)
_ABORTS = (typer.Abort, click.exceptions.Abort)
_USAGE_STATUS = 2
# A message may quote what the user typed (a 100,000-character URL, a pasted page as a
# feed name): each word of it is shortened, and the whole line capped, to stay readable.
_MAX_WORD = 200
_MAX_MESSAGE = 2000


def main() -> None:
    argv = sys.argv[1:]
    try:
        result = app(args=argv, prog_name=PROG, standalone_mode=False)
    except typer_click_errors.NoArgsIsHelpError as exc:
        # The help was already printed on stdout while the exception was built.
        _fail(_missing_command_message(exc.ctx))
    except _USAGE_ERRORS as exc:
        _fail(_usage_message(exc, argv))
    except _CLICK_ERRORS as exc:
        _fail(exc.format_message())
    except _ABORTS:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except NewswatchError as exc:
        _fail(str(exc))
    except OSError as exc:
        # Raised by the environment, not by a bug: a data directory that is a file or
        # not writable, a settings file that is a directory or unreadable.
        _fail(_os_error_message(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(result, int) and result:
        sys.exit(result)


def _fail(message: str) -> NoReturn:
    typer.echo(f"{PROG}: error: {_one_line(message)}", err=True)
    sys.exit(_USAGE_STATUS)


def _one_line(text: str) -> str:
    """Collapse line breaks and escape control characters, so one message stays one line
    and cannot move the cursor or recolour the terminal."""
    words = [w if len(w) <= _MAX_WORD else w[:_MAX_WORD] + "…" for w in text.split()]
    flat = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in " ".join(words))
    return flat if len(flat) <= _MAX_MESSAGE else flat[:_MAX_MESSAGE] + "…"


def _help_hint(ctx: Any) -> str:
    path = " ".join(_command_names(ctx)) if ctx is not None else PROG
    return f"(see '{path} --help')"


def _help_hint_from_argv(argv: Sequence[str]) -> str:
    """The help hint when click gave no context (``--interval`` without its value): the
    command is found by walking the user's arguments down the command tree."""
    command: Any = typer.main.get_command(app)
    names = [PROG]
    for token in argv:
        command = getattr(command, "commands", {}).get(token)
        if command is None:
            break
        names.append(token)
    return f"(see '{' '.join(names)} --help')"


def _command_names(ctx: Any) -> list[str]:
    """``["newswatch", "rules", "add"]``: the names the user typed to reach ``ctx``."""
    names: list[str] = []
    while ctx is not None:
        names.append(ctx.info_name if ctx.parent is not None else PROG)
        ctx = ctx.parent
    return names[::-1]


def _missing_command_message(ctx: Any) -> str:
    command = getattr(ctx, "command", None)
    if command is not None and hasattr(command, "list_commands"):
        choices = ", ".join(command.list_commands(ctx))
        return f"missing command: one of {choices} {_help_hint(ctx)}"
    return f"missing arguments {_help_hint(ctx)}"


def _usage_message(
    exc: typer_click_errors.UsageError | click.exceptions.UsageError, argv: Sequence[str]
) -> str:
    ctx = exc.ctx
    hint = _help_hint(ctx) if ctx is not None else _help_hint_from_argv(argv)
    message = exc.format_message().rstrip(".")
    rest = _args_after_command(ctx, argv)
    if isinstance(exc, _NO_SUCH_OPTION):
        option = exc.option_name
        token = _offending_token(option, rest)
        if token is not None and _takes_values(ctx) and _may_be_value(token):
            shown = "" if token == option else f" (in {token!r})"
            return (
                f"No such option: {option}{shown}; if {token!r} is a value, write the "
                f"options first, then '--', then the values: {_reordered(ctx, rest)} {hint}"
            )
        if exc.possibilities:
            return f"{exc.message}; did you mean {' or '.join(exc.possibilities)}? {hint}"
        return f"{exc.message} {hint}"
    if "--" in rest and _options_after_dashes(ctx, rest):
        return (
            f"{message}; options after '--' are read as values, put them before it: "
            f"{_reordered(ctx, rest)} {hint}"
        )
    if message.startswith("Got unexpected extra argument") and _takes_values(ctx):
        # Most often an unquoted query: `rules add r1 ceasefire gaza --webhook …`.
        return f"{message}; quote a value that contains spaces {hint}"
    return f"{message} {hint}"


def _args_after_command(ctx: Any, argv: Sequence[str]) -> list[str]:
    """The arguments the user gave after the command names (``rules add``)."""
    rest = list(argv)
    for name in _command_names(ctx)[1:]:
        if name in rest:
            rest = rest[rest.index(name) + 1 :]
    return rest


def _offending_token(option: str, args: Sequence[str]) -> str | None:
    """The argument click took an unknown ``option`` from: ``-r`` comes from ``-rumour``."""
    for token in args:
        if token == "--":
            return None
        if token == option or token.startswith(f"{option}="):
            return token
        if not option.startswith("--") and token.startswith(option) and token[1:2] != "-":
            return token
    return None


def _may_be_value(token: str) -> bool:
    # This CLI has no short options, so `-rumour` or `-5` is a value, never a typo; a
    # `--long` word is taken for a mistyped option unless it holds a space (a query).
    return not token.startswith("--") or any(ch.isspace() for ch in token)


def _options_of(ctx: Any) -> dict[str, bool]:
    """Each option name of ``ctx``'s command, and whether it takes a value."""
    options: dict[str, bool] = {}
    for param in getattr(getattr(ctx, "command", None), "params", []):
        if param.param_type_name == "option":
            takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", 0))
            for name in [*param.opts, *param.secondary_opts]:
                options[name] = takes_value
    return options


def _takes_values(ctx: Any) -> bool:
    params = getattr(getattr(ctx, "command", None), "params", [])
    return any(param.param_type_name == "argument" for param in params)


def _options_after_dashes(ctx: Any, args: Sequence[str]) -> bool:
    options = _options_of(ctx)
    after = args[list(args).index("--") + 1 :]
    return any(token.split("=", 1)[0] in options for token in after)


def _reordered(ctx: Any, args: Sequence[str]) -> str:
    """The command line with the options first, then ``--``, then the values. Option values
    become placeholders so a secret or a webhook token is never echoed back."""
    known = _options_of(ctx)
    options: list[str] = []
    values: list[str] = []
    tokens = iter(args)
    for token in tokens:
        name = token.split("=", 1)[0]
        if token == "--":
            continue
        if name not in known:
            values.append(token)
            continue
        options.append(name)
        if known[name]:
            options.append(name.lstrip("-").replace("-", "_").upper())
            if "=" not in token:
                next(tokens, None)
    return shlex.join([*_command_names(ctx), *options, "--", *values])


def _os_error_message(exc: OSError) -> str:
    if exc.filename is None:
        return exc.strerror or str(exc)
    path = Path(os.fsdecode(exc.filename))
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileExistsError) and not path.is_dir():
        reason = "it exists and is not a directory"
    return f"cannot use {str(path)!r}: {reason}"


if __name__ == "__main__":
    main()
