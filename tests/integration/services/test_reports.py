"""Reports on a real store: backtests.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from datetime import timedelta

from pipeline.runtime import Runtime
from pipeline.services import catalog, reports
from tests.integration.services.support import Clock, poll_all
from worker.loopback import SiteServer


def test_backtest_shows_what_a_rule_would_have_fired_on(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    assert poll_all(rt, int(feed.id)) == []  # type: ignore[arg-type]
    catalog.add_rule(rt, "evac", "evacuat* AND feed:alpha", "http://127.0.0.1:9/x")
    ticks: list[int] = []
    fired = reports.backtest_rule(rt, "evac", timedelta(days=7), progress=ticks.append)
    assert [row["url"].rsplit("/", 1)[1] for row in fired] == ["port-evacuation.html"]
    assert fired[0]["hits"][0]["sentence"]
    assert len(ticks) == 3
    clock.advance(days=2)
    assert reports.backtest_rule(rt, "evac", timedelta(days=1)) == []
