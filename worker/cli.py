"""The `newswatch` command line. Every command is a thin layer over pipeline.services.

User mistakes (bad URL, unknown feed, invalid YAML or query, unreachable broker or
database) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from pipeline.errors import ConfigError, NewswatchError
from pipeline.model import OutboxStatus, RuleMode

app = typer.Typer(
    name="newswatch",
    help="Watch news feeds, tag articles and send signed alert webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
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


def _runtime() -> Any:
    from pipeline.runtime import get_runtime

    return get_runtime()


def _upgrade() -> None:
    from pipeline.services.schema import prepare_schema

    prepare_schema(_runtime())


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


# --- processes --------------------------------------------------------------------------


def _start_worker(queues: str, concurrency: int | None, beat: bool) -> None:
    rt = _runtime()
    _upgrade()
    from worker.celery_app import app as celery_app

    _check_broker(celery_app)
    argv = [
        "worker",
        f"--queues={queues}",
        f"--concurrency={concurrency or rt.settings.worker_concurrency}",
        f"--loglevel={rt.settings.log_level}",
        "--without-gossip",
        "--without-mingle",
    ]
    if rt.settings.log_level in ("WARNING", "ERROR", "CRITICAL"):
        argv.insert(0, "--quiet")  # a global option: it goes before the sub-command
    if beat:
        argv += ["--beat", f"--schedule={rt.settings.data_dir.resolve() / 'beat-schedule'}"]
    celery_app.worker_main(argv)


def _check_broker(celery_app: Any) -> None:
    from pipeline.settings import mask_password

    url = celery_app.conf.broker_url
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # kombu raises many types; the user needs one line
        raise ConfigError(f"cannot reach the broker at {mask_password(url)}: {exc}") from exc


@app.command()
def run(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """The main job: worker (both queues) and beat in one process, on the configured backends."""
    sync_config()
    _start_worker("fetch,extract", concurrency, beat=True)


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: fetch, extract.")] = (
        "fetch,extract"
    ),
    concurrency: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """A worker only (run one beat elsewhere)."""
    _start_worker(queues, concurrency, beat=False)


@app.command()
def beat() -> None:
    """The scheduler only (run exactly one): claims due feeds, re-sends due alerts.

    It also syncs config/feeds.yaml and config/rules.yaml into the store at start.
    """
    rt = _runtime()
    sync_config()
    from worker.celery_app import app as celery_app

    _check_broker(celery_app)
    schedule = rt.settings.data_dir.resolve() / "beat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={rt.settings.log_level}", f"--schedule={schedule}"])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema."""
    from pipeline.services.schema import upgrade_schema

    upgrade_schema(_runtime())
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
    """Add or update the feeds and rules of the config files (never deletes)."""
    from pipeline.services import catalog

    _upgrade()
    report = catalog.sync_config_files(_runtime())
    typer.echo(f"synced {report.feeds} feeds and {report.rules} rules from config", err=True)


# --- feeds ------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Annotated[str, typer.Option(help="A label for the feed.")] = "",
    interval: Annotated[int | None, typer.Option(min=30, help="Seconds between polls.")] = None,
) -> None:
    """Watch a feed."""
    from pipeline.services import catalog

    _upgrade()
    feed = catalog.add_feed(_runtime(), url, name, interval)
    typer.echo(f"feed {feed.id}: {feed.url} every {feed.interval_seconds}s")


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Watched feeds and their polling state."""
    from pipeline.services import catalog

    _upgrade()
    feeds = catalog.list_feeds(_runtime())
    if as_json:
        for feed in feeds:
            _echo_json(feed.model_dump(exclude={"etag"}))
        return
    for feed in feeds:
        state = f"errors={feed.error_count}" + (f" ({feed.last_error})" if feed.last_error else "")
        typer.echo(
            f"{feed.id}\t{feed.name or '-'}\t{feed.url}\tevery {feed.interval_seconds}s\t"
            f"next {feed.next_poll_at:%Y-%m-%d %H:%M:%S}\t{state}"
        )


@feeds_app.command("remove")
def feeds_remove(feed: str) -> None:
    """Stop watching a feed (by id, URL or name)."""
    from pipeline.services import catalog

    _upgrade()
    removed = catalog.remove_feed(_runtime(), feed)
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


@rules_app.command("test")
def rules_test(
    query: Annotated[str | None, typer.Argument(help="The query to try.")] = None,
    source: Annotated[str | None, typer.Argument(help="Article file (HTML or text) or -.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Batch mode on stdin.")] = False,
) -> None:
    """Show whether and why an article matches a query (or batch-test JSON lines)."""
    from pipeline.stages.match import test_rules_jsonl

    if jsonl:
        for line in test_rules_jsonl(sys.stdin):
            sys.stdout.write(line.rstrip("\n") + "\n")
        return
    if query is None:
        raise ConfigError("give a QUERY (and an article FILE or -), or use --jsonl")
    from pipeline.services.reports import explain_match

    document = _read_source(source or "-")
    result = explain_match(query, document)
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
    with typer.progressbar(
        length=reports.count_backtest_articles(rt, period), label="matching", file=sys.stderr
    ) as bar:
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
    status: Annotated[str | None, typer.Option(help="pending, sending, delivered or dead.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Dead-lettered alerts only (same as --status dead).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent alerts and their delivery state (dead ones show their last error)."""
    from pipeline.services import reports

    _upgrade()
    for row in reports.list_alerts(_runtime(), OutboxStatus.DEAD if failed else status, limit):
        if as_json:
            _echo_json(row)
        else:
            error = f"\t{row['last_error']}" if row["last_error"] else ""
            typer.echo(
                f"{row['id']}\t{row['status']}\tattempts={row['attempts']}\t{row['rule']}\t"
                f"{row['article']}{error}"
            )


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
        _echo_json(extract_document(_read_source(source), url=url))
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
        result = extract_document(document, url=item.get("url"))
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


def main() -> None:
    try:
        result = app(standalone_mode=False)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NewswatchError as exc:
        typer.echo(f"newswatch: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(result, int) and result:
        sys.exit(result)


if __name__ == "__main__":
    main()
