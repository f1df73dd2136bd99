"""A fetched page as a WARC file (pure): records readable by warcio, decoded body kept."""

from __future__ import annotations

import gzip
import hashlib
import io
from datetime import UTC, datetime

from warcio.archiveiterator import ArchiveIterator

from pipeline.stages.evidence import PageCapture, build_warc

CAPTURE = PageCapture(
    url="https://news.example.invalid/world/quake?id=7",
    status=200,
    reason="OK",
    request_headers={"User-Agent": "newswatch/test", "Accept": "text/html"},
    response_headers={
        "content-type": "text/html; charset=utf-8",
        "content-encoding": "gzip",
        "content-length": "999",
        "etag": '"abc"',
    },
    fetched_at=datetime(2026, 11, 30, 8, 15, 2, tzinfo=UTC),
)
BODY = "<html><body><p>At least 97 people were killed — officials.</p></body></html>".encode()


def test_the_warc_holds_request_and_response_as_fetched() -> None:
    warc = build_warc(CAPTURE, BODY)
    assert warc.sha256 == hashlib.sha256(warc.data).hexdigest()
    assert gzip.decompress(warc.data).startswith(b"WARC/1.1")
    records, bodies = [], []
    for record in ArchiveIterator(io.BytesIO(warc.data)):  # a body is read before the next
        records.append(record)
        bodies.append(record.content_stream().read())
    assert [r.rec_type for r in records] == ["response", "request"]
    response, request = records
    assert response.rec_headers.get_header("WARC-Target-URI") == CAPTURE.url
    assert response.rec_headers.get_header("WARC-Date") == "2026-11-30T08:15:02Z"
    assert response.http_headers.get_header("ETag") == '"abc"'
    # The body is stored decoded, so its encoding headers are kept under another name.
    assert response.http_headers.get_header("Content-Encoding") is None
    assert response.http_headers.get_header("X-Archive-Orig-content-encoding") == "gzip"
    assert response.http_headers.get_header("Content-Length") == str(len(BODY))
    assert bodies == [BODY, b""]
    assert request.http_headers.statusline == "/world/quake?id=7 HTTP/1.1"
    assert request.http_headers.get_header("Host") == "news.example.invalid"
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response_id


def test_the_capture_survives_its_json_form() -> None:
    again = PageCapture.from_dict(CAPTURE.to_dict())
    assert again == CAPTURE
    assert build_warc(again, BODY).data[:2] == b"\x1f\x8b"
