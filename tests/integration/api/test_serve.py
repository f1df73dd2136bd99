"""`newswatch serve` as a user runs it: a real server process on PostgreSQL and Redis,
keys made and revoked with the CLI, the API, /readyz and /metrics over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.e2e.harness import postgres_database, redis_broker
from worker.loopback import SiteServer

NEWSWATCH = [sys.executable, "-m", "worker.cli"]
REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with postgres_database() as database, redis_broker() as broker:
        values = {
            key: value for key, value in os.environ.items() if not key.startswith("NEWSWATCH_")
        }
        values.update(
            NEWSWATCH_DATABASE_URL=database,
            NEWSWATCH_BROKER_URL=broker,
            NEWSWATCH_DATA_DIR=str(tmp_path / "data"),
            NEWSWATCH_HTTP_ALLOW_HOSTS="127.0.0.1",
            PYTHONPATH=str(REPO),
        )
        yield values


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSWATCH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_serve_answers_the_api_with_keys_made_on_the_command_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    wrong = _cli(env, tmp_path, "keys", "create", "ops", "--scope", "root")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "scope" in wrong.stderr
    made = _cli(env, tmp_path, "keys", "create", "ops", "--scope", "admin")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("nwk_") and "shown once" in made.stderr
    port = _free_port()
    server = subprocess.Popen(
        [*NEWSWATCH, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    site = SiteServer(FIXTURES).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "newswatch serve did not start in 60 s"
            time.sleep(0.3)

        assert httpx.get(f"{base}/readyz").json() == {"ready": True, "store": "ok", "broker": "ok"}
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/feeds").status_code == 401
        added = httpx.post(
            f"{base}/api/v1/feeds",
            headers=auth,
            json={"url": f"{site.base_url}/feeds/alpha.rss", "name": "alpha"},
            timeout=30,
        )
        assert added.status_code == 201, added.text
        listed = httpx.get(f"{base}/api/v1/feeds", headers=auth).json()
        assert [(f["name"], f["health"]) for f in listed] == [("alpha", "ok")]

        import redis

        redis.Redis.from_url(env["NEWSWATCH_BROKER_URL"]).lpush("extract", "{}", "{}")
        scrape = httpx.get(f"{base}/metrics").text
        assert 'newswatch_feeds{health="ok"} 1.0' in scrape
        assert 'newswatch_queue_depth{queue="extract"} 2.0' in scrape

        busy = _cli(env, tmp_path, "serve", "--port", str(port))
        assert busy.returncode == 2
        assert busy.stderr.count("\n") == 1 and "in use" in busy.stderr

        revoked = _cli(env, tmp_path, "keys", "revoke", "1")
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(f"{base}/api/v1/feeds", headers=auth).status_code == 401
        listing = _cli(env, tmp_path, "keys", "list").stdout
        assert "revoked" in listing and token not in listing
    finally:
        site.stop()
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Traceback" not in output, output
