"""examples/receiver.py: every payload type newswatch sends, signed as newswatch signs it.

The receiver runs on a loopback port (in a thread, and once as the user runs it: a
subprocess with NEWSWATCH_SECRET set); payloads are built by the product's own builders
where they exist and signed with ``pipeline.stages.alert.sign_headers``.
"""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pipeline.model import AlertKind, ArticleRef, FeedRef, FetchStatus, RuleRef, StoryRef
from pipeline.settings import REPO_ROOT
from pipeline.stages.alert import (
    build_alert_payload,
    encode_payload,
    generate_secret,
    new_webhook_id,
    sign_headers,
)
from pipeline.stages.delivery import build_digest

RECEIVER = REPO_ROOT / "examples" / "receiver.py"
CREATED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _load_receiver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newswatch_example_receiver", RECEIVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alert(webhook_id: str | None = None) -> dict[str, Any]:
    return build_alert_payload(
        alert_id=12,
        webhook_id=webhook_id or new_webhook_id(),
        rule=RuleRef(id=1, name="ceasefire", query="ceasefire"),
        article=ArticleRef(
            id=7,
            url="https://news.example.org/aleppo",
            title="Aleppo convoys keep moving",
            published="2026-12-01T09:30:00Z",
            language="en",
            author=None,
            site_name="Example News",
            fetch_status=FetchStatus.FETCHED,
            feeds=(FeedRef(id=3, name="Wire", url="https://news.example.org/wire.rss"),),
        ),
        hits=[{"term": "ceasefire", "field": "text", "sentence": "The ceasefire held."}],
        extraction={"language": "en", "figures": []},
        created_at=CREATED,
        story=StoryRef(id=4, kind=AlertKind.NEW),
    )


def _digest() -> dict[str, Any]:
    return build_digest(
        {"id": 1, "name": "ceasefire", "query": "ceasefire"},
        [_alert(), _alert()],
        CREATED - timedelta(hours=1),
        CREATED,
    )


def _feed_event(kind: str, health: str, previous: str) -> dict[str, Any]:
    """The feed-health event contract (feed.failing, feed.silent, feed.recovered)."""
    return {
        "type": kind,
        "timestamp": "2026-12-01T10:00:00Z",
        "data": {
            "event_id": new_webhook_id().replace("msg_", "evt_"),
            "feed": {"id": 3, "name": "Wire", "url": "https://news.example.org/wire.rss"},
            "health": health,
            "previous": previous,
            "reason": "HTTP 404 Not Found" if health == "failing" else None,
            "since": "2026-12-01T09:00:00Z",
            "consecutive_failures": 3 if health == "failing" else 0,
            "last_new_entry_at": None,
        },
    }


