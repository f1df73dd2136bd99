"""`feeds import/export`, `articles search` and `articles evidence` as a user runs them: from
an empty directory, the CLI as a subprocess, mistakes as one line with exit status 2."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.stages.opml import parse_opml
from tests.conftest import FIXTURES, REPO_ROOT
from worker.loopback import SiteServer


def _run(cwd: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_HTTP_ALLOW_HOSTS"] = "127.0.0.1"
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        env=env,
        capture_output=True,
        text=not binary,
        timeout=180,
        cwd=cwd,
    )


def _one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:  # type: ignore[type-arg]
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(FIXTURES).start()
    yield server
    server.stop()


def test_import_export_round_trip_from_an_empty_directory(tmp_path: Path, site: SiteServer) -> None:
    opml = (FIXTURES / "opml" / "redaction-latin1.opml").read_bytes()
    (tmp_path / "abonnements.opml").write_bytes(opml.replace(b"{{base}}", site.base_url.encode()))
    imported = _run(tmp_path, "feeds", "import", "abonnements.opml")
    assert imported.returncode == 1, imported.stderr  # one outline refused
    assert "Traceback" not in imported.stderr
    assert imported.stdout.count("added feed") == 2
    assert "refused line 7 'Fil sans adresse' (no URL)" in imported.stderr
    assert "2 feeds added, 0 already watched, 1 refused" in imported.stderr

    exported = _run(tmp_path, "feeds", "export", binary=True)
    assert exported.returncode == 0, exported.stderr
    outlines = parse_opml(exported.stdout).outlines
    assert [(o.title, o.folder) for o in outlines] == [
        ("Marchés & bourse", ("Économie",)),
        ("Café des sciences", ("Sciences", "Vulgarisation")),
    ]
    (tmp_path / "feeds.opml").write_bytes(exported.stdout)
    again = _run(tmp_path, "feeds", "import", "feeds.opml", "--no-check")
    assert again.returncode == 0 and "0 feeds added, 2 already watched" in again.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("feeds", "import", "nope.opml"), "no such file: nope.opml"),
        (("feeds", "import", "page.html"), "not an OPML file"),
        (("articles", "search", "ceasefire AND ("), "invalid query"),
        (("articles", "search", "x", "--since", "yesterday"), "invalid --since 'yesterday'"),
        (("articles", "search", "x", "--figure", "killed>5"), "invalid figure filter"),
        (("articles", "search", "x", "--cursor", "abc"), "invalid cursor"),
        (("articles", "search", "x", "--feed", "Nope"), "no feed 'Nope'"),
        (("articles", "evidence", "999"), "no article with id 999"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    (tmp_path / "page.html").write_text("<html><body>hello</body></html>")
    _one_line_error(_run(tmp_path, *args), fragment)


def test_search_and_the_evidence_of_an_alert(tmp_path: Path, site: SiteServer) -> None:
    steps = [
        ("rules", "add", "ceasefire", "ceasefire", "--webhook", "http://127.0.0.1:9/hook"),
        ("feeds", "add", f"{site.base_url}/feeds/alpha.rss", "--name", "Ledger", "--backfill"),
        ("poll", "Ledger"),
    ]
    for step in steps:
        result = _run(tmp_path, *step)
        assert result.returncode == 0, (step, result.stderr)

    found = _run(tmp_path, "articles", "search", "ceasefire OR evacu*", "--json", "--limit", "1")
    assert found.returncode == 0, found.stderr
    first = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(first) == 1 and "more: --cursor" in found.stderr
    cursor = found.stderr.split("--cursor ")[1].split()[0]
    rest = _run(tmp_path, "articles", "search", "ceasefire OR evacu*", "--json", "--cursor", cursor)
    second = [json.loads(line) for line in rest.stdout.splitlines()]
    assert len(second) == 1 and second[0]["id"] != first[0]["id"]
    ceasefire = next(a for a in first + second if "Ceasefire" in a["title"])
    assert ceasefire["hits"][0]["term"] == "ceasefire"
    assert _run(tmp_path, "articles", "search", "ceasefire", "--feed", "Ledger").returncode == 0

    alert = json.loads(_run(tmp_path, "alerts", "show", "1", "--json").stdout)
    expected = alert["payload"]["data"]["article"]["evidence"]["sha256"]
    kept = _run(tmp_path, "articles", "evidence", str(ceasefire["id"]), binary=True)
    assert kept.returncode == 0, kept.stderr
    assert hashlib.sha256(kept.stdout).hexdigest() == expected
    assert kept.stdout[:2] == b"\x1f\x8b"  # gzip
    assert f"sha256 {expected}" in kept.stderr.decode()
    saved = _run(tmp_path, "articles", "evidence", str(ceasefire["id"]), "-o", "page.warc.gz")
    assert saved.returncode == 0
    assert hashlib.sha256((tmp_path / "page.warc.gz").read_bytes()).hexdigest() == expected
