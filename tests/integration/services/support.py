"""Helpers shared by the service tests: poll a feed through, capture JSON posts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pipeline.runtime import Runtime
from pipeline.services import articles, polling


def poll_all(rt: Runtime, feed_id: int) -> list[int]:
    alerts: list[int] = []
    report = polling.refresh_feed(feed_id, rt)
    assert report.status == "ok", report
    for article_id in report.new_article_ids:
        articles.fetch_article(article_id, rt)
        alerts += articles.process_article(article_id, rt).alert_ids
    return alerts


class JsonCapture:
    """A loopback server that records JSON posts (Apprise's json:// channel)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posts: list[dict[str, object]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/notify"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
