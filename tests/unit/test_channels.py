from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import apprise
import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pipeline.io.channels import (
    KINDS,
    AppriseTransport,
    OutgoingMessage,
    WebhookTransport,
    destination_hosts,
    get_transport,
    validate_target,
)
from pipeline.io.http import HttpClient, HttpLimits
from pipeline.settings import Settings
from pipeline.stages.alert import generate_secret

BODY = '{"data":{"alert_id":1},"type":"alert.matched"}'
MESSAGE = OutgoingMessage(
    webhook_id="msg_stable_1",
    body=BODY,
    title="[Harbour fires] Fire at the harbour",
    text="**Rule:** Harbour fires\n\nA fire broke out at the harbour.",
)
URL = "https://receiver.example/hook"


def _limits() -> HttpLimits:
    return HttpLimits.from_settings(Settings())


def _mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> HttpClient:
    return HttpClient(limits=_limits(), transport=httpx.MockTransport(handler))


# --- registry and validation ---------------------------------------------------------------


def test_registry_maps_kinds_to_transports() -> None:
    assert set(KINDS) == {"webhook", "apprise"}
    assert isinstance(get_transport("webhook"), WebhookTransport)
    assert isinstance(get_transport("apprise"), AppriseTransport)
    with pytest.raises(ValueError, match="unknown channel kind 'pager'"):
        get_transport("pager")


@pytest.mark.parametrize("url", ["https://r.example/hook", "http://r.example:8080/a?b=c"])
def test_webhook_targets_must_be_http_urls(url: str) -> None:
    assert validate_target("webhook", f" {url} ") == url


@pytest.mark.parametrize(
    "url", ["ftp://r.example/x", "r.example/hook", "https://user:pw@r.example/", "https:///x"]
)
def test_bad_webhook_targets_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="webhook target must be an http"):
        validate_target("webhook", url)


@pytest.mark.parametrize(
    "url",
    [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "tgram://123456789:abcdefg_hijklmnop/12315544/",
        "mailto://user:secret@mail.example.com",
        "ntfy://newswatch-alerts",
        "json://hooks.example.org/path",
    ],
)
def test_apprise_targets_it_recognises(url: str) -> None:
    assert validate_target("apprise", url) == url


@pytest.mark.parametrize("url", ["nosuchservice://x/y", "https://plain.example/", "slack"])
def test_apprise_targets_it_does_not_recognise(url: str) -> None:
    with pytest.raises(ValueError, match="apprise does not recognise") as info:
        validate_target("apprise", url)
    assert "\n" not in str(info.value)


def test_apprise_refusal_does_not_echo_secrets() -> None:
    with pytest.raises(ValueError) as info:
        validate_target("apprise", "nosuchservice://user:hunter2@x")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("url", ["syslog://", "windows://", "dbus://"])
def test_apprise_targets_on_this_machine_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="notifies this machine"):
        validate_target("apprise", url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", []),
        ("tgram://123456789:abcdefg_hijklmnop/12315544/", []),
        ("ntfy://newswatch-alerts", []),
        ("ntfy://ntfy.internal.example/alerts", [("ntfy.internal.example", 80)]),
        ("jsons://hooks.example.org/path", [("hooks.example.org", 443)]),
        ("json://10.0.0.5:8080/path", [("10.0.0.5", 8080)]),
        ("mailto://u:p@example.com?smtp=10.1.1.1", [("10.1.1.1", 25)]),
        ("gotify://192.168.1.2/token", [("192.168.1.2", 80)]),
    ],
)
def test_destination_hosts_of_apprise_urls(url: str, expected: list[tuple[str, int]]) -> None:
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    assert destination_hosts(plugin) == expected


# --- webhook transport ---------------------------------------------------------------------


class _Recorder:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response


def test_webhook_post_is_signed_over_the_exact_body() -> None:
    secret = generate_secret()
    recorder = _Recorder(httpx.Response(204))
    with _mock_client(recorder) as http:
        result = WebhookTransport().send(URL, [secret], MESSAGE, http, timeout=5)
    assert result.ok
    assert result.status_code == 204
    assert result.error is None
    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.content.decode() == BODY
    assert request.headers["webhook-id"] == "msg_stable_1"
    assert request.headers["content-type"] == "application/json"
    assert Webhook(secret).verify(request.content, dict(request.headers)) == json.loads(BODY)


def test_webhook_signs_with_every_secret_during_a_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    recorder = _Recorder(httpx.Response(200))
    with _mock_client(recorder) as http:
        WebhookTransport().send(URL, [old, new], MESSAGE, http, timeout=5)
    request = recorder.requests[0]
    headers = dict(request.headers)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.content, headers)
    Webhook(new).verify(request.content, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request.content, headers)


def test_webhook_id_is_stable_across_attempts() -> None:
    recorder = _Recorder(httpx.Response(500))
    with _mock_client(recorder) as http:
        for _ in range(2):
            WebhookTransport().send(URL, [generate_secret()], MESSAGE, http, timeout=5)
    assert [r.headers["webhook-id"] for r in recorder.requests] == ["msg_stable_1"] * 2


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects_are_not_followed_and_count_as_failures(code: int) -> None:
    recorder = _Recorder(httpx.Response(code, headers={"location": "https://elsewhere.example/"}))
    with _mock_client(recorder) as http:
        result = WebhookTransport().send(URL, [generate_secret()], MESSAGE, http, timeout=5)
    assert len(recorder.requests) == 1
    assert result.status_code == code
    assert result.error is not None
    assert "redirects are not followed" in result.error
    assert not result.permanent


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_reported(code: int) -> None:
    recorder = _Recorder(httpx.Response(code, headers={"retry-after": "90"}))
    with _mock_client(recorder) as http:
        result = WebhookTransport().send(URL, [generate_secret()], MESSAGE, http, timeout=5)
    assert result.status_code == code
    assert result.retry_after == 90.0
    assert result.error == f"receiver answered HTTP {code}"


