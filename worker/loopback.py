"""Loopback HTTP helpers for the demo and the end-to-end tests.

``SiteServer`` serves a directory (feeds and pages), replacing the ``{{base}}`` placeholder
in text files with its own address. ``WebhookReceiver`` accepts alert webhooks, verifies
each signature with the ``standardwebhooks`` package and keeps the verified ones; it can be
scripted to answer with chosen status codes first.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

_TEXT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self) -> None:
        # Any loopback address; tests that need an allowlisted server apart from the
        # addresses that must never be reached set another one (127.0.0.77) before start.
        self.host = "127.0.0.1"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _start(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._server = _Server((self.host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SiteServer(_Base):
    """Serves files under ``root``; unknown paths are 404. Counts requests per path."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.resolve()
        self.hits: dict[str, int] = {}
        # Called with each request's path before it is answered (tests slow a page down or
        # inject a fault at that moment); runs on the request's thread.
        self.on_get: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    def start(self) -> SiteServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.hits[path] = site.hits.get(path, 0) + 1
                if site.on_get is not None:
                    site.on_get(path)
                target = (site.root / path.lstrip("/")).resolve()
                if site.root not in target.parents or not target.is_file():
                    self.send_error(404)
                    return
                body = target.read_bytes().replace(b"{{base}}", site.base_url.encode())
                kind = _TEXT_TYPES.get(target.suffix) or (
                    mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                )
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._start(Handler)
        return self


HANG = -1  # a scripted "response" that never answers


@dataclass
class ReceivedAlert:
    webhook_id: str
    payload: dict[str, Any]
    received_at: float


@dataclass
class _Script:
    # Status codes to answer with, in order, before answering 200 (with optional headers).
    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)


class WebhookReceiver(_Base):
    """Verifies every POST with standardwebhooks; keeps verified alerts in arrival order."""

    def __init__(self, secret: str, script: Iterable[tuple[int, dict[str, str]]] = ()) -> None:
        super().__init__()
        self.secret = secret
        self.verified: list[ReceivedAlert] = []
        self.rejected: list[str] = []
        self.requests = 0
        # The webhook-id of every POST, answered or not, in arrival order.
        self.attempt_ids: list[str] = []
        self._script = _Script(list(script))
        self._cond = threading.Condition()

    def start(self, port: int = 0) -> WebhookReceiver:
        """Listen on ``port`` (default: any free one)."""
        receiver = self
        verifier = Webhook(self.secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._cond:
                    receiver.requests += 1
                    receiver.attempt_ids.append(headers.get("webhook-id", ""))
                    scripted = (
                        receiver._script.responses.pop(0) if receiver._script.responses else None
                    )
                if scripted is not None:
                    status, extra = scripted
                    if status == HANG:
                        # Say nothing for longer than any sane client timeout.
                        time.sleep(float(extra.get("seconds", "30")))
                        return
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return
                try:
                    payload = verifier.verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver._cond:
                        receiver.rejected.append(str(exc))
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver._cond:
                    receiver.verified.append(
                        ReceivedAlert(headers.get("webhook-id", ""), payload, time.time())
                    )
                    receiver._cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._start(Handler, port)
        return self

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/newswatch"

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until ``count`` verified alerts arrived or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.verified) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def next_alert(self, seen: int, timeout: float) -> ReceivedAlert | None:
        if self.wait_for(seen + 1, timeout):
            return self.verified[seen]
        return None


def describe_alert(alert: ReceivedAlert) -> str:
    data = alert.payload.get("data", {})
    rule = data.get("rule", {}).get("name")
    title = data.get("article", {}).get("title")
    matches = data.get("matches") or [{}]
    sentence = matches[0].get("sentence", "")
    return f"[{rule}] {title}\n    \u201c{sentence}\u201d"


def dumps(alert: ReceivedAlert) -> str:
    return json.dumps(alert.payload, ensure_ascii=False)
