"""Peak memory while a gzip bomb is refused: the HTTP seam against httpx's own decoding of
the same response, in the same run.

A loopback server answers with ``--inflated`` MiB of zeros gzipped (about 1/1000 of that on
the wire). The baseline is httpx's ``iter_bytes`` reading the same response, stopped after
its first decoded chunk (httpx inflates each network chunk whole). The seam refuses the
body at its cap (``--cap`` MiB, 10 by default as shipped). Peaks are tracemalloc's (Python
allocations, in this process), so the figures are the bytes held, not RSS.

    .venv/bin/python -m benchmarks.bench_decompression [--inflated 64 --cap 10]
"""

from __future__ import annotations

import argparse
import gzip
import socket
import threading
import tracemalloc

import httpx

from pipeline.errors import ResponseTooLargeError
from pipeline.io.http import HttpClient, HttpLimits
from pipeline.settings import Settings

MIB = 1024 * 1024


def _serve(payload: bytes) -> tuple[socket.socket, str]:
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(payload)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def answer() -> None:
        for _ in range(2):  # the baseline, then the seam
            conn, _ = sock.accept()
            try:
                conn.recv(65536)
                conn.sendall(head + payload)
            except OSError:
                pass  # the client stopped reading: expected of both
            finally:
                conn.close()

    threading.Thread(target=answer, daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/bomb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inflated", type=int, default=64, help="MiB the bomb inflates to")
    parser.add_argument("--cap", type=int, default=10, help="the seam's cap, MiB")
    args = parser.parse_args()
    bomb = gzip.compress(b"\0" * (args.inflated * MIB), compresslevel=9)
    sock, url = _serve(bomb)
    print(f"bomb: {len(bomb) / 1024:.0f} KiB on the wire, {args.inflated} MiB inflated")

    tracemalloc.start()
    with httpx.Client() as client, client.stream("GET", url) as response:
        first = len(next(iter(response.iter_bytes()), b""))
    baseline = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"baseline httpx iter_bytes: first chunk {first / MIB:.1f} MiB, "
        f"peak {baseline / MIB:.1f} MiB"
    )

    settings = Settings(http_max_bytes=args.cap * MIB, http_allow_hosts=["127.0.0.1"])
    tracemalloc.start()
    with HttpClient(HttpLimits.from_settings(settings), allow_hosts=["127.0.0.1"]) as seam:
        try:
            seam.get(url)
            outcome = "accepted (unexpected)"
        except ResponseTooLargeError as exc:
            outcome = f"refused: {exc}"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    sock.close()
    print(f"seam (cap {args.cap} MiB): peak {peak / MIB:.1f} MiB, {outcome}")
    print(f"ratio seam/baseline peak: {peak / baseline:.2f}")


if __name__ == "__main__":
    main()
