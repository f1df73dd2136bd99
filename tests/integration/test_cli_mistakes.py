"""Every mistake a user can make at the `newswatch` command line, as a table.

Each row runs the CLI as a subprocess, the way a user runs it: an empty data directory, no
NEWSWATCH_* settings but the ones the row sets. A mistake must end with exit status 2 and
exactly one line on stderr, `newswatch: error: …`, that says what was wrong; never a
traceback. Help is not a mistake (exit 0), and neither is `--version`.

`{tmp}` in an argument, a setting or an expected fragment stands for the row's own
temporary directory, where `_prepare` leaves the broken files some rows point at;
`{unwritable}` for a directory the CLI may not create anything in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

WEBHOOK = "https://hooks.example.org/newswatch"
FEED = "https://example.org/rss"
LONG_URL = "https://example.org/" + "a" * (100_000 - len("https://example.org/"))
# A usage error quotes the user's input; a 100,000-character URL must not come back whole.
MAX_LINE = 600
GROUPS_ALONE = {(), ("feeds",), ("rules",)}


def _fill(text: str, tmp_path: Path) -> str:
    if "{unwritable}" in text:
        text = text.replace("{unwritable}", str(_unwritable_parent(tmp_path)))
    return text.replace("{tmp}", str(tmp_path))


def _env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(tmp_path / "data")
    env.update({k: _fill(v, tmp_path) for k, v in extra.items()})
    return env


def _run(tmp_path: Path, args: tuple[str, ...], extra: dict[str, str]) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *(_fill(a, tmp_path) for a in args)],
        env=_env(tmp_path, extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def _prepare(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    (tmp_path / "broken.yaml").write_text("rules:\n  - name: [oops\n")
    (tmp_path / "list.yaml").write_text("- data_dir\n- log_level\n")


def _unwritable_parent(tmp_path: Path) -> Path:
    """A directory the CLI cannot create its data directory in. chmod does not stop root,
    so root gets /sys, where nobody may create a directory."""
    locked = tmp_path / "locked"
    locked.mkdir(exist_ok=True)
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):
        return Path("/sys")
    return locked


def _row(args: tuple[str, ...], fragment: str | tuple[str, ...], id: str, **env: str) -> Any:
    """One mistake: the arguments, what the error line must contain, settings if any."""
    return pytest.param(args, env, fragment, id=id)


MISTAKES = [
    # --- unknown commands ---------------------------------------------------------------
    _row(("bogus",), "No such command 'bogus' (see 'newswatch --help')", "unknown-command"),
    _row(("fedds", "list"), "Did you mean 'feeds'?", "command-typo"),
    _row(("help",), "No such command 'help'", "help-is-not-a-command"),
    # (Made-up names, so that a command added later does not turn a row into a success.)
    _row(("feeds", "frobnicate", "1"), "No such command 'frobnicate'", "unknown-feeds-subcommand"),
    _row(("rules", "frobnicate"), "(see 'newswatch rules --help')", "unknown-rules-subcommand"),
    _row(("alerts", "frobnicate"), "No such command 'frobnicate'", "unknown-alerts-subcommand"),
    _row(("db", "frobnicate"), "No such command 'frobnicate'", "unknown-db-subcommand"),
    _row(("config", "shwo"), "Did you mean 'show'?", "config-subcommand-typo"),
    # --- a group without its command: help on stdout, and one line saying what is missing
    _row((), "missing command: one of run, worker", "no-command"),
    _row(("feeds",), ("missing command: one of add, ", ", list, "), "bare-feeds"),
    _row(("rules",), "(see 'newswatch rules --help')", "bare-rules"),
    # --- unknown options and typos ------------------------------------------------------
    _row(("--bogus",), "No such option: --bogus (see 'newswatch --help')", "unknown-top-option"),
    _row(("-h",), "No such option: -h", "short-help-is-not-an-option"),
    _row(("feeds", "--name", "x"), "(see 'newswatch feeds --help')", "option-on-a-group"),
    _row(
        ("feeds", "add", FEED, "--intervall", "60"),
        "No such option: --intervall; did you mean --interval? (see 'newswatch feeds add --help')",
        "interval-typo",
    ),
    _row(("feeds", "list", "--jsn"), "did you mean --json?", "json-typo"),
    _row(
        ("rules", "add", "r1", "ceasefire", "--web-hook", WEBHOOK),
        "did you mean --webhook?",
        "webhook-typo",
    ),
    _row(("rules", "list", "--show-secret"), "did you mean --show-secrets?", "show-secrets-typo"),
    _row(("extract", "--json"), "did you mean --jsonl?", "jsonl-typo"),
    _row(("alerts", "list", "--verbose"), "No such option: --verbose", "unknown-alerts-option"),
    _row(("poll", "1", "--deliver-now"), "No such option: --deliver-now", "unknown-poll-option"),
    _row(("feeds", "list", "--json=yes"), "'--json' does not take a value", "flag-with-value"),
    # --- missing arguments and options -----------------------------------------------------
    _row(("feeds", "add"), "Missing argument 'url'", "feeds-add-without-url"),
    _row(("feeds", "remove"), "Missing argument", "feeds-remove-without-feed"),
    _row(("poll",), "Missing argument 'feed'", "poll-without-feed"),
    _row(("rules", "add", "r1"), "Missing argument 'query'", "rules-add-without-query"),
    _row(
        ("rules", "add", "r1", "ceasefire"),
        "Missing option '--webhook' (see 'newswatch rules add --help')",
        "rules-add-without-webhook",
    ),
    _row(("rules", "remove"), "Missing argument", "rules-remove-without-rule"),
    _row(("rules", "backtest"), "Missing argument 'rule'", "backtest-without-rule"),
    _row(("rules", "rotate-secret"), "Missing argument", "rotate-without-rule"),
    _row(
        ("feeds", "add", FEED, "--interval"),
        "Option '--interval' requires an argument (see 'newswatch feeds add --help')",
        "interval-without-value",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook"),
        "Option '--webhook' requires an argument",
        "webhook-without-value",
    ),
    _row(("alerts", "replay"), "give alert ids, or --failed", "replay-without-ids"),
    _row(("rules", "test"), "give a QUERY", "rules-test-without-query"),
    # --- numbers: not integers, or out of range ---------------------------------------------
    _row(
        ("feeds", "add", FEED, "--interval", "5"),
        "Invalid value for '--interval': Input should be greater than or equal to 30",
        "interval-below-minimum",
    ),
    _row(
        ("feeds", "add", FEED, "--interval", "-60"), "greater than or equal to 30", "interval-neg"
    ),
    _row(("feeds", "add", FEED, "--interval", "abc"), "valid integer", "interval-not-a-number"),
    _row(("feeds", "add", FEED, "--interval", "1.5"), "valid integer", "interval-fraction"),
    _row(("alerts", "replay", "abc"), "Invalid value for 'alert_ids'", "replay-abc"),
    _row(("alerts", "replay", "1", "two"), "valid integer", "replay-second-id-not-a-number"),
    _row(("alerts", "list", "--limit", "0"), "greater than or equal to 1", "alerts-limit-0"),
    _row(("alerts", "list", "--limit", "many"), "valid integer", "alerts-limit-word"),
    _row(("stories", "list", "--limit", "-1"), "greater than or equal to 1", "stories-limit-neg"),
    _row(("run", "--concurrency", "x"), "Invalid value for '--concurrency'", "concurrency-word"),
    _row(("demo", "--timeout", "soon"), "valid number", "demo-timeout-word"),
    # --- values that start with "-": click reads them as options -------------------------
    _row(
        ("rules", "add", "r1", "-rumour", "--webhook", WEBHOOK),
        "No such option: -r (in '-rumour'); if '-rumour' is a value, write the options "
        "first, then '--', then the values: newswatch rules add --webhook WEBHOOK -- r1 -rumour",
        "query-starting-with-dash",
    ),
    _row(
        ("rules", "add", "r1", "-rumour OR ceasefire", f"--webhook={WEBHOOK}", "--disabled"),
        "newswatch rules add --webhook WEBHOOK --disabled -- r1 '-rumour OR ceasefire'",
        "quoted-query-starting-with-dash",
    ),
    _row(
        ("rules", "add", "r1", "-rumour", "--webhook", WEBHOOK, "--secret", "whsec_abc"),
        "--secret SECRET -- r1 -rumour",  # the secret itself is never echoed
        "dash-query-with-secret",
    ),
    _row(
        ("rules", "add", "r1", "--", "-rumour", "--webhook", WEBHOOK),
        "Missing option '--webhook'; options after '--' are read as values, put them before "
        "it: newswatch rules add --webhook WEBHOOK -- r1 -rumour",
        "options-after-double-dash",
    ),
    _row(
        ("rules", "test", "-rumour", "{tmp}/page.html"),
        "newswatch rules test -- -rumour",
        "rules-test-query-starting-with-dash",
    ),
    _row(("alerts", "replay", "-5"), "newswatch alerts replay -- -5", "negative-alert-id"),
    _row(
        ("rules", "add", "r1", "ceasefire", "gaza", "--webhook", WEBHOOK),
        "Got unexpected extra argument(s) (gaza); quote a value that contains spaces",
        "unquoted-query",
    ),
    # --- bad feed URLs --------------------------------------------------------------------
    _row(("feeds", "add", "https://exa mple.org/rss"), "a space (U+0020)", "feed-url-space"),
    _row(("feeds", "add", "https://example.org/\trss"), "whitespace (U+0009)", "feed-url-tab"),
    _row(("feeds", "add", FEED + "\n"), "whitespace (U+000A)", "feed-url-newline"),
    _row(("feeds", "add", FEED + "\x1b[2J"), "a control character (U+001B)", "feed-url-escape"),
    _row(("feeds", "add", "https://example.org/\x01"), "control character", "feed-url-control"),
    _row(("feeds", "add", " " + FEED), "at position 1", "feed-url-leading-space"),
    _row(("feeds", "add", LONG_URL), "is 100,000 characters long", "feed-url-100k-chars"),
    _row(("feeds", "add", "http://"), "the URL has no host", "feed-url-no-host"),
    _row(("feeds", "add", "ftp://example.org/rss"), "only http and https", "feed-url-ftp"),
    _row(("feeds", "add", "javascript:alert(1)"), "only http and https", "feed-url-javascript"),
    _row(("feeds", "add", "file:///etc/passwd"), "only http and https", "feed-url-file"),
    _row(("feeds", "add", "data:text/xml,<rss/>"), "only http and https", "feed-url-data"),
    _row(("feeds", "add", "example.org/rss"), "only http and https", "feed-url-no-scheme"),
    _row(("feeds", "add", "http://u:pw@example.org/"), "credentials", "feed-url-credentials"),
    _row(("feeds", "add", "http://exa%20mple.org/"), "contains '%'", "feed-url-bad-host"),
    _row(("feeds", "add", "http://example.org:99999/"), "Port out of range", "feed-url-bad-port"),
    # --- bad webhook URLs -------------------------------------------------------------------
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK + " x"),
        f"refused '{WEBHOOK} x': the URL contains a space (U+0020)",
        "webhook-space",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK + "\nX-Evil: 1"),
        "whitespace (U+000A)",
        "webhook-newline",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", LONG_URL),
        "is 100,000 characters long (at most 2,048)",
        "webhook-100k-chars",
    ),
    _row(("rules", "add", "r1", "ceasefire", "--webhook", "http://"), "no host", "webhook-no-host"),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", "javascript:alert(1)"),
        "only http and https",
        "webhook-javascript",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", "file:///etc/passwd"),
        "only http and https",
        "webhook-file",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", "data:,hello"),
        "only http and https",
        "webhook-data",
    ),
    # --- bad rule values --------------------------------------------------------------------
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--secret", "x"),
        "must start with 'whsec_'",
        "secret-without-prefix",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--secret", "whsec_"),
        "at least 16 bytes",
        "secret-empty",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--secret", "whsec_!!!"),
        "not valid base64",
        "secret-not-base64",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--mode", "weekly"),
        "mode must be one of immediate, hourly, daily",
        "bad-mode",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire AND (", "--webhook", WEBHOOK),
        "invalid query",
        "unbalanced-query",
    ),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--notify", "notaurl"),
        "apprise does not recognise",
        "bad-notify-url",
    ),
    _row(("rules", "add", "", "ceasefire", "--webhook", WEBHOOK), "needs a name", "empty-name"),
    _row(("rules", "backtest", "r1", "--since", "abc"), "invalid period 'abc'", "period-word"),
    _row(("rules", "backtest", "r1", "--since", "7"), "invalid period '7'", "period-no-unit"),
    _row(("rules", "backtest", "r1", "--since", "7y"), "invalid period '7y'", "period-years"),
    _row(("rules", "backtest", "r1", "--since", "-7d"), "invalid period '-7d'", "period-neg"),
    _row(("rules", "backtest", "r1", "--since", ""), "invalid period ''", "period-empty"),
    _row(("alerts", "list", "--status", "bogus"), "'bogus' is not one of", "unknown-alert-status"),
    # --- unknown names and ids --------------------------------------------------------------
    _row(("feeds", "remove", "nope"), "no feed 'nope'", "unknown-feed"),
    _row(("poll", "42"), "no feed '42'", "poll-unknown-feed"),
    _row(("rules", "remove", "nope"), "no rule 'nope'", "unknown-rule"),
    _row(("rules", "rotate-secret", "nope"), "no rule 'nope'", "rotate-unknown-rule"),
    _row(("rules", "enable-endpoint", "nope"), "no rule 'nope'", "enable-unknown-rule"),
    _row(("alerts", "replay", "999"), "no alert with id 999", "unknown-alert"),
    _row(
        ("rules", "add", "r1", "ceasefire", "--webhook", WEBHOOK, "--feed", "99"),
        "no feed '99'",
        "rule-for-unknown-feed",
    ),
    _row(("rules", "backtest", "nope"), "no rule 'nope'", "backtest-unknown-rule"),
    # --- missing and unreadable files -------------------------------------------------------
    _row(("extract", "/no/such/file.html"), "no such file: /no/such/file.html", "extract-missing"),
    _row(("extract", "{tmp}"), "no such file", "extract-a-directory"),
    _row(("rules", "test", "ceasefire", "/no/such/file.html"), "no such file", "test-missing"),
    _row(
        ("config", "sync"),
        "invalid YAML",
        "invalid-rules-yaml",
        NEWSWATCH_RULES_FILE="{tmp}/broken.yaml",
    ),
    _row(
        ("config", "sync"),
        "/no/such/feeds.yaml: file not found",
        "missing-feeds-file",
        NEWSWATCH_FEEDS_FILE="/no/such/feeds.yaml",
    ),
    _row(
        ("config", "sync"), "Is a directory", "rules-file-is-a-directory", NEWSWATCH_RULES_FILE="/"
    ),
    _row(
        ("feeds", "list"),
        "is not valid YAML",
        "invalid-settings-yaml",
        NEWSWATCH_CONFIG_FILE="{tmp}/broken.yaml",
    ),
    _row(
        ("feeds", "list"),
        "must be a mapping",
        "settings-yaml-is-a-list",
        NEWSWATCH_CONFIG_FILE="{tmp}/list.yaml",
    ),
    _row(
        ("feeds", "list"),
        "settings file not found: /no/such/settings.yaml",
        "missing-settings-file",
        NEWSWATCH_CONFIG_FILE="/no/such/settings.yaml",
    ),
    # --- invalid settings and unreachable services ------------------------------------------
    _row(
        ("feeds", "list"),
        "NEWSWATCH_BEAT_INTERVAL",
        "beat-interval-word",
        NEWSWATCH_BEAT_INTERVAL="soon",
    ),
    _row(
        ("feeds", "list"),
        "NEWSWATCH_DATABASE_URL: unsupported database 'mysql'",
        "mysql-database-url",
        NEWSWATCH_DATABASE_URL="mysql://x",
    ),
    _row(
        ("feeds", "list"), "unknown log level 'LOUD'", "bad-log-level", NEWSWATCH_LOG_LEVEL="LOUD"
    ),
    _row(
        ("feeds", "list"),
        "NEWSWATCH_HTTP_MAX_BYTES",
        "max-bytes-word",
        NEWSWATCH_HTTP_MAX_BYTES="lots",
    ),
    _row(
        ("feeds", "list"),
        "cannot use the database",
        "unreachable-database",
        NEWSWATCH_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:1/x",
    ),
    _row(
        ("worker",),
        "cannot reach the broker",
        "unreachable-broker",
        NEWSWATCH_BROKER_URL="redis://127.0.0.1:1/0",
    ),
    # --- a data directory the CLI cannot use ------------------------------------------------
    _row(
        ("feeds", "list"),
        ("{tmp}/a-file", "not a directory"),
        "data-dir-is-a-file",
        NEWSWATCH_DATA_DIR="{tmp}/a-file",
    ),
    _row(
        ("rules", "list"),
        ("{tmp}/a-file/data", "Not a directory"),
        "data-dir-under-a-file",
        NEWSWATCH_DATA_DIR="{tmp}/a-file/data",
    ),
    _row(
        ("feeds", "list"),
        "{unwritable}/newswatch-data",
        "data-dir-in-an-unwritable-place",
        NEWSWATCH_DATA_DIR="{unwritable}/newswatch-data",
    ),
]


@pytest.mark.parametrize(("args", "extra", "fragment"), MISTAKES)
def test_a_mistake_is_one_line(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], fragment: str | tuple[str, ...]
) -> None:
    _prepare(tmp_path)
    result = _run(tmp_path, args, extra)
    line = _assert_one_line_error(result)
    for part in (fragment,) if isinstance(fragment, str) else fragment:
        assert _fill(part, tmp_path) in line, line
    if args in GROUPS_ALONE:
        # A command group named alone prints its help on stdout, then the error.
        assert "Usage: newswatch" in result.stdout
    else:
        assert result.stdout == "", result.stdout


def _assert_one_line_error(result: Any) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), result.stderr[-3000:]
    assert lines[0].startswith("newswatch: error: "), lines[0]
    assert len(lines[0]) <= MAX_LINE, lines[0][:MAX_LINE]
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [("--help",), ("feeds", "--help"), ("rules", "add", "--help"), ("alerts", "replay", "--help")],
    ids=["top", "group", "command", "command-with-list-argument"],
)
def test_help_is_not_a_mistake(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run(tmp_path, args, {})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"Usage: newswatch {' '.join(args[:-1])}".rstrip() in result.stdout
    assert "Traceback" not in result.stdout


def test_version(tmp_path: Path) -> None:
    result = _run(tmp_path, ("--version",), {})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == f"newswatch {version('newswatch')}\n"
    assert not (tmp_path / "data").exists()  # printing the version touches nothing
