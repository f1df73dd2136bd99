from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.stages.parse import canonical_url, html_to_text, parse_feed, strip_declarations
from tests.conftest import FIXTURES, need_shared

BASE = "http://127.0.0.1:8000"


def _feed(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes().replace(b"{{base}}", BASE.encode())


def test_rss_entries_have_canonical_links_and_dates() -> None:
    parsed = parse_feed(_feed("alpha.rss"), {"content-type": "application/rss+xml"}, BASE + "/a")
    assert parsed.problem is None
    assert [e.canonical_url for e in parsed.entries] == [
        f"{BASE}/articles/ceasefire-talks.html",
        f"{BASE}/articles/port-evacuation.html",
        f"{BASE}/articles/market-report.html",
    ]
    assert all(e.published is not None and e.title for e in parsed.entries)


def test_atom_feed_parses() -> None:
    parsed = parse_feed(_feed("beta.atom"), {}, BASE + "/b")
    assert len(parsed.entries) == 2
    assert parsed.entries[0].guid


def test_malformed_feed_keeps_good_entries_and_says_why() -> None:
    parsed = parse_feed(_feed("broken.rss"), {}, BASE + "/broken")
    assert parsed.problem
    assert {e.canonical_url.rsplit("/", 1)[1] for e in parsed.entries} == {
        "market-report.html",
        "science-prize.html",
    }


def test_entity_declarations_are_removed_before_parsing() -> None:
    body = _feed("xxe.rss")
    assert b"<!ENTITY" in body
    cleaned = strip_declarations(body)
    assert b"<!ENTITY" not in cleaned and b"<!DOCTYPE" not in cleaned
    parsed = parse_feed(body, {}, BASE + "/x")
    everything = repr(parsed)
    assert "root:" not in everything  # nothing from /etc/passwd
    assert "lol" * 20 not in everything  # no entity expansion
    assert [e.canonical_url.rsplit("/", 1)[1] for e in parsed.entries] == ["market-report.html"]


def test_not_a_feed_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a feed"):
        parse_feed(b"\x00\x01garbage<<<", {}, BASE)


def test_canonical_url_drops_tracking_and_fragments() -> None:
    assert (
        canonical_url("HTTPS://News.Example.com:443/a/b?utm_source=x&id=3#top")
        == "https://news.example.com/a/b?id=3"
    )
    assert canonical_url("http://h:8080") == "http://h:8080/"


def test_entry_without_link_is_keyed_on_feed_and_guid() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><guid isPermaLink="false">abc-1</guid><title>Only text</title>
    <description>Some &lt;b&gt;bold&lt;/b&gt; words.</description></item></channel></rss>"""
    parsed = parse_feed(body, {}, "http://feeds.example.org/x.rss")
    (entry,) = parsed.entries
    assert entry.link is None
    assert entry.canonical_url == "urn:newswatch:http://feeds.example.org/x.rss#abc-1"
    assert entry.summary == "Some bold words."


def test_html_to_text_keeps_paragraph_breaks() -> None:
    assert html_to_text("<p>One.</p><p>Two.</p>").splitlines() == ["One.", "Two."]


def _expected_corpus_refusals() -> list[str]:
    """``path problem`` for each line of the fixture; the third column (why) is for readers."""
    text = (FIXTURES / "feedparser-not-a-feed.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = [line.split(maxsplit=2) for line in lines]
    return sorted(f"{path} {problem}" for path, problem, _why in rows)


def test_feedparser_corpus_refusals_are_exactly_the_known_ones() -> None:
    root: Path = need_shared("corpora", "feedparser-tests")
    files = sorted(root.rglob("*.xml"))
    assert files
    refused: list[str] = []
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            parse_feed(path.read_bytes(), {}, "http://127.0.0.1/feed")
        except ValueError as exc:
            problem = re.match(r"not a feed \((\w+)", str(exc))
            refused.append(f"{name} {problem.group(1) if problem else exc}")
        except Exception as exc:
            # Listed rather than raised so one crash does not hide the rest of the diff.
            refused.append(f"{name} CRASH {type(exc).__name__}: {exc}")
    # A new refusal, a crash, a changed problem or a file that now parses all fail here, by
    # name; update tests/fixtures/feedparser-not-a-feed.txt only for an intended change.
    expected = _expected_corpus_refusals()
    assert {
        "newly refused": sorted(set(refused) - set(expected)),
        "no longer refused": sorted(set(expected) - set(refused)),
    } == {"newly refused": [], "no longer refused": []}
    assert len(refused) == len(expected)  # a file listed twice in the fixture


def test_one_bad_link_does_not_cost_the_other_entries() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>http://h.example:99999/x</link></item>
    <item><title>b</title><link>/relative/b</link></item></channel></rss>"""
    parsed = parse_feed(body, {"Content-Location": "/feeds/x.rss"}, "http://f.example/feeds/x.rss")
    assert [e.canonical_url for e in parsed.entries] == ["http://f.example/relative/b"]
