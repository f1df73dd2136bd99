"""How long an alert delivery waits behind a backlog of page fetches, beside an idle pipeline.

`newswatch run` (the embedded defaults, or Redis + PostgreSQL) watches one fast feed whose
article matches a rule; once that alert arrived, it is replayed a few times on an idle
pipeline (the baseline). Then a second feed lists ``--pages`` pages on another loopback
host, each answering after ``--page-seconds``; while their fetches are queued, the alert is
replayed again. Printed: replay → webhook latency idle and behind the backlog, their ratio,
and how many bulk pages had been served when the delivery arrived.

Only CLI commands every version has (`rules add`, `feeds add`, `alerts replay`, `run`) are
used, so the same script measures an older checkout:

    .venv/bin/python -m benchmarks.bench_delivery_backlog [--pages 100] [--page-seconds 1]
        [--backend embedded|services] [--timeout 300]
    (cd OLD_CHECKOUT && PYTHONPATH=. /path/to/.venv/bin/python /path/to/bench_delivery_backlog.py)

Everything listens and connects on loopback only; every wait is bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ARTICLE = """<html><head><title>{title}</title></head><body><article><h1>{title}</h1>
<p>{lead} The valley road was cut in two places and rescue teams worked through the night,
officials said on Tuesday, adding that more rain was expected before the weekend.</p>
<p>Residents described hearing a roar before the slope gave way. Local radio said dozens of
homes had been damaged and that the regional governor would visit the area on Wednesday.</p>
<p>Engineers were assessing whether the nearby bridge was safe to use, and schools in the
district were closed until further notice while the clean-up went on.</p></article></body></html>"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Site:
    """Feeds and pages; pages under /bulk/ answer after ``delay`` seconds."""

    def __init__(self, host: str, pages: int, delay: float) -> None:
        self.pages, self.delay = pages, delay
        self.bulk_served = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = site.answer(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://{host}:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[bytes, str]:
        if path == "/wire.rss":
            return _rss(self.base, "Wire", ["/wire/0.html"]), "application/rss+xml"
        if path == "/bulk.rss":
            links = [f"/bulk/{n}.html" for n in range(self.pages)]
            return _rss(self.base, "Bulk", links), "application/rss+xml"
        if path.startswith("/wire/"):
            lead = "A landslide buried part of a mountain village after days of rain."
            return ARTICLE.format(title="Landslide buries village", lead=lead).encode(), "text/html"
        if path.startswith("/bulk/"):
            time.sleep(self.delay)
            with self._lock:
                self.bulk_served += 1
            lead = f"Bank shares rose for the {path} time as rates were held."
            return ARTICLE.format(title=f"Markets {path}", lead=lead).encode(), "text/html"
        return b"", "text/plain"


def _rss(base: str, title: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{title} {n}</title><link>{base}{link}</link><guid>{base}{link}</guid>"
        f"<pubDate>Tue, 14 May 2024 06:00:00 GMT</pubDate><description>{title}</description></item>"
        for n, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{base}/</link><description>{title}</description>{items}</channel></rss>"
    ).encode()


class Receiver:
    """Records when each webhook POST arrives (signatures are the tests' business)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.arrivals.append(time.monotonic())
                    receiver._cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.arrivals) < count:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    return None
            return self.arrivals[count - 1]


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--page-seconds", type=float, default=1.0)
    parser.add_argument("--backend", choices=["embedded", "services"], default="embedded")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="nw-backlog-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        NEWSWATCH_DATA_DIR=str(data_dir),
        NEWSWATCH_HTTP_ALLOW_HOSTS="127.0.0.0/8",
        NEWSWATCH_BEAT_INTERVAL="1",
        NEWSWATCH_LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore:You're running the worker with superuser privileges",
    )
    database = None
    if args.backend == "services":
        import psycopg
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        database = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        base = args.postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        env.update(NEWSWATCH_BROKER_URL=args.redis_url, NEWSWATCH_DATABASE_URL=f"{base}/{database}")

    def cli(*command: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "worker.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=args.timeout,
        )
        if result.returncode:
            raise SystemExit(f"newswatch {' '.join(command)} failed: {result.stderr[-500:]}")
        return result.stdout

    site = Site("127.0.0.78", args.pages, args.page_seconds)
    receiver = Receiver()
    log = data_dir / "run.log"
    worker = None
    try:
        cli("db", "upgrade")
        cli("rules", "add", "landslide", "landslide", "--webhook", receiver.url)
        cli("feeds", "add", f"{site.base}/wire.rss", "--name", "wire", "--backfill")
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.monotonic()
        if receiver.wait_for(1, args.timeout) is None:
            raise SystemExit(f"no first alert within {args.timeout:.0f} s; see {log}")
        print(f"first alert {time.monotonic() - started:.1f} s after `run` started")
        rows = [json.loads(line) for line in cli("alerts", "list", "--json").splitlines()]
        alert_id = str(rows[0]["id"])

        def replay() -> float:
            count = len(receiver.arrivals) + 1
            sent = time.monotonic()  # the command's own start-up counts, idle and behind alike
            cli("alerts", "replay", alert_id)
            arrived = receiver.wait_for(count, args.timeout)
            if arrived is None:
                raise SystemExit(f"replay not delivered within {args.timeout:.0f} s; see {log}")
            return arrived - sent

        idle = [replay() for _ in range(3)]
        cli("feeds", "add", f"{site.base}/bulk.rss", "--name", "bulk", "--backfill")
        if not wait_until(lambda: site.bulk_served >= 1, args.timeout):
            raise SystemExit(f"the bulk pages were never fetched; see {log}")
        behind = replay()
        served = site.bulk_served
        idle_median = statistics.median(idle)
        print(
            f"replay -> webhook, idle pipeline (median of 3)   {idle_median:7.2f} s\n"
            f"replay -> webhook, behind {args.pages} page fetches "
            f"({args.page_seconds:g} s each)  {behind:7.2f} s   "
            f"ratio {behind / idle_median:.1f}x\n"
            f"bulk pages served when it arrived: {served}/{args.pages}"
        )
        return 0
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        site.server.shutdown()
        receiver.server.shutdown()
        if database is not None:
            import psycopg

            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        with_embedded = (data_dir / "redis").is_dir()
        if with_embedded:
            from pipeline.io import embedded_redis

            embedded_redis.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
