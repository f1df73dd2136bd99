"""The HTTP seam against hostile loopback servers: one deadline for the whole exchange, and
a decompressed-size cap enforced while decoding, in small steps.

The servers are raw sockets on 127.0.0.1 (allowlisted), so the real connection backend is
used. Elapsed-time asserts are generous correctness guards, not benchmarks.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.errors import ResponseTooLargeError, TransportError, UndecodableResponseError
from pipeline.io.http import HttpClient, HttpLimits
from pipeline.settings import Settings

Handler = Callable[[socket.socket], None]


class RawServer:
    """Answers each connection on 127.0.0.1 with ``handler`` (one thread per connection)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            _read_request(conn)
            self.handler(conn)
        except OSError:
            pass  # the client hung up at its deadline: what the tests want
        finally:
            conn.close()

    def url(self, path: str = "/feed.xml") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _drip(conn: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    for i in range(len(data)):  # bounded by the data; the client gives up long before
        if stop.is_set():
            return
        conn.sendall(data[i : i + 1])
        time.sleep(every)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _client(**settings: Any) -> HttpClient:
    limits = HttpLimits.from_settings(Settings(**settings))
    return HttpClient(limits, allow_hosts=["127.0.0.1"])


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 10\r\n\r\n"


def test_headers_dripped_a_byte_at_a_time_fail_at_the_deadline(serve: Any) -> None:
    stop = threading.Event()
    server = serve(lambda conn: _drip(conn, HEADERS + b"0123456789", 0.5, stop))
    started = time.monotonic()
    with (
        _client(http_read_timeout=5, http_total_timeout=2) as client,
        pytest.raises(TransportError) as info,
    ):
        client.get(server.url())
    elapsed = time.monotonic() - started
    stop.set()
    assert "deadline of 2s" in str(info.value) and "reading the response" in str(info.value)
    assert not info.value.permanent
    assert elapsed < 10, elapsed  # a guard: undripped, this took len(HEADERS) * 0.5 s


def test_body_dripped_a_byte_at_a_time_fails_at_the_deadline(serve: Any) -> None:
    stop = threading.Event()

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        _drip(conn, b"x" * 100, 0.5, stop)

    server = serve(handler)
    started = time.monotonic()
    with (
        _client(http_read_timeout=5, http_total_timeout=2) as client,
        pytest.raises(TransportError, match="deadline of 2s"),
    ):
        client.get(server.url())
    stop.set()
    assert time.monotonic() - started < 10


def test_webhook_post_to_a_header_drip_fails_at_its_timeout(serve: Any) -> None:
    stop = threading.Event()
    server = serve(lambda conn: _drip(conn, HEADERS + b"0123456789", 0.5, stop))
    started = time.monotonic()
    with (
        _client(http_read_timeout=15) as client,
        pytest.raises(TransportError, match="deadline of 1s"),
    ):
        client.post(server.url("/hook"), b"{}", {}, timeout=1)
    stop.set()
    assert time.monotonic() - started < 8


def test_a_resolver_that_never_answers_fails_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A feed host whose DNS lookup hangs: the lookup counts against the exchange's
    deadline like the connect, and the error says so."""
    answer = threading.Event()
    lookups: list[str] = []

    def hanging_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        answer.wait(30)  # bounded: released below, whatever the test's outcome
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    started = time.monotonic()
    try:
        with (
            _client(http_connect_timeout=10, http_read_timeout=10, http_total_timeout=1) as client,
            pytest.raises(TransportError) as info,
        ):
            client.get("http://feeds.slow-dns.example/feed.xml")
    finally:
        answer.set()
    elapsed = time.monotonic() - started
    assert lookups == ["feeds.slow-dns.example"]
    assert "deadline of 1s" in str(info.value) and "while connecting" in str(info.value)
    assert not info.value.permanent
    assert elapsed < 5, elapsed  # a guard: without the deadline, this took the full 30 s


def test_deadline_does_not_outlive_the_request(serve: Any) -> None:
    """A fast answer after a slow one: each exchange has its own deadline."""
    body = b"<rss></rss>"
    # The server closes each connection: said, so the client never reuses one the server
    # is closing (that race, not the deadline, failed this test on a loaded machine).
    server = serve(
        lambda conn: conn.sendall(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
    )
    with _client(http_total_timeout=2) as client:
        for _ in range(3):
            assert client.get(server.url()).body == body


def _serve_encoded(serve: Any, payload: bytes, encoding: str) -> RawServer:
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
        encoding.encode(),
        len(payload),
    )
    return serve(lambda conn: conn.sendall(head + payload))  # type: ignore[no-any-return]


def test_gzip_bomb_is_refused_while_decoding_in_small_steps(serve: Any) -> None:
    cap = 1024 * 1024
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB on the wire
    server = _serve_encoded(serve, bomb, "gzip")
    with _client(http_max_bytes=cap) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError) as info:
                client.get(server.url())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.permanent
    assert "byte cap once decompressed" in str(info.value)
    # The body up to the cap plus a step or two; whole-chunk decoding would be ~64 MiB.
    assert peak < 4 * cap, f"peak {peak / 2**20:.1f} MiB while refusing a gzip bomb"


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda data: zlib.compress(data, 9), id="deflate-zlib"),
        pytest.param(
            lambda data: (lambda c: c.compress(data) + c.flush())(
                zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            ),
            id="deflate-raw",
        ),
    ],
)
def test_deflate_bomb_is_refused_too(serve: Any, encode: Callable[[bytes], bytes]) -> None:
    server = _serve_encoded(serve, encode(b"\0" * (32 * 1024 * 1024)), "deflate")
    with _client(http_max_bytes=1024 * 1024) as client, pytest.raises(ResponseTooLargeError):
        client.get(server.url())


def test_compressed_bodies_under_the_cap_decode_exactly(serve: Any) -> None:
    text = b"".join(b"<item>%d</item>\n" % i for i in range(20_000))
    two_members = gzip.compress(text[:1000]) + gzip.compress(text[1000:])
    cases = [
        (gzip.compress(text), "gzip"),
        (two_members, "gzip"),
        (zlib.compress(text), "deflate"),
        (gzip.compress(zlib.compress(text)), "deflate, gzip"),
        (text, "identity"),
    ]
    with _client() as client:
        for payload, encoding in cases:
            server = _serve_encoded(serve, payload, encoding)
            assert client.get(server.url()).body == text, encoding


def test_an_encoding_never_asked_for_is_refused(serve: Any) -> None:
    server = _serve_encoded(serve, b"\x1b\x00\x00", "br")
    with _client() as client, pytest.raises(UndecodableResponseError, match="'br'") as info:
        client.get(server.url())
    assert info.value.permanent


def test_a_corrupt_compressed_body_is_one_clear_error(serve: Any) -> None:
    server = _serve_encoded(serve, b"not gzip at all" * 10, "gzip")
    with _client() as client, pytest.raises(TransportError, match="could not be decoded"):
        client.get(server.url())


def test_apprise_send_to_a_header_drip_ends_at_its_deadline(serve: Any) -> None:
    from pipeline.io.channels import AppriseTransport, OutgoingMessage

    stop = threading.Event()
    server = serve(lambda conn: _drip(conn, HEADERS + b"0123456789", 0.5, stop))
    message = OutgoingMessage(webhook_id="msg_1", body="{}", title="t", text="x")
    started = time.monotonic()
    with _client() as client:
        target = f"json://127.0.0.1:{server.port}/hook"
        result = AppriseTransport().send(target, [], message, client, timeout=1)
    stop.set()
    assert result.error and "deadline of 1s" in result.error and not result.permanent
    assert time.monotonic() - started < 8
