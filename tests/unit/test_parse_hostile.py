"""Entity attacks on parse_feed in every encoding a feed can arrive in.

Billion laughs, quadratic blowup and XXE (a local file, a loopback URL whose listener must
see no connection) in UTF-8, UTF-16LE/BE and UTF-32, with and without a BOM: no expansion,
no request, no file read, and the plain entry of the feed kept.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pipeline.stages.parse import parse_feed, strip_declarations
from tests.unit.conftest import Listener

# One declaration a line: the shape feedparser's own DOCTYPE handling re-inserts as "safe"
# when the declarations reach it (the quadratic blowup then expanded to 100 MB in UTF-16).
LAUGHS = "\n".join(
    f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
).replace("&lol0;", "lol")
BLOWUP = '<!ENTITY a "' + "x" * 50_000 + '">'


def _feed(encoding_label: str, subset: str, poisoned: str) -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding_label}"?>\n'
        f"<!DOCTYPE rss [\n{subset}\n]>\n"
        '<rss version="2.0"><channel><title>Hostile</title>'
        f"<item><title>{poisoned}</title><link>https://news.invalid/a</link></item>"
        "<item><title>Plain news</title><link>https://news.invalid/b</link></item>"
        "</channel></rss>"
    )


# (label in the XML declaration, Python codec, BOM or b"")
ENCODINGS = [
    ("utf-8", "utf-8", b""),
    ("utf-8", "utf-8", codecs.BOM_UTF8),
    ("utf-16", "utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16", "utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-16", "utf-16-le", b""),
    ("utf-16", "utf-16-be", b""),
    ("utf-16le", "utf-16-le", b""),
    ("utf-16be", "utf-16-be", b""),
    ("utf-32", "utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32", "utf-32-be", b""),
]
IDS = [f"{codec}{'+bom' if bom else ''}-{label}" for label, codec, bom in ENCODINGS]


def _encode(text: str, codec: str, bom: bytes) -> bytes:
    return bom + text.encode(codec)


def _texts(body: bytes, content_type: str = "application/rss+xml") -> list[str]:
    parsed = parse_feed(body, {"content-type": content_type}, "https://news.invalid/feed")
    return [parsed.title] + [e.title + e.summary + e.content for e in parsed.entries]


def _assert_plain_entry_kept(body: bytes) -> None:
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, "https://news.invalid/f")
    assert "Plain news" in [entry.title for entry in parsed.entries]


@pytest.mark.parametrize(("label", "codec", "bom"), ENCODINGS, ids=IDS)
def test_billion_laughs_does_not_expand(label: str, codec: str, bom: bytes) -> None:
    body = _encode(_feed(label, LAUGHS, "&lol9;"), codec, bom)
    assert all(text.count("lol") < 100 for text in _texts(body))
    _assert_plain_entry_kept(body)


@pytest.mark.parametrize(("label", "codec", "bom"), ENCODINGS, ids=IDS)
def test_quadratic_blowup_does_not_expand(label: str, codec: str, bom: bytes) -> None:
    body = _encode(_feed(label, BLOWUP, "&a;" * 2000), codec, bom)
    assert all(len(text) < 200_000 for text in _texts(body))
    _assert_plain_entry_kept(body)


@pytest.mark.parametrize(("label", "codec", "bom"), ENCODINGS, ids=IDS)
def test_external_entities_read_no_file_and_make_no_request(
    label: str, codec: str, bom: bytes, listener: Listener, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    subset = (
        f'<!ENTITY file SYSTEM "file://{secret}">\n'
        f'<!ENTITY net SYSTEM "http://127.0.0.1:{listener.port}/xxe">\n'
        f'<!ENTITY % remote SYSTEM "http://127.0.0.1:{listener.port}/dtd">\n%remote;'
    )
    before = listener.hits
    body = _encode(_feed(label, subset, "&file;&net;"), codec, bom)
    assert not any("TOP-SECRET" in text for text in _texts(body))
    # An external DOCTYPE too, not only entities in the internal subset.
    external = body.replace(
        "<!DOCTYPE rss [".encode(codec),
        f'<!DOCTYPE rss SYSTEM "http://127.0.0.1:{listener.port}/d" ['.encode(codec),
    )
    _texts(external)
    assert listener.hits == before
    _assert_plain_entry_kept(body)


def test_declarations_are_gone_from_what_the_parser_reads_in_utf16() -> None:
    """The old byte pattern never matched UTF-16; the check now runs after transcoding."""
    body = _encode(_feed("utf-16", LAUGHS, "&lol9;"), "utf-16-le", codecs.BOM_UTF16_LE)
    assert b"<!DOCTYPE" not in body  # what made the old strip a no-op
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, "https://news.invalid/f")
    assert "Plain news" in [entry.title for entry in parsed.entries]
    assert not any("lollol" in entry.title for entry in parsed.entries)  # never expanded
    assert "undefined entity" in (parsed.problem or "")


def test_declarations_hidden_inside_each_other_are_removed_or_refused() -> None:
    nested = b'<!DOC<!ENTITY x "y">TYPE rss [<!ENTITY a "b">]><rss/>'
    assert b"<!DOCTYPE" not in strip_declarations(nested).upper()
    deep = b"<!DOC" * 6 + b"<!ENTITY x>" + b"TYPE>" * 6 + b"<rss/>"
    try:
        cleaned = strip_declarations(deep)
    except ValueError as exc:
        assert "not a feed" in str(exc)
    else:
        assert b"<!DOCTYPE" not in cleaned.upper() and b"<!ENTITY" not in cleaned.upper()


def test_a_utf16_feed_without_attacks_still_parses_in_full() -> None:
    text = _feed("utf-16", "", "Ceasefire talks resume")
    for codec, bom in (("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", b"")):
        titles = [
            e.title
            for e in parse_feed(_encode(text, codec, bom), {}, "https://n.invalid/f").entries
        ]
        assert titles == ["Ceasefire talks resume", "Plain news"]
