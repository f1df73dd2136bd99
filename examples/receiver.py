"""A minimal newswatch webhook receiver that verifies every signature.

    NEWSWATCH_SECRET=whsec_... python examples/receiver.py 8900

Point a rule at http://127.0.0.1:8900/newswatch. Needs only `standardwebhooks`.
Answer 2xx quickly; newswatch retries anything else. Deduplicate on `webhook-id`: it is
the same on every retry of one alert.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

verifier = Webhook(os.environ["NEWSWATCH_SECRET"])
seen: set[str] = set()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            alert = verifier.verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(401)
            self.end_headers()
            return
        webhook_id = self.headers["webhook-id"]
        if webhook_id not in seen:
            seen.add(webhook_id)
            data = alert["data"]
            print(
                json.dumps(
                    {
                        "rule": data["rule"]["name"],
                        "title": data["article"]["title"],
                        "matches": data["matches"],
                    },
                    ensure_ascii=False,
                )
            )
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8900
    HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
