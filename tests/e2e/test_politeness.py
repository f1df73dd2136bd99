"""Per-host politeness across two real worker processes sharing one Redis.

A loopback server on two addresses (two hosts) answers every feed slowly and counts the
requests in flight per host; one host answers its first request with 429 + Retry-After.
Both workers, one beat: the server never sees more than one request at a time per host,
and nobody asks the blocked host anything until its Retry-After has passed.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.harness import backend, newswatch_process, wait_until
from worker.layout import TASK_QUEUES

pytestmark = pytest.mark.e2e

HOSTS = ("127.0.0.1", "127.0.0.2")
# Only the queues polling needs (the layout names them): no extract pool to start.
POLLING = (
    "--queues",
    ",".join({TASK_QUEUES[t] for t in ("newswatch.refresh_due_feeds", "newswatch.refresh_feed")}),
)
FEEDS_PER_HOST = 8
RETRY_AFTER = 4
ANSWER_SECONDS = 0.3
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>polite</title>
<link>http://polite.invalid/</link><description>no items</description></channel></rss>"""


class CountingSite:
    """Records (start, end, path) of every request per host and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = dict.fromkeys(HOSTS, 0)
        self.most = dict.fromkeys(HOSTS, 0)
        self.requests: dict[str, list[tuple[float, str]]] = {host: [] for host in HOSTS}
        self.blocked_at: float | None = None
        self.servers: list[ThreadingHTTPServer] = []
        self.port = 0
        for host in HOSTS:  # one port on every address, so the hosts differ only by name
            self.servers.append(self._serve(host, self.port))
            self.port = self.servers[0].server_address[1]

    def _serve(self, host: str, port: int) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site.lock:
                    site.in_flight[host] += 1
                    site.most[host] = max(site.most[host], site.in_flight[host])
                    site.requests[host].append((time.monotonic(), self.path))
                    first_on_blocked_host = host == HOSTS[1] and site.blocked_at is None
                    if first_on_blocked_host:
                        site.blocked_at = time.monotonic()
                time.sleep(ANSWER_SECONDS)
                with site.lock:
                    site.in_flight[host] -= 1
                if first_on_blocked_host:
                    self.send_response(429)
                    self.send_header("Retry-After", str(RETRY_AFTER))
                    body = b"slow down"
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    body = FEED
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def polled_paths(self) -> set[str]:
        with self.lock:
            return {path for host in HOSTS for _, path in self.requests[host]}

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def test_two_workers_share_per_host_limits_and_retry_after(tmp_path: Path) -> None:
    site = CountingSite()
    try:
        with backend("services", tmp_path) as b:
            feeds = tmp_path / "feeds.yaml"
            lines = ["feeds:"]
            for host in HOSTS:
                for n in range(FEEDS_PER_HOST):
                    lines.append(
                        f"  - url: http://{host}:{site.port}/{host}/{n}.xml\n    interval: 600"
                    )
            feeds.write_text("\n".join(lines) + "\n")
            b.env.update(
                NEWSWATCH_FEEDS_FILE=str(feeds),
                NEWSWATCH_HTTP_ALLOW_HOSTS="127.0.0.0/8",
                NEWSWATCH_HOST_MIN_GAP="0.05",
                NEWSWATCH_HOST_WAIT="0.5",
            )
            b.cli("db", "upgrade")
            log = tmp_path / "workers.log"
            with (
                newswatch_process(b, tmp_path / "one.log", "worker", *POLLING, "--name", "one"),
                newswatch_process(b, tmp_path / "two.log", "worker", *POLLING, "--name", "two"),
                newswatch_process(b, log, "beat"),
            ):
                everyone = {f"/{host}/{n}.xml" for host in HOSTS for n in range(FEEDS_PER_HOST)}
                assert wait_until(lambda: site.polled_paths() >= everyone, timeout=90), (
                    sorted(everyone - site.polled_paths()),
                    (tmp_path / "one.log").read_text()[-3000:],
                )
            worker_logs = [(tmp_path / f"{n}.log").read_text() for n in ("one", "two")]
    finally:
        site.stop()
    assert site.most == dict.fromkeys(HOSTS, 1), site.most
    # Both workers polled: the limit held across processes, not within one.
    assert all("polled feed" in text for text in worker_logs)
    assert site.blocked_at is not None
    later = [start for start, _ in site.requests[HOSTS[1]] if start > site.blocked_at]
    assert later and min(later) >= site.blocked_at + RETRY_AFTER - 0.2
    # Meanwhile the other host was served.
    assert any(site.blocked_at < start < min(later) for start, _ in site.requests[HOSTS[0]])
