"""A loopback server that misbehaves on purpose, one behaviour per path.

Every behaviour is bounded: a drip stops after ``DRIP_SECONDS``, an endless body after
``ENDLESS_BYTES``, and each stops as soon as the client hangs up.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

DRIP_SECONDS = 90.0
ENDLESS_BYTES = 400 * 1024 * 1024
BIG_BYTES = 50 * 1024 * 1024
BOMB_BYTES = 1024 * 1024 * 1024

_RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'


def _item(number: int) -> str:
    return (
        f"<item><title>Item {number}</title><guid>item-{number}</guid>"
        f"<link>http://items.invalid/{number}</link><description>Entry {number}.</description>"
        "</item>"
    )


def billion_laughs() -> str:
    lines = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        lines.append(f'<!ENTITY lol{level} "{("&" + previous + ";") * 10}">')
    return (
        "<!DOCTYPE rss [" + "".join(lines) + "]>"
        '<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><title>&lol9;</title><guid>laughs</guid><description>&lol9;</description></item>"
        "</channel></rss>"
    )


def quadratic_blowup() -> str:
    entity = "a" * 50_000
    body = "&a;" * 50_000
    return (
        f'<!DOCTYPE rss [<!ENTITY a "{entity}">]><rss version="2.0"><channel><title>q</title>'
        f"<item><title>{body}</title><guid>quadratic</guid></item></channel></rss>"
    )


def xxe(system_id: str) -> str:
    return (
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{system_id}">]><rss version="2.0"><channel>'
        "<title>&xxe;</title><item><title>&xxe;</title><guid>xxe</guid>"
        "<description>&xxe;</description></item></channel></rss>"
    )


def xxe_parameter(system_id: str) -> str:
    return (
        f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{system_id}"> %remote;]>'
        '<rss version="2.0"><channel><title>p</title><item><title>p</title><guid>pe</guid>'
        "</item></channel></rss>"
    )


def deep_nesting(depth: int = 100_000) -> str:
    return (
        '<rss version="2.0"><channel><title>deep</title><item><title>deep</title>'
        "<guid>deep</guid><description>"
        + "<div>" * depth
        + "x"
        + "</div>" * depth
        + "</description></item></channel></rss>"
    )


def many_items(count: int = 10_000) -> bytes:
    return _RSS_HEAD + "".join(_item(n) for n in range(count)).encode() + b"</channel></rss>"


def encode_xml(document: str, encoding: str) -> bytes:
    """The document with its XML declaration in ``encoding`` (utf-8, or utf-16 with a BOM)."""
    text = f'<?xml version="1.0" encoding="{encoding}"?>' + document
    return text.encode("utf-16") if encoding == "utf-16" else text.encode(encoding)


@cache
def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """A feed that gzips to about 1 MB and inflates to ``size`` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(_RSS_HEAD + b"<item><title>")]
    block = b" " * (1024 * 1024)
    for _ in range(size // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b"</title></item></channel></rss>"))
    parts.append(compressor.flush())
    return b"".join(parts)


Behaviour = Callable[[socket.socket], None]


def _headers(status: str = "200 OK", **fields: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/rss+xml", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def fixed(body: bytes, **fields: str) -> Behaviour:
    def send(conn: socket.socket) -> None:
        conn.sendall(_headers(Content_Length=str(len(body)), **fields) + body)

    return send


def header_drip(conn: socket.socket) -> None:
    """The status line and headers, one byte every half second: never a complete head."""
    head = _headers(Content_Length="10") + b"<rss></rss"
    deadline = time.monotonic() + DRIP_SECONDS
    for byte in head * 100:
        if time.monotonic() > deadline:
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def body_drip(conn: socket.socket) -> None:
    conn.sendall(_headers(Content_Length="100000") + _RSS_HEAD)
    deadline = time.monotonic() + DRIP_SECONDS
    while time.monotonic() < deadline:
        conn.sendall(b" ")
        time.sleep(0.5)


def _stream(conn: socket.socket, chunks: Iterator[bytes]) -> None:
    for chunk in chunks:
        conn.sendall(chunk)


def endless(conn: socket.socket) -> None:
    """A body with no length that never ends (until ENDLESS_BYTES or the client leaves)."""
    conn.sendall(_headers() + _RSS_HEAD + b"<item><title>")
    block = b"endless " * 8192
    _stream(conn, (block for _ in range(ENDLESS_BYTES // len(block))))


def big(declared: bool) -> Behaviour:
    """A 50 MB page, with its length declared up front or not."""

    def send(conn: socket.socket) -> None:
        fields = {"Content_Length": str(BIG_BYTES)} if declared else {}
        conn.sendall(_headers(**fields) + _RSS_HEAD)
        block = b"<item><title>big</title></item>" * 2048
        _stream(conn, (block for _ in range(BIG_BYTES // len(block))))

    return send


def gzip_bomb_response(conn: socket.socket) -> None:
    body = gzip_bomb()
    conn.sendall(_headers(Content_Length=str(len(body)), Content_Encoding="gzip") + body)


class HostileServer:
    """Serves ``behaviours`` by path on ``host`` (a loopback address), counting requests."""

    def __init__(self, behaviours: dict[str, Behaviour], host: str = "127.0.0.1") -> None:
        self.behaviours = behaviours
        self.hits: dict[str, int] = {}
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(10)
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    request += chunk
                parts = request.split(b" ", 2)
                path = parts[1].decode(errors="replace").split("?", 1)[0] if len(parts) > 1 else ""
                server.hits[path] = server.hits.get(path, 0) + 1
                behaviour = server.behaviours.get(path)
                try:
                    if behaviour is None:
                        conn.sendall(_headers("404 Not Found", Content_Length="0"))
                    else:
                        behaviour(conn)
                except OSError:
                    pass  # the client hung up: what a guarded client should do

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, 0), Handler)
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_marker(directory: Path) -> tuple[Path, str]:
    """A file an XXE would read: its text must never appear in the store."""
    marker = f"NEWSWATCH-XXE-MARKER-{time.time_ns()}"
    path = directory / "secret.txt"
    path.write_text(marker)
    return path, marker


def gzip_text(data: bytes) -> bytes:
    return gzip.compress(data)
