"""JSON Feed (https://www.jsonfeed.org/version/1.1/, versions 1 and 1.1) beside RSS and Atom."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.stages.parse import parse_feed
from tests.conftest import FIXTURES

FEED_URL = "https://live.harbour.invalid/feed.json"
JSON_FEED = {"content-type": "application/feed+json"}
V11 = "https://jsonfeed.org/version/1.1"


def _fixture(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes()


def _feed(items: list[object], **fields: object) -> bytes:
    return json.dumps({"version": V11, "title": "t", **fields, "items": items}).encode()


def test_items_map_to_feed_entries() -> None:
    parsed = parse_feed(_fixture("delta.json"), JSON_FEED, FEED_URL)
    assert parsed.problem is None
    assert parsed.title == "Harbour Ledger \u2013 Live"  # "&#8211;" decoded, as in RSS titles
    ferry, strike, notes, tide = parsed.entries

    assert ferry.guid == "tag:live.harbour.invalid,2024:ferry"
    assert ferry.link == (
        "https://live.harbour.invalid/2024/05/ferry-capsizes.html?utm_source=jsonfeed"
    )
    assert ferry.canonical_url == "https://live.harbour.invalid/2024/05/ferry-capsizes.html"
    assert ferry.title == "Ferry capsizes off Port Vell; 14 rescued"
    assert ferry.summary == "Coastguard says the search goes on."
    # content_html goes through the same html_to_text as RSS: entities, NBSP, blocks, script.
    assert ferry.content == (
        "At least 14 passengers were rescued after the ferry capsized.\n"
        "France's coastguard sent two boats."
    )
    assert ferry.author == "Mara Olsen, Jon Ide"  # 1.1 "authors"; a nameless author is skipped
    assert ferry.published == datetime(2024, 5, 14, 6, 45, tzinfo=UTC)  # +02:00 to UTC

    assert strike.guid == "1042"  # a numeric id is coerced to a string, as the spec asks
    assert strike.link == "https://other-paper.invalid/2024/05/15/harbour-strike"  # external_url
    assert strike.content == "Dockers walked out again on Wednesday.\nTalks resume on Friday."
    assert strike.author == "Live Desk"  # an item without authors has the feed's
    assert strike.published == datetime(2024, 5, 15, 11, 0, tzinfo=UTC)  # date_modified

    assert notes.link == "https://live.harbour.invalid/2024/05/market-notes.html"  # relative
    assert notes.content == "Fish prices fell 3%.\nFuel rose."
    assert notes.published == datetime(2024, 5, 16, 7, 0, tzinfo=UTC)  # RFC 822 tolerated

    assert tide.link == tide.guid == "https://live.harbour.invalid/2024/05/tide-table.html"
    assert tide.published == datetime(2024, 5, 17, tzinfo=UTC)  # a bad date_published


def test_version_1_uses_author_objects() -> None:
    parsed = parse_feed(_fixture("delta-v1.json"), JSON_FEED, "https://briefs.harbour.invalid/f")
    assert parsed.problem is None
    assert parsed.title == "Harbour Ledger Briefs"
    assert [(e.guid, e.author, e.content) for e in parsed.entries] == [
        ("brief-1", "Eli Brandt", "The bridge reopened to traffic on Monday."),
        ("brief-2", "Briefs Desk", "Night buses run again from Friday."),
    ]


def test_bad_items_do_not_cost_the_others() -> None:
    parsed = parse_feed(_fixture("bad-items.json"), JSON_FEED, "https://wire.harbour.invalid/f")
    assert [e.guid for e in parsed.entries] == ["wire-7", "wire-8"]
    assert parsed.entries[0].content == "All three ports reopened on Tuesday."
    assert parsed.entries[1].published is None  # "2024-13-45T99:00:00Z"
    # A string, a number, a null and an out-of-range port are unreadable; the item whose fields
    # are all of the wrong type has nothing to show and is dropped as RSS drops such entries.
    assert parsed.problem == "JSON Feed with 4 unreadable item(s) of 7"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/feed+json; charset=utf-8"},
        {"content-type": "application/json"},
        {"content-type": "text/plain"},  # a mislabelled JSON Feed: the body opens with '{'
        {},
    ],
)
def test_detected_by_content_type_or_by_the_body(headers: dict[str, str]) -> None:
    body = b"\xef\xbb\xbf \r\n" + _fixture("delta-v1.json")  # BOM and whitespace first
    assert [e.guid for e in parse_feed(body, headers, FEED_URL).entries] == ["brief-1", "brief-2"]


def test_rss_labelled_as_json_is_still_read_as_rss() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
    <item><title>Ports reopen</title><link>https://wire.harbour.invalid/a</link></item>
    </channel></rss>"""
    parsed = parse_feed(body, {"content-type": "application/json"}, FEED_URL)
    assert [e.link for e in parsed.entries] == ["https://wire.harbour.invalid/a"]


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', {}, "JSONDecodeError"),
        (b"", JSON_FEED, "JSONDecodeError"),
        (b"[1, 2, 3]", {"content-type": "application/json"}, "not an object"),
        (b'{"title": "an API answer", "items": []}', {}, "no version"),
        (b'{"version": "2.0", "items": []}', JSON_FEED, "version '2.0'"),
        (b'{"version": "https://jsonfeed.org/version/2", "items": []}', {}, "version"),
    ],
)
def test_json_that_is_not_a_json_feed_is_not_a_feed(
    body: bytes, headers: dict[str, str], why: str
) -> None:
    with pytest.raises(ValueError, match=r"^not a feed \(") as caught:
        parse_feed(body, headers, FEED_URL)
    assert why in str(caught.value)


