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


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://exa mple.org/feed", "a space (U+0020) at position 11"),
        (" https://example.org/feed", "a space (U+0020) at position 1"),
        ("https://example.org/feed ", "a space (U+0020) at position 25"),
        # urlsplit drops tabs and newlines anywhere, and strips leading control characters:
        # these are refused on the raw text, before parsing can hide them.
        ("https://example.org/\tfeed", "whitespace (U+0009)"),
        ("https://exam\nple.org/feed", "whitespace (U+000A)"),
        ("https://example.org/feed\r", "whitespace (U+000D)"),
        ("\x00https://example.org/feed", "a control character (U+0000) at position 1"),
        ("https://example.org/\x1b[31mfeed", "a control character (U+001B)"),
        ("https://example.org/\x7f", "a control character (U+007F)"),
        ("https://exa\u00a0mple.org/", "whitespace (U+00A0)"),
        ("https://example.org/\u2028", "whitespace (U+2028)"),
        ("https://example.org/\u200bfeed", "invisible or undefined character (U+200B)"),
        ("https://example.org/\u202efeed", "invisible or undefined character (U+202E)"),
        ("https://u\x01ser:pw@example.org/", "a control character (U+0001) at position 10"),
        ("http://", "no host"),
        ("https:///feed", "no host"),
        ("http:example.org/feed", "no host"),
        ("http://:8080/feed", "no host"),
        ("javascript:alert(1)", "only http and https"),
        ("data:text/html,<script>alert(1)</script>", "only http and https"),
        ("mailto:someone@example.org", "only http and https"),
        ("//example.org/feed", "only http and https"),
        ("example.org/feed", "only http and https"),
        ("http://@example.org/feed", "credentials"),
        ("http://user@example.org/feed", "credentials"),
        ("http://:secret@example.org/feed", "credentials"),
        ("http://exa%20mple.org/feed", "contains '%'"),
        ("http://exa*mple.org/feed", "contains '*'"),
        ("http://example..org/feed", "empty label"),
        ("http://example.org:0/feed", "port 0"),
        ("http://example.org:99999/feed", "Port out of range"),
        ("http://[::1/feed", "Invalid IPv6 URL"),
    ],
)
def test_check_url_refuses_malformed_urls_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(BlockedDestinationError) as caught:
        DestinationGuard().check_url(url)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message and "\t" not in message and "\x1b" not in message


@pytest.mark.parametrize("length", [2049, 100_000])
def test_check_url_refuses_long_urls_without_echoing_them(length: int) -> None:
    url = "https://example.org/" + "a" * (length - len("https://example.org/"))
    with pytest.raises(BlockedDestinationError, match=f"{length:,} characters long") as caught:
        DestinationGuard().check_url(url)
    message = str(caught.value)
    assert "at most 2,048" in message
    assert len(message) < 200
    assert "a" * 60 + "…" in message


def test_check_url_shortens_every_echoed_url() -> None:
    # Short enough to pass the length cap, long enough that echoing it in full would swamp
    # the one-line error; the problem (a space) sits at the very end.
    url = "https://example.org/" + "a" * 1500 + " "
    with pytest.raises(BlockedDestinationError, match="at position 1521") as caught:
        DestinationGuard().check_url(url)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/feed?q=a%20b#top", ("example.org", 443)),
        ("HTTP://Example.ORG:8080/Feed", ("example.org", 8080)),
        ("http://example.org./feed", ("example.org.", 80)),
        ("http://b\u00fccher.example/feed", ("b\u00fccher.example", 80)),
        ("http://my_host.example/feed", ("my_host.example", 80)),
        ("http://[2001:db8::1]:8443/feed", ("2001:db8::1", 8443)),
        ("https://example.org/" + "a" * (2048 - len("https://example.org/")), ("example.org", 443)),
    ],
)
def test_check_url_accepts_well_formed_urls(url: str, expected: tuple[str, int]) -> None:
    assert DestinationGuard().check_url(url) == expected


def test_client_refuses_a_url_with_a_newline_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with pytest.raises(BlockedDestinationError, match="U\\+000A"):
        _client(handler).get("http://example.org/feed\nHost: evil.example")
    assert sent == []
