"""The destination guard against every spelling of a loopback, private or metadata address.

Each URL points at a loopback listener's port; the guard must refuse it as permanent before
any connection is made, so the listener counts zero connections. IPv4 spellings (decimal,
octal, hex, short) reach the resolver, which reads them as the connection would; IPv6 forms
that embed an IPv4 (mapped, compatible, 6to4, NAT64, Teredo, translated) are judged by the
IPv4 they carry.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from pipeline.errors import BlockedDestinationError, FetchError
from pipeline.io.channels import AppriseTransport, OutgoingMessage
from pipeline.io.http import DestinationGuard, HttpClient, HttpLimits
from pipeline.settings import Settings
from tests.unit.conftest import Listener

# Hosts spelled as a user (or an attacker) could put them in a feed, page or webhook URL.
HOSTS = [
    "127.0.0.1",
    "127.0.0.1.",
    "127.1",
    "127.000.000.001",
    "2130706433",  # decimal
    "0x7f000001",  # hex
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "017700000001",
    "0",
    "0.0.0.0",
    "localhost",
    "localhost.",
    "LOCALHOST",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[::7f00:1]",  # IPv4-compatible ::/96
    "[::127.0.0.1]",
    "[::a00:1]",  # compatible, 10.0.0.1
    "[::ffff:0:7f00:1]",  # IPv4-translated (SIIT)
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
    "[64:ff9b::7f00:1]",  # NAT64 well-known prefix
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b:1::7f00:1]",  # NAT64 local-use prefix
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "[fe80::1]",
    "[fc00::1]",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "metadata.google.internal",
]


def _client(allow: list[str] | None = None) -> HttpClient:
    settings = Settings(http_connect_timeout=2, http_total_timeout=5)
    return HttpClient(HttpLimits.from_settings(settings), allow_hosts=allow or [])


@pytest.mark.parametrize("host", HOSTS)
def test_every_spelling_is_refused_before_connecting(host: str, listener: Listener) -> None:
    before = listener.hits
    with _client() as client:
        with pytest.raises(BlockedDestinationError) as info:
            client.get(f"http://{host}:{listener.port}/feed.xml")
        assert info.value.permanent
        with pytest.raises(BlockedDestinationError):
            client.post(f"http://{host}:{listener.port}/hook", b"{}", {}, timeout=2)
    assert listener.hits == before


@pytest.mark.parametrize(
    "address",
    [
        "::7f00:1",
        "::a00:1",
        "::ffff:0:7f00:1",
        "2002:c0a8:101::",
        "64:ff9b::c0a8:101",
        "64:ff9b:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo of a client behind 192.0.2.45
    ],
)
def test_embedded_private_ipv4_is_refused(address: str) -> None:
    assert DestinationGuard().is_blocked("h", ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "2002:808:808::1"])
def test_public_addresses_pass(address: str) -> None:
    assert not DestinationGuard().is_blocked("h", ipaddress.ip_address(address))


def test_allowlist_still_admits_its_hosts_in_any_spelling(listener: Listener) -> None:
    guard = DestinationGuard(["127.0.0.1"])
    for host in ("127.0.0.1", "2130706433", "127.1", "[::ffff:127.0.0.1]", "::7f00:1"):
        guard.resolve(host, listener.port)
    with pytest.raises(BlockedDestinationError):
        guard.resolve("10.0.0.1", 80)
    with pytest.raises(BlockedDestinationError):
        guard.resolve("[::1]", 80)  # loopback IPv6 is not 127.0.0.1
    before = listener.hits
    with _client(["127.0.0.1"]) as client, pytest.raises(FetchError):
        client.get(f"http://127.0.0.1:{listener.port}/")  # reached: the listener hangs up
    assert listener.hits == before + 1


@pytest.mark.parametrize("host", ["[::1", "[not-an-address]", "[::ffff:127]", "[127.0.0.1]"])
def test_malformed_bracketed_literals_are_permanent_refusals(host: str) -> None:
    with pytest.raises(BlockedDestinationError) as info:
        DestinationGuard().resolve(host, 80)
    assert info.value.permanent


_MESSAGE = OutgoingMessage(webhook_id="msg_1", body="{}", title="t", text="x")


@pytest.mark.parametrize(
    "target",
    [
        "json://[::1]:{port}/hook",
        "json://[::7f00:1]:{port}/hook",
        "json://[::ffff:127.0.0.1]:{port}/hook",
        "xml://[64:ff9b::7f00:1]:{port}/hook",
        "form://2130706433:{port}/hook",
        "json://localhost.:{port}/hook",
        "json://0x7f000001:{port}/hook",
    ],
)
def test_apprise_targets_with_private_literals_are_refused(target: str, listener: Listener) -> None:
    before = listener.hits
    with _client() as client:
        result: Any = AppriseTransport().send(
            target.format(port=listener.port), [], _MESSAGE, client, timeout=2
        )
    assert result.error and result.permanent, result
    assert listener.hits == before
