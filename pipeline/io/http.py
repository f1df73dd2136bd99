"""THE outbound HTTP seam: every feed, page and webhook request goes through here.

It enforces, for every hop: http/https only; a destination guard that resolves the host
and refuses loopback, private, link-local, reserved and metadata addresses unless the
host or network is allowlisted; connect and read timeouts plus one deadline for the whole
exchange; a cap on the decompressed body; and a bounded number of redirects, each
re-checked. The guard runs inside the connection backend, on the address actually dialled,
so a DNS answer cannot change between the check and the connect.

The deadline is enforced on the socket: the name lookup and every read, write and TLS
handshake of the exchange get at most what is left of it, so a server that sends its
headers or body a byte at a time, or a resolver that never answers, is cut off at the
deadline (httpx's own timeouts restart on every byte, and know nothing of DNS). The body is
decoded here, not by httpx, in steps of at most 64 KiB, so the cap holds while decoding.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
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
    UndecodableResponseError,
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
    # What was sent and the status line, for the evidence kept of a page (WARC).
    request_headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    http_version: str = "HTTP/1.1"


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
        """Resolve ``host`` and return an address that may be dialled, or raise.

        ``host`` may be a bracketed IPv6 literal (``[::1]``, as Apprise hands its URLs'
        hosts over): it is parsed as an address, and one that does not parse is refused as
        permanent, never retried as a transient resolve failure."""
        host = host.strip().lower()
        literal = _ip_literal(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            addresses = self._lookup(host.rstrip("."), port)
        for address in addresses:
            if self.is_blocked(host, address):
                raise BlockedDestinationError(
                    f"refused {host}: it resolves to non-public address {address} "
                    "(allowlist it with NEWSWATCH_HTTP_ALLOW_HOSTS)"
                )
        return str(addresses[0])

    def _lookup(self, host: str, port: int) -> list[IPAddress]:
        if host in _METADATA_HOSTS and host not in self._allow_hosts:
            raise BlockedDestinationError(f"refused {host}: cloud metadata host")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise TransportError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        except UnicodeError as exc:  # an IDN label that cannot be encoded
            raise BlockedDestinationError(f"refused {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise TransportError(f"cannot resolve {host}: no addresses")
        return addresses

    def is_blocked(self, host: str, address: IPAddress) -> bool:
        if host in self._allow_hosts or str(address) in self._allow_hosts:
            return False
        if any(address in net for net in self._allow_nets):
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return self.is_blocked(host, embedded)
        if isinstance(address, ipaddress.IPv6Address) and any(
            address in net for net in _NEVER_GLOBAL_V6
        ):
            return True
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


# Python's ipaddress calls these global, yet neither is a public destination: the rest of
# the reserved ::/8 block and the local-use NAT64 prefix (RFC 8215), whose embedded IPv4 is
# laid out per network.
_NEVER_GLOBAL_V6 = (ipaddress.ip_network("::/8"), ipaddress.ip_network("64:ff9b:1::/48"))
# Prefixes whose last 32 bits are an IPv4 address: IPv4-compatible (::a.b.c.d, deprecated
# by RFC 4291, yet ::7f00:1 still reaches 127.0.0.1 on some stacks), NAT64 well-known
# (RFC 6052) and SIIT's IPv4-translated (RFC 2765).
_LOW32_V4 = (
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
)


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
    if any(address in net for net in _LOW32_V4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host literal spells (``[::1]``, ``::1``, ``127.0.0.1``), else None.

    Short, decimal, octal and hex IPv4 spellings are left to the resolver, which reads them
    as the C library does (the way the connection will), and the result is checked."""
    bracketed = host.startswith("[") or host.endswith("]")
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(inner.split("%")[0])
    except ValueError:
        if bracketed:
            raise BlockedDestinationError(
                f"refused {host[:_SHOWN_URL_CHARS]!r}: not a valid IPv6 address literal"
            ) from None
        return None