def test_absurd_nesting_is_refused_gracefully() -> None:
    depth = 100_000
    body = b'{"version": "%s", "items": [' % V11.encode() + b"[" * depth + b"]" * depth + b"]}"
    with pytest.raises(ValueError, match=r"^not a feed \(RecursionError"):
        parse_feed(body, JSON_FEED, FEED_URL)
    # Nesting inside one item's unused field stays within the decoder's limit: the item counts.
    nested = {"id": "n", "url": "https://live.harbour.invalid/n", "_ext": [[[[[[[[1]]]]]]]]}
    assert [e.guid for e in parse_feed(_feed([nested]), JSON_FEED, FEED_URL).entries] == ["n"]


def test_awkward_values_cannot_break_storage() -> None:
    huge_id = "9" * 5000  # int() refuses more than 4,300 digits; the id stays exact text
    body = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "t", "items": [{"id": '
        + huge_id.encode()
        + b', "url": "https://live.harbour.invalid/h", '
        + b'"title": "Nul\\u0000 and lone \\ud800 surrogate", "authors": [{"name": "A\\u0000"}],'
        + b' "content_text": "Fine \\ud83d\\ude00 pair"}]}'
    )
    (entry,) = parse_feed(body, JSON_FEED, FEED_URL).entries
    assert entry.guid == huge_id
    assert entry.title == "Nul and lone surrogate"
    assert entry.author == "A"
    assert entry.content == "Fine \U0001f600 pair"  # an escaped surrogate pair is one emoji
    for value in (entry.guid, entry.title, entry.author, entry.content):
        value.encode("utf-8")  # storable: no lone surrogate left


def test_items_missing_is_a_problem_not_an_empty_success() -> None:
    body = json.dumps({"version": V11, "title": "No items"}).encode()
    parsed = parse_feed(body, JSON_FEED, FEED_URL)
    assert parsed.entries == []
    assert parsed.problem == "JSON Feed without an items list"


def test_item_text_is_plain_text_like_rss() -> None:
    item = {
        "id": "x",
        "url": "https://live.harbour.invalid/x",
        "title": "Student killed in France&#039;s Lyon; 6 arrested",
        "summary": "&lt;p&gt;Police said 6 people were arrested.&lt;/p&gt;",
        "content_html": "<p>One</p><p>Two &amp;amp; three</p>",
    }
    (entry,) = parse_feed(_feed([item]), JSON_FEED, FEED_URL).entries
    assert entry.title == "Student killed in France's Lyon; 6 arrested"
    assert entry.summary == "Police said 6 people were arrested."
    assert entry.content == "One\nTwo & three"


def test_content_text_is_the_fallback_for_empty_content_html() -> None:
    item = {
        "id": "x",
        "url": "https://live.harbour.invalid/x",
        "content_html": "<p> </p>",
        "content_text": "The text version.",
    }
    (entry,) = parse_feed(_feed([item]), JSON_FEED, FEED_URL).entries
    assert entry.content == "The text version."
