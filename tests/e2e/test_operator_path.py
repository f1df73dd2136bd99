"""The operator's first steps, as a new user takes them: an empty directory, nothing
prepared, the CLI as a subprocess, a rule named as a user would name it (`ceasefire`, a
name the sample config also uses), then `newswatch run` — on Redis + PostgreSQL and on the
embedded defaults. The alert must reach that rule's own webhook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from pipeline.stages.alert import generate_secret
from tests.e2e.harness import postgres_database, redis_broker, wait_until
from worker.loopback import SiteServer, WebhookReceiver

pytestmark = pytest.mark.e2e


def _site(root: Path) -> None:
    now = datetime.now(UTC)
    (root / "feeds").mkdir(parents=True)
    (root / "articles").mkdir()
    (root / "feeds" / "desk.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Night desk</title>'
        "<item><title>Guns fall silent as truce takes hold in the north</title>"
        "<link>{{base}}/articles/truce.html</link><guid>desk-truce</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=20))}</pubDate>"
        "<description>A ceasefire began at dawn.</description></item>"
        "<item><title>Grain prices steady</title>"
        "<link>{{base}}/articles/grain.html</link><guid>desk-grain</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=40))}</pubDate>"
        "<description>Markets were calm.</description></item>"
        "</channel></rss>"
    )
    (root / "articles" / "truce.html").write_text(
        "<html><head><title>Guns fall silent</title></head><body><article>"
        "<h1>Guns fall silent as truce takes hold in the north</h1>"
        "<p>A ceasefire agreed overnight took hold at dawn on Tuesday, local officials said, "
        "after four days of shelling that killed at least 23 people.</p>"
        "<p>Aid convoys were expected to reach the district by the evening.</p>"
        "</article></body></html>"
    )
    (root / "articles" / "grain.html").write_text(
        "<html><body><article><p>Grain prices were steady on Tuesday.</p></article></body></html>"
    )


def _newswatch(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize("kind", ["services", "embedded"])
def test_a_new_users_rule_gets_its_alert(kind: str, tmp_path: Path) -> None:
    home = tmp_path / "empty"
    home.mkdir()
    _site(tmp_path / "site")
    secret = generate_secret()
    with ExitStack() as stack:
        site = SiteServer(tmp_path / "site").start()
        stack.callback(site.stop)
        receiver = WebhookReceiver(secret).start()
        stack.callback(receiver.stop)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        env |= {"NEWSWATCH_HTTP_ALLOW_HOSTS": "127.0.0.1", "NEWSWATCH_BEAT_INTERVAL": "1"}
        if kind == "services":
            env["NEWSWATCH_BROKER_URL"] = stack.enter_context(redis_broker())
            env["NEWSWATCH_DATABASE_URL"] = stack.enter_context(postgres_database())
        _newswatch(
            home,
            env,
            "rules",
            "add",
            "ceasefire",
            "ceasefire",
            "--webhook",
            receiver.url,
            "--secret",
            secret,
        )
        _newswatch(home, env, "feeds", "add", f"{site.base_url}/feeds/desk.rss")
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "run", "--concurrency", "2"],
                cwd=home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            arrived = wait_until(
                lambda: bool(receiver.verified) or worker.poll() is not None, timeout=120
            )
            log_text = log_path.read_text(errors="replace")
            assert arrived and worker.poll() is None, log_text[-4000:]
            # Read before the stop: a SIGTERM mid-task makes Celery log its shutdown.
            assert "Traceback" not in log_text, log_text[-4000:]
        finally:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        (alert,) = receiver.verified
        data = alert.payload["data"]
        assert data["rule"]["name"] == "ceasefire"
        assert data["article"]["url"].endswith("/articles/truce.html")
        assert receiver.rejected == []
        if kind == "embedded":
            assert (home / "newswatch-data" / "newswatch.db").is_file()
