"""A minimal newswatch webhook receiver that verifies every signature.

    NEWSWATCH_SECRET=whsec_... python examples/receiver.py 8900

Point a rule (or NEWSWATCH_OPERATOR_WEBHOOK_URL) at http://127.0.0.1:8900/newswatch. Needs
only `standardwebhooks`. It prints one JSON line per new webhook on stdout:

- ``alert.matched``: the rule, the article, the matched sentences and the story kind;
- ``alert.digest``: the rule, the period and the alerts it lists;
- ``feed.failing`` / ``feed.silent`` / ``feed.recovered``: the feed and its health change;
- any other type: printed as it came, so a newer newswatch never breaks this receiver.

Answer 2xx quickly; newswatch retries anything else (401 for a bad signature is retried
too, in case the secret is being rotated). Deduplicate on ``webhook-id``: it is the same on
every retry of one message.

Port 0 picks a free port; the address is printed on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TextIO

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

MAX_BODY = 1024 * 1024  # newswatch's payloads are a few kB; refuse anything absurd
MAX_SEEN = 10_000  # webhook-ids remembered for deduplication (oldest forgotten first)


# --- one line per payload type ------------------------------------------------------------


def describe_alert(data: dict[str, Any]) -> dict[str, Any]:
    """``alert.matched``: data.rule, data.article, data.matches, data.story."""
    article = _dict(data.get("article"))
    return {
        "rule": _dict(data.get("rule")).get("name"),
        "story": _dict(data.get("story")).get("kind"),
        "title": article.get("title"),
        "url": article.get("url"),
        "matches": [
            {"term": match.get("term"), "sentence": match.get("sentence")}
            for match in map(_dict, _list(data.get("matches")))
        ],
    }


def describe_digest(data: dict[str, Any]) -> dict[str, Any]:
    """``alert.digest``: data.rule, data.period, data.count, data.alerts (each with article)."""
    period = _dict(data.get("period"))
    return {
        "rule": _dict(data.get("rule")).get("name"),
        "period": [period.get("start"), period.get("end")],
        "count": data.get("count"),
        "titles": [
            _dict(item.get("article")).get("title")
            for item in map(_dict, _list(data.get("alerts")))
        ],
    }


def describe_feed_event(data: dict[str, Any]) -> dict[str, Any]:
    """``feed.failing`` / ``feed.silent`` / ``feed.recovered``: data.feed and its health."""
    feed = _dict(data.get("feed"))
    return {
        "feed": feed.get("name"),
        "url": feed.get("url"),
        "health": f"{data.get('previous')} -> {data.get('health')}",
        "since": data.get("since"),
        "reason": data.get("reason"),
        "consecutive_failures": data.get("consecutive_failures"),
        "last_new_entry_at": data.get("last_new_entry_at"),
    }


DESCRIBERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "alert.matched": describe_alert,
    "alert.digest": describe_digest,
    "feed.failing": describe_feed_event,
    "feed.silent": describe_feed_event,
    "feed.recovered": describe_feed_event,
}


def describe(payload: Any, webhook_id: str) -> dict[str, Any]:
    """The line printed for one verified payload; never raises, whatever its shape."""
    message = _dict(payload)
    kind = message.get("type")
    line: dict[str, Any] = {"webhook_id": webhook_id, "type": kind}
    describer = DESCRIBERS.get(kind) if isinstance(kind, str) else None
    if describer is not None:
        try:
            return line | describer(_dict(message.get("data")))
        except Exception:  # a known type in an unexpected shape: printed as it came
            pass
    line["payload"] = payload  # an unknown type: printed as it came
    return line


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- the HTTP side --------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Verifies, deduplicates and prints; the state lives on the server (see make_server)."""

    server: ReceiverServer

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._answer(400, "bad Content-Length")
            return
        if length > MAX_BODY:
            self._answer(413, f"body of {length} bytes refused")
            return
        body = self.rfile.read(length)
        try:
            self.server.verifier.verify(body, dict(self.headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: mangled headers
            self._answer(401, f"bad signature: {exc}")
            return
        try:
            payload = json.loads(body)
        except ValueError:
            self._answer(400, "signed body is not JSON")
            return
        webhook_id = self.headers["webhook-id"]
        if self.server.remember(webhook_id):
            line = json.dumps(describe(payload, webhook_id), ensure_ascii=False)
            print(line, file=self.server.out, flush=True)
        self._answer(204)

    def _answer(self, status: int, note: str | None = None) -> None:
        if note:
            print(f"receiver: {status} {note}", file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: stdout carries one line per webhook, stderr only refusals."""


class ReceiverServer(HTTPServer):
    """One request at a time, so the set of seen webhook-ids needs no lock."""

    def __init__(self, address: tuple[str, int], secret: str, out: TextIO) -> None:
        self.verifier = Webhook(secret)
        self.out = out
        self.seen: dict[str, None] = {}  # insertion-ordered: the oldest id is forgotten first
        super().__init__(address, Receiver)

    def remember(self, webhook_id: str) -> bool:
        """True the first time a webhook-id is seen."""
        if webhook_id in self.seen:
            return False
        if len(self.seen) >= MAX_SEEN:
            del self.seen[next(iter(self.seen))]
        self.seen[webhook_id] = None
        return True


def make_server(
    secret: str, port: int = 8900, host: str = "127.0.0.1", out: TextIO | None = None
) -> ReceiverServer:
    return ReceiverServer((host, port), secret, out or sys.stdout)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    secret = os.environ.get("NEWSWATCH_SECRET", "")
    if not secret:
        print("receiver: set NEWSWATCH_SECRET to the rule's whsec_… secret", file=sys.stderr)
        return 2
    try:
        port = int(args[0]) if args else 8900
        server = make_server(secret, port)
    except (ValueError, EmptyWebhookSecretError, OSError) as exc:
        print(f"receiver: cannot start: {exc}", file=sys.stderr)
        return 2
    address = f"http://127.0.0.1:{server.server_port}/newswatch"
    print(f"receiver: listening on {address}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