# The monotonic time by which the exchange in progress on this thread must be over. httpx's
# timeouts bound each socket operation, so a server sending its headers or body a byte at a
# time never trips them (encode/httpx#1450); every socket operation of the exchange is
# bounded by what is left of this deadline instead.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "newswatch_http_deadline", default=None
)
_WRITE_STEP = 64 * 1024


def _bounded(timeout: float | None, what: str) -> float | None:
    """``timeout`` cut to what is left of the exchange's deadline; raise when none is."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        exc = httpcore.ConnectTimeout if what == "connect" else httpcore.ReadTimeout
        raise exc(f"total deadline exceeded during {what}")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # In steps, so a receiver that reads slowly cannot stretch one large write.
        for start in range(0, len(buffer), _WRITE_STEP) or [0]:
            step = buffer[start : start + _WRITE_STEP]
            self._stream.write(step, _bounded(timeout, "write"))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout, "connect"))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# Name lookups in flight at once in this process. getaddrinfo cannot be interrupted: a
# lookup the deadline gave up on holds its thread until the resolver answers, and this cap
# keeps a resolver that hangs from piling up threads.
_MAX_LOOKUPS = 16
_lookup_slots = threading.BoundedSemaphore(_MAX_LOOKUPS)


def _fresh_lookup_slots() -> None:
    global _lookup_slots
    _lookup_slots = threading.BoundedSemaphore(_MAX_LOOKUPS)


# A forked child has none of its parent's lookup threads, which would never give theirs back.
os.register_at_fork(after_in_child=_fresh_lookup_slots)


def _resolve_within(timeout: float | None, resolve: Callable[[], str], host: str) -> str:
    """``resolve()`` in a thread of its own, given up on after ``timeout`` seconds, so a
    resolver that hangs costs the exchange no more than what is left of its deadline."""
    if timeout is None:
        return resolve()
    given_up = httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g}s")
    started = time.monotonic()
    slots = _lookup_slots
    if not slots.acquire(timeout=timeout):
        raise given_up
    answer: Future[str] = Future()

    def run() -> None:
        try:
            answer.set_result(resolve())
        except BaseException as exc:
            answer.set_exception(exc)
        finally:
            slots.release()

    threading.Thread(target=run, name=f"resolve {host[:40]}", daemon=True).start()
    try:
        return answer.result(timeout=max(0.0, timeout - (time.monotonic() - started)))
    except TimeoutError:
        if answer.done():  # the lookup itself raised a timeout
            raise
        raise given_up from None


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
        address = _resolve_within(
            _bounded(timeout, "connect"), lambda: self._guard.resolve(host, port), host
        )
        stream = super().connect_tcp(
            address, port, _bounded(timeout, "connect"), local_address, socket_options
        )
        return _DeadlineStream(stream)


# As many as a worker has requests in flight (32 I/O threads + 128 poll GETs per batch).
MAX_CONNECTIONS = 180
# httpcore scans every pooled connection for each request: with hundreds of hosts, idle
# connections kept open cost more CPU than the reconnects they save (bench_polling: 256
# kept-alive connections took 27.5 ms of CPU per poll, 16 take 3.8 ms).
MAX_KEEPALIVE = 16


def guarded_transport(guard: DestinationGuard) -> httpx.BaseTransport:
    transport = httpx.HTTPTransport(retries=0)
    # httpx exposes no hook for the network backend, so the pool is rebuilt with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        # Requests in flight are bounded by the worker's threads and the per-host limits;
        # a tighter pool would make a poll wait for a connection while it holds its host's
        # slot, and a few slow hosts would time out every other request (PoolTimeout).
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_KEEPALIVE,
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
            # Only the encodings _BodyDecoder decodes in bounded steps.
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
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
        total = self.limits.total_timeout if method == "GET" else read_timeout
        if remaining <= 0:
            raise TransportError(f"{url}: total deadline of {total:g}s exceeded")
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
        # One deadline for the whole exchange: connect, TLS, sending, headers and body.
        token = _DEADLINE.set(deadline)
        try:
            response = self._client.send(request, stream=True)
            try:
                payload = self._read_capped(response, url)
            finally:
                response.close()
        except (BlockedDestinationError, FetchError):
            raise
        except httpx.TimeoutException as exc:
            # A socket timeout cut to the deadline may fire a hair before it.
            if time.monotonic() >= deadline - 0.05:
                raise TransportError(
                    f"{url}: timed out {_phase(exc)}: the whole exchange has a deadline "
                    f"of {total:g}s"
                ) from exc
            raise TransportError(f"{url}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            _DEADLINE.reset(token)
        return FetchResult(
            url=str(response.url),
            status_code=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=payload,
            elapsed=time.monotonic() - started,
            request_headers=dict(request.headers.items()),
            reason=response.reason_phrase,
            http_version=response.http_version,
        )

    def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        """The decoded body, refused as soon as it passes the cap.

        Decoding is ours, in steps of at most _DECODE_STEP bytes (httpx's decoders inflate
        each network chunk whole: 64 KiB of gzip can become 64 MiB at once), so memory
        stays near the cap whatever the compression ratio."""
        cap = self.limits.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise ResponseTooLargeError(
                f"{url}: body of {declared} bytes is over the {cap} byte cap"
            )
        if response.is_stream_consumed:
            # Read whole before it reached us (an in-memory transport, as in unit tests).
            if len(response.content) > cap:
                raise ResponseTooLargeError(f"{url}: body is over the {cap} byte cap")
            return response.content
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""), url)
        body = bytearray()
        raw_size = 0
        for raw in response.iter_raw():
            raw_size += len(raw)
            if raw_size > cap:
                raise ResponseTooLargeError(f"{url}: body is over the {cap} byte cap")
            for piece in decoder.decode(raw):
                body += piece
                if len(body) > cap:
                    raise ResponseTooLargeError(
                        f"{url}: body is over the {cap} byte cap once decompressed"
                    )
        return bytes(body)


def _phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "while connecting"
    if isinstance(exc, httpx.WriteTimeout):
        return "while sending"
    return "while reading the response"


# The most bytes one decoding step produces: the largest piece of a body ever held apart
# from the body itself.
_DECODE_STEP = 64 * 1024


class _BodyDecoder:
    """Undoes a Content-Encoding of gzip and/or deflate in bounded steps (zlib's
    ``max_length``); any other encoding is refused, as we never ask for one."""

    def __init__(self, content_encoding: str, url: str) -> None:
        self._url = url
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise UndecodableResponseError(
                    f"{url}: the server used Content-Encoding {coding!r}, which was not "
                    "asked for (only gzip and deflate are decoded)"
                )
        if len(codings) > 2:
            raise UndecodableResponseError(f"{url}: {len(codings)} layers of Content-Encoding")
        # Applied in the reverse of the order the server listed them.
        self._layers = [_Inflater(coding, url) for coding in reversed(codings)]

    def decode(self, data: bytes, level: int = 0) -> Iterator[bytes]:
        """The decoded pieces of ``data``, each at most _DECODE_STEP bytes."""
        if level == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[level].inflate(data):
            yield from self.decode(piece, level + 1)


class _Inflater:
    """One layer of gzip (multi-member too) or deflate (zlib-wrapped or raw)."""

    def __init__(self, coding: str, url: str) -> None:
        self._url = url
        self._gzip = coding != "deflate"
        # Servers often send raw deflate as "deflate": tried when the zlib header is wrong.
        self._raw_fallback = not self._gzip
        self._started = False
        self._obj = self._new()

    def _new(self) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def inflate(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while pending:
            if self._obj.eof:
                # Bytes after a finished stream: the next member of a gzip, else padding.
                if not self._gzip or not pending.strip(b"\0"):
                    return
                self._obj = self._new()
            try:
                piece = self._obj.decompress(pending, _DECODE_STEP)
            except zlib.error as exc:
                if self._raw_fallback and not self._started:
                    self._raw_fallback = False
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise TransportError(f"{self._url}: the body could not be decoded: {exc}") from exc
            self._started = True
            if piece:
                yield piece
            pending = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail


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
