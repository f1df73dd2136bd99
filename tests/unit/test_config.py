"""Settings, the shipped config files, and docker-compose.yml (parsed, not run)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipeline.errors import ConfigError
from pipeline.io.config_files import load_feeds_file, load_rules_file
from pipeline.io.http import HttpLimits
from pipeline.settings import CONFIG_DIR, REPO_ROOT, Settings, get_settings, settings_reference
from pipeline.stages.match import compile_query
from worker.layout import TASK_QUEUES, QueueName


def test_settings_doc_is_current() -> None:
    assert (CONFIG_DIR / "SETTINGS.md").read_text() == settings_reference(), (
        "run: python -m pipeline.settings > config/SETTINGS.md"
    )


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("NEWSWATCH_BROKER_URL", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.store_url == f"sqlite:///{tmp_path / 'newswatch.db'}"
    assert settings.uses_embedded_broker
    assert settings.celery_broker_url == f"redis+socket://{tmp_path / 'redis' / 'redis.sock'}"


def test_environment_and_file_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("beat_interval: 7\nfeeds_per_tick: 3\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG_FILE", str(config))
    monkeypatch.setenv("NEWSWATCH_FEEDS_PER_TICK", "9")
    settings = Settings()
    assert settings.beat_interval == 7 and settings.feeds_per_tick == 9


def test_invalid_settings_give_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_BEAT_INTERVAL", "soon")
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as info:
        get_settings()
    get_settings.cache_clear()
    assert "NEWSWATCH_BEAT_INTERVAL" in str(info.value) and "\n" not in str(info.value)


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """get_settings() under ``env`` (names without the NEWSWATCH_ prefix), uncached."""
    monkeypatch.delenv("NEWSWATCH_CONFIG_FILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"NEWSWATCH_{name.upper()}", value)
    get_settings.cache_clear()
    try:
        return get_settings()
    finally:
        get_settings.cache_clear()


def test_relay_settings_default_and_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RELAY_LEASE", "ARTICLE_RELAY_LIMIT", "ARTICLES_PER_RELAY_TICK"):
        monkeypatch.delenv(f"NEWSWATCH_{name}", raising=False)
    defaults = _load(monkeypatch)
    assert (defaults.relay_lease, defaults.article_relay_limit) == (60, 5)
    assert defaults.articles_per_relay_tick == 50
    settings = _load(
        monkeypatch, relay_lease="90", article_relay_limit="2", articles_per_relay_tick="7"
    )
    assert (settings.relay_lease, settings.article_relay_limit) == (90, 2)
    assert settings.articles_per_relay_tick == 7


@pytest.mark.parametrize(
    ("name", "lowest"),
    [("relay_lease", 5), ("article_relay_limit", 1), ("articles_per_relay_tick", 1)],
)
def test_relay_settings_refuse_out_of_bounds(
    monkeypatch: pytest.MonkeyPatch, name: str, lowest: int
) -> None:
    assert getattr(_load(monkeypatch, **{name: str(lowest)}), name) == lowest
    with pytest.raises(ConfigError) as info:
        _load(monkeypatch, **{name: str(lowest - 1)})
    message = str(info.value)
    assert f"NEWSWATCH_{name.upper()}" in message and "\n" not in message


def test_http_limits_mirror_every_http_setting() -> None:
    # allow_hosts configures the destination guard, not the limits, and is passed separately.
    mirrored = {n for n in Settings.model_fields if n.startswith("http_")} - {"http_allow_hosts"}
    assert {f"http_{f.name}" for f in dataclasses.fields(HttpLimits)} == mirrored
    defaults = Settings()
    changed = Settings(
        http_connect_timeout=1.5,
        http_read_timeout=2.5,
        http_total_timeout=3.5,
        http_max_bytes=4096,
        http_max_redirects=7,
        http_user_agent="probe/2.0",
    )
    for settings in (defaults, changed):
        limits = HttpLimits.from_settings(settings)
        for name in mirrored:
            assert getattr(limits, name.removeprefix("http_")) == getattr(settings, name), name
    assert HttpLimits.from_settings(defaults).user_agent == defaults.http_user_agent


def test_secrets_are_masked() -> None:
    settings = Settings(
        webhook_secret="whsec_c2VjcmV0c2VjcmV0c2VjcmV0",  # type: ignore[arg-type]
        database_url="postgresql+psycopg://u:hunter2@db/nw",
    )
    shown = repr(settings) + str(settings.redacted())
    assert "hunter2" not in str(settings.redacted())
    assert "c2VjcmV0" not in shown


def test_shipped_rules_compile_and_watch_ceasefire_and_evacuation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sample rules name no receiver of their own: the environment must give one.
    monkeypatch.delenv("NEWSWATCH_ALERT_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError, match="NEWSWATCH_ALERT_WEBHOOK_URL"):
        load_rules_file(CONFIG_DIR / "rules.yaml")
    monkeypatch.setenv("NEWSWATCH_ALERT_WEBHOOK_URL", "https://hooks.invalid/x")
    rules = load_rules_file(CONFIG_DIR / "rules.yaml")
    assert {r.query for r in rules} == {"ceasefire", "evacuation"}
    for rule in rules:
        compile_query(rule.query)
    assert load_feeds_file(CONFIG_DIR / "feeds.yaml") == []


def test_bad_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: x\n    query: [unclosed\n")
    with pytest.raises(ConfigError, match=r"invalid YAML \(line") as info:
        load_rules_file(bad)
    assert "\n" not in str(info.value)
    bad.write_text("rules:\n  - name: x\n")
    with pytest.raises(ConfigError, match=r"rules\[0\]\.query"):
        load_rules_file(bad)


def test_env_references_expand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: a, query: b, webhook: '${HOOK}'}\n")
    monkeypatch.setenv("HOOK", "https://h.example/x")
    assert load_rules_file(path)[0].webhook == "https://h.example/x"
    monkeypatch.delenv("HOOK")
    with pytest.raises(ConfigError, match="HOOK is not set"):
        load_rules_file(path)


# --- docker-compose.yml, the Dockerfile and the locks ---------------------------------------

LONG_RUNNING = ("worker-deliver", "worker-poll", "worker-fetch", "worker-extract", "beat", "api")


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return compose


def _newswatch_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the newswatch image (the rest are redis and postgres)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if "build" in service or str(service.get("image", "")).startswith("newswatch")
    }


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def test_docker_compose_services_and_wiring() -> None:
    compose = _compose()
    services = compose["services"]
    workers = {"worker-deliver", "worker-poll", "worker-fetch", "worker-extract"}
    assert {"redis", "postgres", "migrate", "beat"} | workers <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker-deliver"]["command"][:3] == ["worker", "--queues", "tick,deliver"]
    assert services["worker-poll"]["command"][:3] == ["worker", "--queues", "poll"]
    assert services["worker-fetch"]["command"][:3] == ["worker", "--queues", "fetch"]
    assert services["worker-extract"]["command"][:3] == ["worker", "--queues", "extract"]
    # every queue is consumed by some worker, and every task is routed to a declared queue
    consumed = {q for name in workers for q in services[name]["command"][2].split(",")}
    assert consumed == {queue.value for queue in QueueName}
    assert set(TASK_QUEUES.values()) <= set(QueueName)
    assert services["beat"]["command"] == ["beat"]
    # exactly one beat: `newswatch run` (the image's default command) and --beat start one too
    newswatch = _newswatch_services(compose)
    commands = {name: service.get("command", ["run"]) for name, service in newswatch.items()}
    beats = [
        name
        for name, command in commands.items()
        if command[0] in ("beat", "run") or "--beat" in command or "-B" in command
    ]
    assert beats == ["beat"]
    for name in newswatch:
        env = services[name]["environment"]
        assert env["NEWSWATCH_BROKER_URL"].startswith("redis://redis:6379")
        assert env["NEWSWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in env["NEWSWATCH_DATABASE_URL"]
        assert set(env) <= {f"NEWSWATCH_{n.upper()}" for n in Settings.model_fields} | {
            "NEWSWATCH_ALERT_WEBHOOK_URL",
            "NEWSWATCH_ALERT_WEBHOOK_SECRET",
        }
    for name in LONG_RUNNING:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "newswatch"
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert not [line for line in instructions if "requirements-dev.lock" in line]
    assert 'ENTRYPOINT ["newswatch"]' in dockerfile


def test_docker_compose_requires_no_variable() -> None:
    """`docker compose up` works with nothing set: a fresh install sends nowhere."""
    values = list(_strings(_compose()))
    references = [
        match for value in values for match in re.findall(r"(?<!\$)\$\{(\w+)([^}]*)\}", value)
    ]
    assert references, "the compose file reads no variable at all?"
    required = [name for name, rest in references if "?" in rest]
    assert required == []
    # `${VAR}` without a default would be an empty string (and a warning) when unset
    undefaulted = [name for name, rest in references if not rest.startswith(":-")]
    assert undefaulted == []


def test_docker_compose_passes_allowlist_and_operator_settings() -> None:
    for name, service in _newswatch_services(_compose()).items():
        env = service["environment"]
        assert env["NEWSWATCH_HTTP_ALLOW_HOSTS"] == "${NEWSWATCH_HTTP_ALLOW_HOSTS:-}", name
        # no value: taken from the host when set there, else unset in the container (an empty
        # string is not a valid whsec_ secret, so `${VAR:-}` would stop every service)
        for variable in ("NEWSWATCH_OPERATOR_WEBHOOK_URL", "NEWSWATCH_OPERATOR_WEBHOOK_SECRET"):
            assert variable in env and env[variable] is None, (name, variable)


def test_docker_compose_long_running_services_have_healthchecks() -> None:
    newswatch = _newswatch_services(_compose())
    long_running = {name for name, s in newswatch.items() if s.get("restart") != "no"}
    assert long_running == set(LONG_RUNNING)
    for name in long_running:
        check = newswatch[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
    for name in ("worker-deliver", "worker-poll", "worker-fetch", "worker-extract"):
        command = " ".join(newswatch[name]["healthcheck"]["test"][1:])
        assert "celery -A worker.celery_app inspect ping" in command
        # its own node only: a bare ping succeeds when any worker anywhere answers
        assert "--destination celery@$${HOSTNAME}" in command


def test_docker_compose_beat_healthcheck_reads_the_schedule_age(tmp_path: Path) -> None:
    """The beat check, run as written: fresh schedule file healthy; stale or none, not."""
    test = _newswatch_services(_compose())["beat"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    environment = {**os.environ, "NEWSWATCH_DATA_DIR": str(tmp_path)}

    def check() -> int:
        return subprocess.run([sys.executable, *test[2:]], env=environment).returncode

    assert check() == 1  # beat has not started
    schedule = tmp_path / "beat-schedule.dat"  # dbm.dumb's name; dbm.gnu writes beat-schedule
    schedule.write_bytes(b"")
    assert check() == 0
    stale = time.time() - 11 * 60
    os.utime(schedule, (stale, stale))
    assert check() == 1


def _lock_pins(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", path.read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def test_locks_split_runtime_from_dev_tools() -> None:
    """The image and the demo install requirements.lock: every runtime dependency, pinned
    with hashes, and none of the dev tools (those are in requirements-dev.lock)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    dev = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["dev"]}
    runtime_pins = _lock_pins(REPO_ROOT / "requirements.lock")
    dev_lock = REPO_ROOT / "requirements-dev.lock"
    dev_pins = _lock_pins(dev_lock)
    assert runtime <= set(runtime_pins)
    assert {"lxml", "lxml-html-clean"} <= set(runtime_pins)
    assert not dev & set(runtime_pins)
    assert dev <= set(dev_pins)
    assert not set(runtime_pins) & set(dev_pins)
    assert "-r requirements.lock" in dev_lock.read_text().splitlines()
    for lock in (REPO_ROOT / "requirements.lock", dev_lock):
        text = lock.read_text()
        assert not re.findall(r"^\S+==\S+ \\\n(?!    --hash=sha256:)", text, re.M)
        assert not re.search(r"--(index-url|extra-index-url|find-links)|https?://", text)


def test_an_installed_copy_ships_the_demo_seeds_and_sample_config() -> None:
    """`pip install .` (not editable) installs config/ and seeds/ as data files, where
    shipped_path finds them: every file the demo and `newswatch init` read is listed."""
    from pipeline.settings import shipped_path

    data_files = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "data-files"
    ]
    listed = {
        (Path(target) / Path(match).name).as_posix()
        for target, patterns in data_files.items()
        for pattern in patterns
        for match in map(str, REPO_ROOT.glob(pattern))
    }
    needed = [p for p in (REPO_ROOT / "seeds").rglob("*") if p.is_file()]
    needed.append(REPO_ROOT / "config" / "rules.yaml")
    for path in needed:
        relative = path.relative_to(REPO_ROOT).as_posix()
        assert f"share/newswatch/{relative}" in listed, f"{relative} is not installed"
    assert shipped_path("seeds") == REPO_ROOT / "seeds"  # a checkout uses its own tree