def test_410_is_reported_with_its_status() -> None:
    with _mock_client(_Recorder(httpx.Response(410))) as http:
        result = WebhookTransport().send(URL, [generate_secret()], MESSAGE, http, timeout=5)
    assert result.status_code == 410
    assert not result.ok


def test_a_hung_receiver_becomes_an_error_without_status() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with _mock_client(hang) as http:
        result = WebhookTransport().send(URL, [generate_secret()], MESSAGE, http, timeout=1)
    assert result.status_code is None
    assert result.error is not None
    assert "timed out" in result.error
    assert not result.permanent


def test_webhook_without_a_secret_is_a_permanent_error() -> None:
    recorder = _Recorder(httpx.Response(200))
    with _mock_client(recorder) as http:
        result = WebhookTransport().send(URL, [], MESSAGE, http, timeout=5)
    assert result.permanent
    assert recorder.requests == []


def test_webhook_to_a_private_address_is_refused_by_the_seam() -> None:
    # The real guarded transport: refused before any connection is made.
    with HttpClient(limits=_limits()) as http:
        result = WebhookTransport().send(
            "http://127.0.0.1:9/hook", [generate_secret()], MESSAGE, http, timeout=1
        )
    assert result.permanent
    assert result.error is not None
    assert "non-public address" in result.error


# --- apprise transport against a loopback receiver ------------------------------------------


class _Receiver:
    """A loopback HTTP server that records JSON posts and answers with a chosen status."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self.delay = 0.0
        self.location = ""
        self.headers: list[dict[str, str]] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                receiver.raw.append(raw)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                receiver.posts.append((self.path, json.loads(raw)))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("location", receiver.location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/notify") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    yield server
    server.close()


def test_apprise_delivers_title_and_text(receiver: _Receiver) -> None:
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = AppriseTransport().send(receiver.url(), [], MESSAGE, http, timeout=5)
    assert result.ok, result.error
    assert result.status_code is None
    assert len(receiver.posts) == 1
    path, payload = receiver.posts[0]
    assert path == "/notify"
    assert payload["title"] == MESSAGE.title
    assert "A fire broke out at the harbour." in payload["message"]
    assert "Harbour fires" in payload["message"]


def test_apprise_failure_becomes_an_error_string(receiver: _Receiver) -> None:
    receiver.status = 500
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = AppriseTransport().send(receiver.url(), [], MESSAGE, http, timeout=5)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("apprise send failed:")
    assert "500" in result.error
    assert not result.permanent


def test_apprise_does_not_follow_redirects(receiver: _Receiver) -> None:
    receiver.status = 307
    receiver.location = f"http://127.0.0.1:{receiver.port}/elsewhere"
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = AppriseTransport().send(receiver.url(), [], MESSAGE, http, timeout=5)
    assert not result.ok
    assert len(receiver.posts) == 1


def test_apprise_cuts_a_hung_receiver(receiver: _Receiver) -> None:
    receiver.delay = 3.0
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = AppriseTransport().send(receiver.url(), [], MESSAGE, http, timeout=0.3)
    assert not result.ok
    assert result.status_code is None
    assert not result.permanent


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_apprise_to_a_private_host_is_refused_unless_allowlisted(
    receiver: _Receiver, host: str
) -> None:
    url = receiver.url().replace("127.0.0.1", host)
    with HttpClient(limits=_limits()) as http:
        result = AppriseTransport().send(url, [], MESSAGE, http, timeout=5)
    assert result.permanent
    assert result.error is not None
    assert "non-public address" in result.error
    assert receiver.posts == []


@pytest.mark.parametrize(
    "url",
    [
        "mailto://user:pw@example.com?smtp=10.1.1.1",
        "ntfy://192.168.0.10/alerts",
        "xml://169.254.169.254/latest",
    ],
)
def test_apprise_private_service_hosts_are_refused(url: str) -> None:
    with HttpClient(limits=_limits()) as http:
        result = AppriseTransport().send(url, [], MESSAGE, http, timeout=1)
    assert result.permanent
    assert result.error is not None
    assert "non-public address" in result.error


def test_apprise_unknown_url_is_a_permanent_error() -> None:
    with HttpClient(limits=_limits()) as http:
        result = AppriseTransport().send("nosuchservice://x", [], MESSAGE, http, timeout=1)
    assert result.permanent
    assert result.error is not None
    assert "does not recognise" in result.error


def test_webhook_to_a_hung_loopback_receiver_is_cut_at_the_timeout(receiver: _Receiver) -> None:
    receiver.delay = 3.0
    url = f"http://127.0.0.1:{receiver.port}/hook"
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = WebhookTransport().send(url, [generate_secret()], MESSAGE, http, timeout=0.3)
    assert result.status_code is None
    assert result.error is not None
    assert "timed out" in result.error
    assert not result.permanent


def test_webhook_to_an_allowlisted_loopback_receiver_verifies(receiver: _Receiver) -> None:
    secret = generate_secret()
    url = f"http://127.0.0.1:{receiver.port}/hook"
    with HttpClient(limits=_limits(), allow_hosts=["127.0.0.1"]) as http:
        result = WebhookTransport().send(url, [secret], MESSAGE, http, timeout=5)
    assert result.ok
    assert result.status_code == 200
    assert receiver.posts == [("/hook", json.loads(BODY))]
    assert receiver.raw == [BODY.encode()]
    assert Webhook(secret).verify(receiver.raw[0], receiver.headers[0]) == json.loads(BODY)
