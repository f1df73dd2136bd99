from __future__ import annotations

import gzip
import ipaddress
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pipeline.errors import (
    BlockedDestinationError,
    FetchError,
    HTTPStatusError,
    ResponseTooLargeError,
)
from pipeline.io.http import DestinationGuard, HttpClient, HttpLimits, parse_retry_after
from pipeline.settings import Settings


def _client(handler: Callable[[httpx.Request], httpx.Response], **settings: Any) -> HttpClient:
    # Overrides go through Settings so a test can only use limits an operator could set.
    limits = HttpLimits.from_settings(Settings(**settings))
    return HttpClient(limits=limits, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "100.64.0.1",
    ],
)
def test_guard_refuses_non_public_addresses(address: str) -> None:
    assert DestinationGuard().is_blocked("h", ipaddress.ip_address(address))


def test_guard_allows_public_and_allowlisted() -> None:
    guard = DestinationGuard(["127.0.0.1", "10.0.0.0/8"])
    assert not guard.is_blocked("h", ipaddress.ip_address("8.8.8.8"))
    assert not guard.is_blocked("h", ipaddress.ip_address("127.0.0.1"))
    assert not guard.is_blocked("h", ipaddress.ip_address("10.9.9.9"))
    assert guard.is_blocked("h", ipaddress.ip_address("192.168.0.1"))


def test_guard_resolves_names_before_connecting() -> None:
    with pytest.raises(BlockedDestinationError, match="non-public"):
        DestinationGuard().resolve("localhost", 80)
    with pytest.raises(BlockedDestinationError, match="metadata"):
        DestinationGuard().resolve("metadata.google.internal", 80)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y", "gopher://x", "http://u:p@x/"])
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(BlockedDestinationError):
        _client(lambda r: httpx.Response(200)).get(url)


def test_redirects_are_followed_and_capped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{n + 1}"})

    with pytest.raises(FetchError, match="redirects"):
        _client(handler, http_max_redirects=2).get("http://example.org/0")


def test_redirect_to_forbidden_scheme_is_refused() -> None:
    client = _client(lambda r: httpx.Response(301, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(BlockedDestinationError):
        client.get("http://example.org/")


def test_decompressed_size_cap() -> None:
    bomb = gzip.compress(b"a" * 200_000)
    client = _client(
        lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"}),
        http_max_bytes=50_000,
    )
    with pytest.raises(ResponseTooLargeError):
        client.get("http://example.org/")


def test_status_errors_say_if_retry_helps() -> None:
    gone = _client(lambda r: httpx.Response(404))
    with pytest.raises(HTTPStatusError) as info:
        gone.get("http://example.org/")
    assert info.value.permanent
    busy = _client(lambda r: httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(HTTPStatusError) as info:
        busy.get("http://example.org/")
    assert not info.value.permanent and info.value.retry_after == 120


def test_requests_carry_the_configured_user_agent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200)

    _client(handler, http_user_agent="probe/1.0").get("http://example.org/")
    assert seen == ["probe/1.0"]


def test_post_never_follows_redirects() -> None:
    client = _client(lambda r: httpx.Response(307, headers={"Location": "http://elsewhere/"}))
    assert client.post("http://example.org/", b"{}", {}, timeout=1).status_code == 307


def test_not_modified_is_returned() -> None:
    assert _client(lambda r: httpx.Response(304)).get("http://example.org/").status_code == 304


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_malformed_urls_are_refused_not_raised() -> None:
    with pytest.raises(BlockedDestinationError, match="invalid URL"):
        _client(lambda r: httpx.Response(200)).get("http://xn--/x")
