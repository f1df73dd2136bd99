"""OPML import and export on a real store, with the URL check against the loopback site."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.runtime import Runtime
from pipeline.services import catalog
from pipeline.services.opml import export_opml, import_opml
from pipeline.stages.opml import parse_opml
from tests.conftest import FIXTURES
from worker.loopback import SiteServer


def _fixture(name: str, base: str) -> bytes:
    raw = (FIXTURES / "opml" / name).read_bytes()
    if name.endswith("utf16.opml"):
        return raw.decode("utf-16").replace("{{base}}", base).encode("utf-16")
    return raw.replace(b"{{base}}", base.encode())


def test_a_reader_export_is_imported_with_folders_and_each_refusal_named(
    rt: Runtime, site: SiteServer
) -> None:
    base = site.base_url
    report = import_opml(rt, _fixture("desk-utf16.opml", base), check=True)
    added = {feed.url: (feed.name, feed.folder) for feed in report.added}
    assert added == {
        f"{base}/feeds/alpha.rss": ("The Harbour Ledger: Top stories", ["Wires", "Harbour"]),
        f"{base}/feeds/beta.atom": ("Beta \u2013 Atom", ["Wires", "Harbour"]),
        f"{base}/feeds/gamma.rss": ("Gamma wire", ["Wires"]),
    }
    assert [known.url for known in report.known] == [f"{base}/feeds/alpha.rss"]
    refused = {item.url: item.reason for item in report.refused}
    assert set(refused) == {f"{base}/feeds/missing.rss", f"{base}/articles/market-report.html"}
    assert "404" in refused[f"{base}/feeds/missing.rss"]
    assert "is not a feed" in refused[f"{base}/articles/market-report.html"]
    watched = {feed.url: feed for feed in catalog.list_feeds(rt)}
    assert set(watched) == set(added)
    assert all(feed.origin == "user" for feed in watched.values())

    again = import_opml(rt, _fixture("desk-utf16.opml", base), check=True)
    assert again.added == [] and len(again.known) == 4 and len(again.refused) == 2


def test_import_then_export_round_trips_feeds_and_folders(rt: Runtime, site: SiteServer) -> None:
    base = site.base_url
    report = import_opml(rt, _fixture("redaction-latin1.opml", base), check=False)
    assert [(f.name, f.folder) for f in report.added] == [
        ("Marchés & bourse", ["Économie"]),
        ("Café des sciences", ["Sciences", "Vulgarisation"]),
    ]
    assert [(r.title, r.reason) for r in report.refused] == [
        ("Fil sans adresse", "it has no xmlUrl attribute")
    ]
    exported = export_opml(rt)
    outlines = parse_opml(exported).outlines
    assert [(o.url, o.title, o.folder) for o in outlines] == [
        (f"{base}/feeds/delta.json", "Marchés & bourse", ("Économie",)),
        (f"{base}/feeds/escaped.rss", "Café des sciences", ("Sciences", "Vulgarisation")),
    ]
    # Importing the export into the same store changes nothing.
    assert import_opml(rt, exported, check=False).added == []


def test_one_bad_outline_never_loses_the_others(rt: Runtime) -> None:
    data = b"""<opml version="2.0"><body>
      <outline type="rss" text="ok one" xmlUrl="https://one.example.invalid/rss"/>
      <outline type="rss" text="spaced" xmlUrl="https://exa mple.invalid/rss"/>
      <outline type="rss" text="not http" xmlUrl="gopher://two.example.invalid/"/>
      <outline type="rss" text="ok two" xmlUrl="https://two.example.invalid/rss"/>
    </body></opml>"""
    report = import_opml(rt, data, check=False)
    assert [f.name for f in report.added] == ["ok one", "ok two"]
    assert [r.title for r in report.refused] == ["spaced", "not http"]
    assert all(r.reason for r in report.refused)


def test_a_file_that_is_not_opml_changes_nothing(rt: Runtime) -> None:
    with pytest.raises(ConfigError, match="not an OPML file"):
        import_opml(rt, b"<rss version='2.0'><channel/></rss>", check=False)
    assert catalog.list_feeds(rt) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "freshrss-style.opml",
            {
                "https://relief.invalid/alerts.xml": ("Relief Wire \u2013 Alerts", "Crisis desk"),
                "https://ledger.invalid/world/rss?lang=en&s=1": ("Harbour Ledger", "Crisis desk"),
                "https://meteo.invalid/flux.atom": (
                    "M\u00e9t\u00e9o r\u00e9gionale",
                    "Uncategorized",
                ),
            },
        ),
        (
            "miniflux-style.opml",
            {
                "https://live.delta.invalid/feed.json": ("Delta Live", "World"),
                "https://tokyo.invalid/rss": ("\u6771\u4eac\u30cb\u30e5\u30fc\u30b9", "World"),
                "https://wire.invalid/all.rss": ("Wire", "All"),
            },
        ),
    ],
)
def test_other_readers_exports_round_trip(
    rt: Runtime, name: str, expected: dict[str, tuple[str, str]]
) -> None:
    """Files laid out as FreshRSS and Miniflux export them: every feed, its name and its
    folder come in, and an export read back gives the same feeds in the same folders."""
    data = (FIXTURES / "opml" / name).read_bytes()
    report = import_opml(rt, data, check=False)
    assert not report.refused
    watched = {feed.url: feed.name for feed in catalog.list_feeds(rt)}
    assert watched == {url: title for url, (title, _) in expected.items()}
    outlines = parse_opml(export_opml(rt)).outlines
    assert {o.url: o.folder for o in outlines if o.url} == {
        url: (folder,) for url, (_, folder) in expected.items()
    }
