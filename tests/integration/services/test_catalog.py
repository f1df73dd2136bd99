"""The catalog on a real store: rules validated when saved, config sync, feed removal.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError, ConflictError
from pipeline.runtime import Runtime
from pipeline.services import catalog, delivery
from worker.loopback import SiteServer


def test_channels_are_validated_when_the_rule_is_saved(rt: Runtime) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="rule 'x'"):
        catalog.add_rule(rt, "x", "a", "https://h.example/", channels=["nonsense://x"])
    with pytest.raises(ConfigError, match="mode"):
        catalog.add_rule(rt, "x", "a", "https://h.example/", mode="weekly")


def test_config_sync_keeps_the_stored_secret(rt: Runtime) -> None:
    first = catalog.add_rule(rt, "r", "ceasefire", "https://h.example/x")
    again = catalog.add_rule(rt, "r", "ceasefire OR truce", "https://h.example/x")
    assert again.secret == first.secret and again.query == "ceasefire OR truce"
    rotated = delivery.rotate_secret(rt, "r")
    synced = catalog.add_rule(rt, "r", "ceasefire", "https://h.example/x", first.secret)
    assert synced.secret == rotated.secret  # a sync does not undo a rotation
    numeric = catalog.add_rule(rt, "123", "a", "https://h.example/x")
    assert catalog.add_rule(rt, "123", "b", "https://h.example/x").id == numeric.id


def test_removing_a_feed_disables_rules_scoped_to_it(rt: Runtime, site: SiteServer) -> None:
    catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    catalog.add_rule(rt, "scoped", "evacuation", "https://h.example/x", feed="alpha")
    with pytest.raises(ConflictError, match=r"'scoped'.*--force"):
        catalog.remove_feed(rt, "alpha")
    assert [f.name for f in catalog.list_feeds(rt)] == ["alpha"]
    catalog.remove_feed(rt, "alpha", force=True)
    (rule,) = catalog.list_rules(rt)
    assert rule.enabled is False
    assert catalog.list_feeds(rt) == []


def _settings_rt(rt: Runtime, **changes: object) -> Runtime:
    from pipeline.runtime import http_client_for

    settings = rt.settings.model_copy(update=changes)
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=rt.clock)


def test_sync_owns_what_the_files_declare_and_never_takes_over_a_hand_made_rule(
    rt: Runtime, tmp_path: Path
) -> None:
    # The user's own rule, under a name the rules file also uses.
    mine = catalog.add_rule(rt, "ceasefire", "ceasefire", "https://mine.invalid/hook")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: ceasefire, query: truce, webhook: 'https://shipped.invalid/x'}\n"
        "  - {name: evacuation, query: evacuation, webhook: 'https://shipped.invalid/x'}\n"
    )
    synced = _settings_rt(rt, rules_file=rules)
    report = catalog.sync_config_files(synced)
    assert report.rules == 1
    (clash,) = report.clashes
    assert "'ceasefire'" in clash and str(rules) in clash and "by hand" in clash
    by_name = {rule.name: rule for rule in catalog.list_rules(synced)}
    assert by_name["ceasefire"].webhook_url == "https://mine.invalid/hook"  # untouched
    assert by_name["ceasefire"].query == mine.query and by_name["ceasefire"].origin == "user"
    assert by_name["evacuation"].origin == "config"
    # What the file owns can't be changed or removed by hand: the next sync would undo it.
    with pytest.raises(ConflictError, match="comes from"):
        catalog.remove_rule(synced, "evacuation")
    with pytest.raises(ConflictError, match="comes from"):
        catalog.add_rule(synced, "evacuation", "other", "https://mine.invalid/hook")
    # Dropped from the file: disabled and handed over, so the user may now remove it.
    rules.write_text("rules: []\n")
    report = catalog.sync_config_files(synced)
    assert report.released and "'evacuation'" in report.released[0]
    catalog.remove_rule(synced, "evacuation")
    assert [rule.name for rule in catalog.list_rules(synced)] == ["ceasefire"]


def test_no_config_file_means_no_sync(rt: Runtime) -> None:
    assert rt.settings.rules_file is None and rt.settings.feeds_file is None
    report = catalog.sync_config_files(rt)
    assert (report.feeds, report.rules, report.clashes) == (0, 0, [])
    assert catalog.list_rules(rt) == []


def test_feeds_file_sync_keeps_pause_and_hand_made_feeds(
    rt: Runtime, site: SiteServer, tmp_path: Path
) -> None:
    hand = catalog.add_feed(rt, f"{site.base_url}/feeds/beta.atom", "mine")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - url: {site.base_url}/feeds/alpha.rss\n    name: alpha\n"
        f"  - url: {site.base_url}/feeds/beta.atom\n    name: theirs\n"
    )
    synced = _settings_rt(rt, feeds_file=feeds)
    report = catalog.sync_config_files(synced)
    assert report.feeds == 1 and len(report.clashes) == 1
    catalog.pause_feed(synced, "alpha")  # pausing is the operator's, even on a config feed
    catalog.sync_config_files(synced)
    by_url = {f.url: f for f in catalog.list_feeds(synced)}
    assert by_url[f"{site.base_url}/feeds/alpha.rss"].enabled is False
    assert by_url[hand.url].name == "mine" and by_url[hand.url].origin == "user"


def test_a_known_url_is_refused_unless_updated(rt: Runtime, site: SiteServer) -> None:
    url = f"{site.base_url}/feeds/alpha.rss"
    first = catalog.add_feed(rt, url, "alpha")
    with pytest.raises(ConflictError, match="already watches"):
        catalog.add_feed(rt, url, "again")
    updated = catalog.add_feed(rt, url, "renamed", 120, update=True)
    assert updated.id == first.id and updated.name == "renamed"
    assert updated.interval_seconds == 120


def test_check_feed_finds_the_feed_a_page_links_to(rt: Runtime, tmp_path: Path) -> None:
    from worker.loopback import SiteServer as Site

    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    (root / "news" / "index.html").write_text(
        "<html><head><title>Desk</title>"
        '<link rel="alternate" type="application/rss+xml" title="Wire" href="/feed.xml">'
        "</head><body><p>Front page</p></body></html>"
    )
    (root / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><title>One</title><link>https://x.invalid/1</link></item></channel></rss>"
    )
    (root / "plain.html").write_text("<html><body>No feeds here</body></html>")
    site = Site(root).start()
    try:
        found = catalog.check_feed(rt, f"{site.base_url}/news/index.html")
        assert found.url == f"{site.base_url}/feed.xml" and found.entries == 1
        assert found.discovered_from == f"{site.base_url}/news/index.html"
        direct = catalog.check_feed(rt, f"{site.base_url}/feed.xml")
        assert direct.discovered_from is None and direct.title == "Wire"
        with pytest.raises(ConfigError, match="not a feed"):
            catalog.check_feed(rt, f"{site.base_url}/plain.html")
        with pytest.raises(ConfigError, match="404"):
            catalog.check_feed(rt, f"{site.base_url}/missing.xml")
    finally:
        site.stop()


def test_init_arms_the_sample_rules_with_the_users_webhook(rt: Runtime) -> None:
    added = catalog.add_sample_rules(rt, "https://mine.invalid/hook")
    assert {rule.name for rule in added} == {"ceasefire", "evacuation"}
    assert all(rule.webhook_url == "https://mine.invalid/hook" for rule in added)
    assert catalog.add_sample_rules(rt, "https://other.invalid/") == []  # names taken: kept


def test_rules_can_be_disabled_enabled_and_edited(rt: Runtime) -> None:
    catalog.add_rule(rt, "truce", "truce", "https://mine.invalid/hook", mode="hourly")
    assert catalog.disable_rule(rt, "truce").enabled is False
    assert catalog.enable_rule(rt, "truce").enabled is True
    edited = catalog.edit_rule(rt, "truce", query="truce OR ceasefire")
    assert edited.query == "truce OR ceasefire"
    assert edited.webhook_url == "https://mine.invalid/hook" and edited.mode == "hourly"
    with pytest.raises(ConfigError, match="position"):
        catalog.edit_rule(rt, "truce", query="truce AND (")
