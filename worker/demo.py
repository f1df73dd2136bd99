"""`newswatch demo`: the whole pipeline on embedded defaults, on loopback only.

Serves seeds/ over HTTP, starts `newswatch run` (workers + beat, the embedded Redis broker, SQLite)
in a fresh data directory, watches the seed feeds with the shipped config/rules.yaml, and
prints every alert whose Standard Webhooks signature verifies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

from pipeline.io import embedded_redis
from pipeline.settings import shipped_path
from pipeline.stages.alert import generate_secret
from worker.loopback import SiteServer, WebhookReceiver, describe_alert

SEEDS = shipped_path("seeds")


def demo_environment(data_dir: Path, webhook_url: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "NEWSWATCH_DATA_DIR": str(data_dir),
            "NEWSWATCH_HTTP_ALLOW_HOSTS": "127.0.0.1",
            "NEWSWATCH_BEAT_INTERVAL": "2",
            # The sample rules (ceasefire, evacuation), armed with the demo's own receiver.
            "NEWSWATCH_RULES_FILE": str(shipped_path("config", "rules.yaml")),
            "NEWSWATCH_ALERT_WEBHOOK_URL": webhook_url,
            "NEWSWATCH_ALERT_WEBHOOK_SECRET": secret,
            "NEWSWATCH_LOG_LEVEL": os.environ.get("NEWSWATCH_LOG_LEVEL", "WARNING"),
            # The demo often runs as root in a sandbox; Celery's warning about it is noise here.
            "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
        }
    )
    return env


def run_demo(exit_after: int | None, timeout: float | None, keep_data: bool) -> int:
    secret = generate_secret()
    site = SiteServer(SEEDS).start()
    receiver = WebhookReceiver(secret).start()
    data_dir = Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    env = demo_environment(data_dir, receiver.url, secret)
    command = [sys.executable, "-m", "worker.cli"]
    feeds = sorted((SEEDS / "feeds").glob("*.*"))
    typer.echo(f"seeds served at {site.base_url}; webhooks received at {receiver.url}")
    typer.echo(f"data directory: {data_dir}")
    worker: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([*command, "config", "sync"], env=env, check=True)
        for feed in feeds:
            url = f"{site.base_url}/feeds/{feed.name}"
            subprocess.run(
                # The seed stories are years old: --backfill alerts on them anyway.
                [
                    *command,
                    "feeds",
                    "add",
                    url,
                    "--name",
                    feed.stem,
                    "--interval",
                    "60",
                    "--backfill",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        key = subprocess.run(
            [*command, "keys", "create", "demo", "--scope", "admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _dashboard_port()
        typer.echo(f"watching {len(feeds)} seed feeds; starting workers, beat and the dashboard…")
        typer.echo(f"dashboard: http://127.0.0.1:{port}/dashboard/ (log in with the key {key})")
        typer.echo(f"API: http://127.0.0.1:{port}/api/v1 (Authorization: Bearer {key})")
        worker = subprocess.Popen(
            [*command, "run", "--serve", "--port", str(port)], env=env, start_new_session=True
        )
        return _print_alerts(receiver, worker, exit_after, timeout)
    except subprocess.CalledProcessError as exc:
        typer.echo(f"newswatch: error: demo set-up failed ({exc})", err=True)
        return 2
    finally:
        if worker is not None:
            _stop(worker)
        site.stop()
        receiver.stop()
        # `run` stops the embedded broker as it exits; one that was killed leaves it running.
        embedded_redis.stop(data_dir)
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


def _dashboard_port() -> int:
    """8000 when it is free (the usual address), else any free loopback port."""
    import socket

    for port in (8000, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free loopback port for the dashboard")


def _print_alerts(
    receiver: WebhookReceiver,
    worker: subprocess.Popen[bytes],
    exit_after: int | None,
    timeout: float | None,
) -> int:
    deadline = time.monotonic() + timeout if timeout else None
    seen = 0
    while True:
        if exit_after is not None and seen >= exit_after:
            typer.echo(f"demo: {seen} verified alerts received")
            return 0
        if worker.poll() is not None:
            typer.echo(
                f"newswatch: error: the worker exited with status {worker.returncode}", err=True
            )
            return 1
        wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
        if wait <= 0:
            typer.echo(
                f"newswatch: error: timed out after {timeout:g}s with {seen} verified alerts",
                err=True,
            )
            return 1
        alert = receiver.next_alert(seen, wait)
        if alert is not None:
            seen += 1
            typer.echo(f"alert {seen} (verified {alert.webhook_id}): {describe_alert(alert)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        # SIGTERM to the main process only: Celery then stops its pool itself (warm shutdown).
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
