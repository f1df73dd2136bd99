"""The catalog on a real store: rules validated when saved, config sync, feed removal.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

import pytest

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
    catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    catalog.add_rule(rt, "scoped", "evacuation", "https://h.example/x", feed="alpha")
    catalog.remove_feed(rt, "alpha")
    (rule,) = catalog.list_rules(rt)
    assert rule.enabled is False
