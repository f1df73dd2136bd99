"""The warm-up before fork leaves the rule matcher compiled for the store's current rules,
so a forked child's first article does not compile it."""

from __future__ import annotations

from pipeline.runtime import Runtime
from pipeline.services import alerting, articles, catalog


def test_warm_up_compiles_the_current_rules(rt: Runtime) -> None:
    catalog.add_rule(rt, "ceasefire", "ceasefire", "http://127.0.0.1:9/hook")
    alerting._matcher_cache.pop(rt.store_url, None)

    articles.warm_up(rt)

    cached = alerting._matcher_cache.get(rt.store_url)
    assert cached is not None
    assert [rule.name for rule in cached[2].values()] == ["ceasefire"]
