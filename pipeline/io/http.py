"""THE outbound HTTP seam: every feed, page and webhook request goes through here.

It enforces, for every hop: http/https only; a destination guard that resolves the host
and refuses loopback, private, link-local, reserved and metadata addresses unless the
host or network is allowlisted; connect and read timeouts plus a total deadline; a cap on
the decompressed body; and a bounded number of redirects, each re-checked. The guard runs
inside the connection backend, on the address actually dialled, so a DNS answer cannot
change between the check and the connect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from pipeline.errors import (
    BlockedDestinationError,
    FetchError,
    HTTPStatusError,
    ResponseTooLargeError,
    TransportError,
)
from pipeline.settings import Settings

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HttpLimits:
    """The limits one client enforces. No defaults here: Settings declares each one once,
    so build with ``from_settings``."""

    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_bytes: int
    max_redirects: int
    user_agent: str

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            total_timeout=settings.http_total_timeout,
            max_bytes=settings.http_max_bytes,
            max_redirects=settings.http_max_redirects,
            user_agent=settings.http_user_agent,
        )


@dataclass
class FetchResult:
    url: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    redirects: list[str] = field(default_factory=list)


class DestinationGuard:
    """Decides whether a host may be reached, by name and by every address it resolves to."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._allow_hosts: set[str] = set()
        self._allow_nets: list[IPNetwork] = []
        for entry in allow:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self._allow_nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._allow_hosts.add(entry)

    def check_url(self, url: str) -> tuple[str, int]:
        """Validate a URL's syntax, scheme and host; return (host, port). Does not resolve.

        Runs when a feed or webhook URL is saved and again before every request, so each
        refusal is one line naming the problem, with the URL shortened and escaped."""
        shown = _shown_url(url)
        if len(url) > MAX_URL_LENGTH:
            raise BlockedDestinationError(
                f"refused {shown}: the URL is {len(url):,} characters long "
                f"(at most {MAX_URL_LENGTH:,})"
            )
        # Checked on the raw text: urlsplit silently drops tabs and newlines anywhere and
        # leading or trailing control characters and spaces, so a URL pasted with a line
        # break would otherwise be saved as a different URL than the one the user sees.
        problem = _unsafe_character(url)
        if problem:
            raise BlockedDestinationError(f"refused {shown}: the URL contains {problem}")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise BlockedDestinationError(f"invalid URL {shown}: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise BlockedDestinationError(f"refused {shown}: only http and https URLs are allowed")
        # Any "@" in the authority counts: "http://@host/" has an empty user name that a
        # truthiness test misses, and other parsers read such URLs differently.
        if "@" in parts.netloc:
            raise BlockedDestinationError(f"refused {shown}: credentials in URLs are not allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise BlockedDestinationError(f"refused {shown}: the URL has no host")
        problem = _host_problem(host)
        if problem:
            raise BlockedDestinationError(f"refused {shown}: {problem}")
        if port == 0:
            raise BlockedDestinationError(f"refused {shown}: port 0 cannot be connected to")
        return host, port or (443 if parts.scheme == "https" else 80)

    def resolve(self, host: str, port: int) -> str:
        """Resolve ``host`` and return an address that may be dialled, or raise."""
        host = host.lower().rstrip(".")
        if host in _METADATA_HOSTS and host not in self._allow_hosts:
            raise BlockedDestinationError(f"refused {host}: cloud metadata host")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise TransportError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise TransportError(f"cannot resolve {host}: no addresses")
        for address in addresses:
            if self.is_blocked(host, address):
                raise BlockedDestinationError(
                    f"refused {host}: it resolves to non-public address {address} "
                    "(allowlist it with NEWSWATCH_HTTP_ALLOW_HOSTS)"
                )
        return str(addresses[0])

    def is_blocked(self, host: str, address: IPAddress) -> bool:
        if host in self._allow_hosts or str(address) in self._allow_hosts:
            return False
        if any(address in net for net in self._allow_nets):
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None and embedded != address:
            return self.is_blocked(host, embedded)
        return not address.is_global or address.is_multicast


MAX_URL_LENGTH = 2048  # what browsers and most servers reliably accept
_SHOWN_URL_CHARS = 80
# Host names are letters, digits, "-", "." and (in practice) "_"; IDN labels keep their
# Unicode letters. Anything else ("%", "!", "*" ...) cannot be looked up.
_HOST_NAME = re.compile(r"[\w.-]+")


def _shown_url(url: str) -> str:
    """The URL as an error message quotes it: at most 80 characters, control characters
    escaped (repr), so a 100,000-character paste still gives a one-line message."""
    if len(url) > _SHOWN_URL_CHARS:
        url = url[:_SHOWN_URL_CHARS] + "…"
    return repr(url)


def _unsafe_character(url: str) -> str | None:
    """Describe the first whitespace, control or invisible character in ``url``, if any."""
    for position, char in enumerate(url, start=1):
        category = unicodedata.category(char)
        if char == " ":
            kind, fix = "a space", "remove it, or percent-encode it as %20"
        elif char.isspace() or category in ("Zs", "Zl", "Zp"):
            kind, fix = "whitespace", "remove it (a pasted line break or tab?)"
        elif category == "Cc":
            kind, fix = "a control character", "remove it"
        elif category in ("Cf", "Cs", "Co", "Cn"):
            kind, fix = "an invisible or undefined character", "remove it"
        else:
            continue
        return f"{kind} (U+{ord(char):04X}) at position {position}: {fix}"
    return None


def _host_problem(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    if not _HOST_NAME.fullmatch(host):
        bad = next(char for char in host if not _HOST_NAME.fullmatch(char))
        return f"the host {host[:_SHOWN_URL_CHARS]!r} contains {bad!r}, which a host name cannot"
    if ".." in host or host.startswith("."):
        return f"the host {host[:_SHOWN_URL_CHARS]!r} has an empty label"
    return None


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(address: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any:
    a private IPv4 must not slip through the guard wrapped in a global-looking IPv6."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class _GuardedBackend(httpcore.SyncBackend):
    """Checks the resolved address right before connecting, and dials that address."""

    def __init__(self, guard: DestinationGuard) -> None:
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self._guard.resolve(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def guarded_transport(guard: DestinationGuard) -> httpx.BaseTransport:
    transport = httpx.HTTPTransport(retries=0)
    # httpx exposes no hook for the network backend, so the pool is rebuilt with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=20,
        network_backend=_GuardedBackend(guard),
    )
    return transport


class HttpClient:
    """A small synchronous client over httpx that enforces the given limits."""

    def __init__(
        self,
        limits: HttpLimits,
        allow_hosts: Iterable[str] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.limits = limits
        self.guard = DestinationGuard(allow_hosts)
        self._client = httpx.Client(
            transport=transport or guarded_transport(self.guard),
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=self.limits.connect_timeout,
                read=self.limits.read_timeout,
                write=self.limits.read_timeout,
                pool=self.limits.connect_timeout,
            ),
            headers={"User-Agent": self.limits.user_agent},
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, follow_redirects: bool = True
    ) -> FetchResult:
        """GET ``url``; returns 2xx and 304 answers, raises HTTPStatusError for the rest."""
        deadline = time.monotonic() + self.limits.total_timeout
        hops: list[str] = []
        current = url
        while True:
            result = self._send("GET", current, headers, None, deadline, self.limits.read_timeout)
            if result.status_code in _REDIRECT_CODES and follow_redirects:
                location = result.headers.get("location")
                if not location:
                    raise HTTPStatusError(
                        f"{current} answered {result.status_code} without a Location",
                        result.status_code,
                    )
                if len(hops) >= self.limits.max_redirects:
                    raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")
                hops.append(current)
                current = urljoin(current, location)
                continue
            result.redirects = hops
            if result.status_code == 304 or 200 <= result.status_code < 300:
                return result
            raise HTTPStatusError(
                f"{current} answered HTTP {result.status_code}",
                result.status_code,
                retry_after=parse_retry_after(result.headers.get("retry-after")),
            )

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> FetchResult:
        """POST without following redirects; any status is returned to the caller."""
        deadline = time.monotonic() + timeout
        return self._send("POST", url, headers, body, deadline, timeout)

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        deadline: float,
        read_timeout: float,
    ) -> FetchResult:
        self.guard.check_url(url)
        started = time.monotonic()
        remaining = deadline - started
        if remaining <= 0:
            raise TransportError(f"{url}: total deadline of {self.limits.total_timeout}s exceeded")
        timeout = httpx.Timeout(
            connect=min(self.limits.connect_timeout, remaining),
            read=min(read_timeout, remaining),
            write=min(read_timeout, remaining),
            pool=min(self.limits.connect_timeout, remaining),
        )
        try:
            request = self._client.build_request(
                method, url, headers=dict(headers or {}), content=body, timeout=timeout
            )
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise BlockedDestinationError(f"invalid URL {url!r}: {exc}") from exc
        try:
            response = self._client.send(request, stream=True)
            try:
                payload = self._read_capped(response, url, deadline)
            finally:
                response.close()
        except (BlockedDestinationError, FetchError):
            raise
        except httpx.TimeoutException as exc:
            raise TransportError(f"{url}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{url}: {type(exc).__name__}: {exc}") from exc
        return FetchResult(
            url=str(response.url),
            status_code=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=payload,
            elapsed=time.monotonic() - started,
        )

    def _read_capped(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise ResponseTooLargeError(
                f"{url}: body of {declared} bytes is over the {self.limits.max_bytes} byte cap"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise ResponseTooLargeError(
                    f"{url}: body is over the {self.limits.max_bytes} byte cap"
                )
            if time.monotonic() > deadline:
                raise TransportError(f"{url}: total deadline exceeded while reading the body")
            chunks.append(chunk)
        return b"".join(chunks)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
