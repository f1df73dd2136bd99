"""OPML parsing and writing: nested folders, odd encodings, hostile XML, escaping."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

import pytest

from pipeline.stages.opml import OpmlFeed, build_opml, decode_xml, parse_opml

# Written like a reader's export: folders two deep, both xmlUrl spellings, a `url` outline,
# HTML entities, a bare ampersand, an empty folder and a separator-like outline.
READER_EXPORT = """<?xml version="1.0" encoding="{encoding}"?>
<opml version="1.0">
  <head><title>Subscriptions in Café Reader</title>
  <dateCreated>Mon, 30 Nov 2026</dateCreated></head>
  <body>
    <outline text="News" title="News">
      <outline text="Middle East">
        <outline type="rss" text="Al Wasat \u2013 World" title="Al Wasat &ndash; World"
                 xmlUrl="https://wasat.example.invalid/world.rss" htmlUrl="https://wasat.example.invalid/"/>
        <outline type="rss" text="Levant Daily" xmlURL="https://levant.example.invalid/feed?a=1&amp;b=2"/>
      </outline>
      <outline type="rss" text="Le Réveil" url="https://reveil.example.invalid/atom.xml"/>
    </outline>
    <outline text="Empty folder"></outline>
    <outline type="rss" text="R&D weekly" xmlUrl="https://rnd.example.invalid/rss"/>
    <outline type="rss" text="Broken entry"/>
    <outline text="------"/>
  </body>
</opml>
"""

EXPECTED = [
    ("https://wasat.example.invalid/world.rss", "Al Wasat \u2013 World", ("News", "Middle East")),
    ("https://levant.example.invalid/feed?a=1&b=2", "Levant Daily", ("News", "Middle East")),
    ("https://reveil.example.invalid/atom.xml", "Le Réveil", ("News",)),
    ("https://rnd.example.invalid/rss", "R&D weekly", ()),
]


def _feeds(data: bytes) -> list[tuple[str | None, str, tuple[str, ...]]]:
    return [(o.url, o.title, o.folder) for o in parse_opml(data).outlines if o.url]


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("UTF-8", lambda text: text.encode("utf-8")),
        ("UTF-8", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
        ("ISO-8859-1", lambda text: text.replace("\u2013", "-").encode("latin-1")),
        ("windows-1252", lambda text: text.encode("cp1252")),
        ("UTF-16", lambda text: text.encode("utf-16")),  # with its BOM
        ("UTF-16", lambda text: text.encode("utf-16-le")),  # no BOM
        ("UTF-16", lambda text: text.encode("utf-8")),  # a declaration that lies
        ("UTF-8", lambda text: text.encode("cp1252")),  # declared UTF-8, saved as cp1252
    ],
)
def test_reader_exports_in_odd_encodings_keep_every_feed_and_folder(
    encoding: str, encode: object
) -> None:
    data = encode(READER_EXPORT.format(encoding=encoding))  # type: ignore[operator]
    # The first title comes from `&ndash;` in its title attribute, even in latin-1.
    assert _feeds(data) == EXPECTED


def test_an_outline_without_a_url_is_reported_with_its_line() -> None:
    parsed = parse_opml(READER_EXPORT.format(encoding="UTF-8").encode())
    broken = [o for o in parsed.outlines if o.url is None]
    assert [(o.title, o.problem) for o in broken] == [
        ("Broken entry", "it has no xmlUrl attribute")
    ]
    assert broken[0].line == 16
    assert parsed.title == "Subscriptions in Café Reader"


def test_entities_are_never_expanded_nor_external_files_read() -> None:
    hostile = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<opml version="2.0"><body>
  <outline type="rss" text="&lol3; &xxe;" xmlUrl="https://a.example.invalid/rss"/>
</body></opml>"""
    (outline,) = parse_opml(hostile).outlines
    assert outline.url == "https://a.example.invalid/rss"
    assert "root:" not in outline.title and "lollol" not in outline.title


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "it is empty"),
        (b"\xef\xbb\xbf  \n", "it is empty"),
        (b"just text, not XML", "not an OPML file"),
        (b"<?xml version='1.0'?><rss><channel/></rss>", "<rss>, not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
    ],
)
def test_a_file_that_is_not_opml_is_one_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match="not an OPML file") as caught:
        parse_opml(data)
    assert reason in str(caught.value)


def test_nested_outlines_deeper_than_any_reader_makes_are_cut_not_crashed() -> None:
    depth = 200
    data = (
        "<opml><body>"
        + '<outline text="f">' * depth
        + '<outline type="rss" text="deep" xmlUrl="https://d.example.invalid/"/>'
        + "</outline>" * depth
        + '<outline type="rss" text="top" xmlUrl="https://t.example.invalid/"/></body></opml>'
    ).encode()
    urls = [o.url for o in parse_opml(data).outlines]
    assert urls == ["https://t.example.invalid/"]


def test_export_escapes_names_and_parses_back_to_the_same_feeds() -> None:
    feeds = [
        OpmlFeed("https://a.example.invalid/rss?x=1&y=2", 'Quotes "and" <tags> & more'),
        OpmlFeed("https://b.example.invalid/atom", "Control\x07char\x00s", ("News", "World")),
        OpmlFeed("https://c.example.invalid/feed", "", ("News",)),
        OpmlFeed("https://d.example.invalid/feed", "Ünïcödé 東京", ("News", "World")),
    ]
    data = build_opml(feeds, "newswatch feeds", datetime(2026, 12, 1, tzinfo=UTC))
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b'<opml version="2.0">' in data
    assert b"&lt;tags&gt; &amp; more" in data
    assert b"Tue, 01 Dec 2026 00:00:00 +0000" in data
    back = {o.url: (o.title, o.folder) for o in parse_opml(data).outlines}
    assert back == {
        "https://a.example.invalid/rss?x=1&y=2": ('Quotes "and" <tags> & more', ()),
        "https://b.example.invalid/atom": ("Controlchars", ("News", "World")),
        "https://c.example.invalid/feed": ("https://c.example.invalid/feed", ("News",)),
        "https://d.example.invalid/feed": ("Ünïcödé 東京", ("News", "World")),
    }


def test_decode_prefers_the_bom_over_a_declaration() -> None:
    text = '<?xml version="1.0" encoding="ISO-8859-1"?><opml/>é'
    assert decode_xml(codecs.BOM_UTF8 + text.encode()) == text
