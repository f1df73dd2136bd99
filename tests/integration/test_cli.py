"""The `newswatch` CLI as users run it: one-line errors, the extract and rules-test contracts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO_ROOT


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, stdin: str | None = None, **extra: str):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        env=_env(tmp_path, **extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def _assert_one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "extra", "fragment"),
    [
        (("feeds", "add", "ftp://example.org/feed"), {}, "only http and https"),
        (("feeds", "remove", "nope"), {}, "no feed 'nope'"),
        (
            ("rules", "add", "r", "ceasefire AND (", "--webhook", "https://h.example/x"),
            {},
            "position",
        ),
        (
            ("rules", "add", "r", "ceasefire", "--webhook", "https://h.example/x", "--secret", "x"),
            {},
            "whsec_",
        ),
        (("poll", "42"), {}, "no feed '42'"),
        (("extract", "/no/such/file.html"), {}, "no such file"),
        (("feeds", "list"), {"NEWSWATCH_BEAT_INTERVAL": "soon"}, "NEWSWATCH_BEAT_INTERVAL"),
        (("worker",), {"NEWSWATCH_BROKER_URL": "redis://127.0.0.1:1/0"}, "cannot reach the broker"),
        # Checked once by `run` itself, before it forks: its children wait for the broker.
        (("run",), {"NEWSWATCH_BROKER_URL": "redis://127.0.0.1:1/0"}, "cannot reach the broker"),
        (
            ("feeds", "list"),
            {"NEWSWATCH_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/x"},
            "cannot use the database",
        ),
    ],
)
def test_user_mistakes_give_one_line(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], fragment: str
) -> None:
    _assert_one_line_error(_run(tmp_path, *args, **extra), fragment)


def test_invalid_yaml_config(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: [oops\n")
    result = _run(tmp_path, "config", "sync", NEWSWATCH_RULES_FILE=str(rules))
    _assert_one_line_error(result, "invalid YAML")


def test_a_notify_target_apprise_cannot_use_refuses_only_that_target(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: ceasefire\n"
        "    query: ceasefire\n"
        "    webhook: https://hooks.example.org/newswatch\n"
        "    notify: ['tgramm://123456:ABCDEF/42', 'json://hooks.example.org/notify']\n"
        "  - name: evacuation\n"
        "    query: evacuation\n"
        "    webhook: https://hooks.example.org/newswatch\n"
    )
    result = _run(tmp_path, "config", "sync", NEWSWATCH_RULES_FILE=str(rules))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert "'ceasefire'" in error and "notify target refused" in error and "tgramm://" in error
    assert "ABCDEF" not in error  # the target's token stays out of the logs
    assert "synced 0 feeds and 2 rules" in result.stderr
    listed = _run(tmp_path, "rules", "list").stdout
    assert "ceasefire" in listed and "evacuation" in listed
    assert "+1 channels" in listed  # the other target of that rule is kept


def test_feeds_and_rules_round_trip(tmp_path: Path) -> None:
    assert (
        _run(
            tmp_path, "feeds", "add", "https://news.invalid/rss", "--name", "ex", "--no-check"
        ).returncode
        == 0
    )
    listed = _run(tmp_path, "feeds", "list").stdout
    assert "https://news.invalid/rss" in listed and "ex" in listed
    added = _run(
        tmp_path,
        "rules",
        "add",
        "truce",
        '"humanitarian pause" OR ceasefire',
        "--webhook",
        "https://h.example/x",
    )
    assert added.returncode == 0 and "signing secret: whsec_" in added.stdout
    rules = _run(tmp_path, "rules", "list").stdout
    assert "truce" in rules and "whsec_****" in rules
    assert _run(tmp_path, "rules", "remove", "truce").returncode == 0
    assert _run(tmp_path, "feeds", "remove", "ex").returncode == 0
    assert _run(tmp_path, "feeds", "list").stdout.strip() == ""


def test_extract_jsonl_contract(tmp_path: Path) -> None:
    html = (FIXTURES / "articles" / "port-evacuation.html").read_text()
    lines = [
        json.dumps({"id": "a", "text": "At least 12 people were killed and 40 injured in Homs."}),
        json.dumps({"id": "b", "html": html, "url": "https://example.org/port"}),
        "not json",
        json.dumps({"id": "c", "text": "Markets were calm."}),
    ]
    result = _run(tmp_path, "extract", "--jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", None, "c"]
    for o in (out[0], out[1], out[3]):
        assert {
            "id",
            "title",
            "text",
            "language",
            "published",
            "figures",
            "topics",
            "places",
        } <= set(o)
    assert {(f["value"], f["category"]) for f in out[0]["figures"]} == {
        (12, "killed"),
        (40, "injured"),
    }
    assert "evacuat" in out[1]["text"] and "cookie" not in out[1]["text"].lower()
    assert out[2]["error"].startswith("line 3")


def test_rules_test_jsonl_contract(tmp_path: Path) -> None:
    lines = [
        {
            "id": 1,
            "query": "evacuation",
            "article": {
                "title": "t",
                "text": "Residents were evacuated.",
                "feed": "f",
                "language": "en",
            },
        },
        {
            "id": 2,
            "query": "war",
            "article": {"title": "t", "text": "She won an award.", "feed": "f", "language": "en"},
        },
        {
            "id": 3,
            "query": "a AND (",
            "article": {"title": "t", "text": "x", "feed": "f", "language": "en"},
        },
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = _run(tmp_path, "rules", "test", "--jsonl", stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["id"], o["matched"]) for o in out] == [(1, True), (2, False), (3, False)]
    assert out[0]["hits"][0]["sentence"] == "Residents were evacuated."
    assert out[2]["error"] and out[0]["error"] is None


def test_rules_test_on_a_file(tmp_path: Path) -> None:
    page = str(FIXTURES / "articles" / "ceasefire-talks.html")
    matched = _run(tmp_path, "rules", "test", "cease-fire AND NOT evacuation", page)
    assert matched.returncode == 0, matched.stderr
    assert json.loads(matched.stdout)["matched"] is True
    assert _run(tmp_path, "rules", "test", "evacuation", page).returncode == 1


# What a list command must never load: the cleaner, the extractors, the HTTP stack, the
# migration tool and the task queue are each hundreds of milliseconds of start-up.
_HEAVY = (
    "alembic",
    "apprise",
    "celery",
    "datasketch",
    "fastapi",
    "feedparser",
    "httpx",
    "kombu",
    "luqum",
    "numpy",
    "prometheus_client",
    "scipy",
    "starlette",
    "trafilatura",
    "uvicorn",
)


@pytest.mark.parametrize(
    "command", [["feeds", "list"], ["rules", "list"], ["alerts", "list"], ["keys", "list"]]
)
def test_list_commands_start_without_heavy_imports(tmp_path: Path, command: list[str]) -> None:
    # First run creates the store (that may load the migration tool); the second is the
    # everyday case on an existing store.
    assert _run(tmp_path, *command).returncode == 0
    probe = (
        "import json, sys\n"
        f"sys.argv = ['newswatch', *{command!r}]\n"
        "from worker.cli import app\n"
        "app(standalone_mode=False)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {name for name in _HEAVY if name in loaded} == set()


def test_log_format_flag_overrides_the_environment(tmp_path: Path) -> None:
    shown = _run(tmp_path, "--log-format", "json", "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["log_format"] == "json"
    refused = _run(tmp_path, "--log-format", "xml", "config", "show")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "'xml' is not one of" in refused.stderr


def test_rules_test_jsonl_extracts_figures_places_and_topics(tmp_path: Path) -> None:
    # An article given as plain text carries no extraction: the batch mode must run it, or
    # figure, place and topic queries could never match (as they do in the file mode).
    text = (
        "Shelling of Aleppo killed 14 civilians on Tuesday, and rescue teams said the toll "
        "could rise as fighting between government forces and rebels went on."
    )
    queries = ["killed:>=10", "place:SY", 'topic:"armed conflict"', "killed:>=100"]
    stdin = "".join(
        json.dumps({"id": i, "query": q, "article": {"title": "Aleppo", "text": text}}) + "\n"
        for i, q in enumerate(queries)
    )
    result = _run(tmp_path, "rules", "test", "--jsonl", stdin=stdin)
    assert result.returncode == 0, result.stderr
    matched = {row["id"]: row["matched"] for row in map(json.loads, result.stdout.splitlines())}
    assert matched == {0: True, 1: True, 2: True, 3: False}