class Running:
    def __init__(self, port: int, secret: str, out: io.StringIO) -> None:
        self.port = port
        self.secret = secret
        self.out = out

    def post(
        self,
        payload: dict[str, Any],
        webhook_id: str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> int:
        return _post(self.port, payload, webhook_id, secret or self.secret, headers, now)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


def _post(
    port: int,
    payload: dict[str, Any],
    webhook_id: str | None,
    secret: str,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    body = encode_payload(payload)
    webhook_id = webhook_id or payload["data"].get("webhook_id") or new_webhook_id()
    sent = sign_headers([secret], webhook_id, body, now) | (headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/newswatch", body=body.encode(), headers=sent)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def receiver() -> Iterator[Running]:
    module = _load_receiver()
    secret = generate_secret()
    out = io.StringIO()
    server = module.make_server(secret, port=0, out=out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(server.server_port, secret, out)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_import_reads_no_environment_and_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSWATCH_SECRET", raising=False)
    module = _load_receiver()
    assert callable(module.make_server) and callable(module.main)
    # no secret, verifier or dedup state at module level: each server carries its own
    assert not {"verifier", "seen", "secret"} & set(vars(module))


def test_every_payload_type_is_verified_and_printed_once(receiver: Running) -> None:
    payloads = [
        _alert(),
        _digest(),
        _feed_event("feed.failing", "failing", "ok"),
        _feed_event("feed.silent", "silent", "ok"),
        _feed_event("feed.recovered", "ok", "failing"),
        {"type": "feed.paused", "timestamp": "2026-12-01T10:00:00Z", "data": {"feed": {"id": 3}}},
    ]
    ids = [new_webhook_id() for _ in payloads]
    for payload, webhook_id in zip(payloads, ids, strict=True):
        assert receiver.post(payload, webhook_id) == 204

    lines = receiver.lines()
    assert [line["webhook_id"] for line in lines] == ids
    assert [line["type"] for line in lines] == [p["type"] for p in payloads]
    alert, digest, failing, silent, recovered, unknown = lines
    assert alert["rule"] == "ceasefire"
    assert alert["title"] == "Aleppo convoys keep moving"
    assert alert["story"] == "new"
    assert alert["matches"] == [{"term": "ceasefire", "sentence": "The ceasefire held."}]
    assert digest["rule"] == "ceasefire"
    assert digest["count"] == 2
    assert digest["titles"] == ["Aleppo convoys keep moving"] * 2
    assert digest["period"] == ["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"]
    assert failing["feed"] == "Wire"
    assert failing["health"] == "ok -> failing"
    assert failing["reason"] == "HTTP 404 Not Found"
    assert failing["consecutive_failures"] == 3
    assert silent["health"] == "ok -> silent"
    assert recovered["health"] == "failing -> ok"
    assert unknown["payload"] == payloads[-1]


def test_a_known_type_in_an_unexpected_shape_is_printed_as_it_came(receiver: Running) -> None:
    odd = {"type": "alert.matched", "data": ["not", "an", "object"]}
    assert receiver.post(odd, "msg_odd") == 204
    assert receiver.post({"type": 5, "data": None}, "msg_odd_type") == 204
    assert [line["webhook_id"] for line in receiver.lines()] == ["msg_odd", "msg_odd_type"]


def test_a_retry_with_the_same_webhook_id_prints_nothing_new(receiver: Running) -> None:
    payload = _alert()
    webhook_id = payload["data"]["webhook_id"]
    assert receiver.post(payload, webhook_id) == 204
    # newswatch re-signs each retry with a new timestamp; the webhook-id stays the same
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert receiver.post(payload, webhook_id, now=later) == 204
    assert receiver.post(_feed_event("feed.failing", "failing", "ok"), webhook_id) == 204
    assert [line["webhook_id"] for line in receiver.lines()] == [webhook_id]


def test_bad_signatures_are_refused_with_401(receiver: Running) -> None:
    payload = _alert()
    assert receiver.post(payload, secret=generate_secret()) == 401
    assert receiver.post(payload, headers={"webhook-signature": "garbage"}) == 401
    assert receiver.post(payload, headers={"webhook-signature": "v1,not*base64"}) == 401
    too_old = datetime.now(UTC) - timedelta(hours=1)
    assert receiver.post(payload, now=too_old) == 401
    assert receiver.lines() == []
    # a refused message is not remembered: its valid retry is printed
    assert receiver.post(payload) == 204
    assert len(receiver.lines()) == 1


def test_the_receiver_runs_as_the_readme_says(tmp_path: Path) -> None:
    secret = generate_secret()
    env = {**os.environ, "NEWSWATCH_SECRET": secret, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        started = process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/newswatch", started)
        assert match, started
        port = int(match.group(1))
        event = _feed_event("feed.failing", "failing", "ok")
        assert _post(port, event, "evt_cli", secret) == 204
        assert _post(port, event, "evt_cli", secret) == 204
        assert _post(port, event, "evt_cli_forged", generate_secret()) == 401
        assert _post(port, _alert(), "msg_cli", secret) == 204
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [(line["webhook_id"], line["type"]) for line in lines] == [
        ("evt_cli", "feed.failing"),
        ("msg_cli", "alert.matched"),
    ]
    assert "401 bad signature" in stderr


def test_without_a_secret_it_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEWSWATCH_SECRET"}
    result = subprocess.run(
        [sys.executable, str(RECEIVER), "0"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "NEWSWATCH_SECRET" in result.stderr
