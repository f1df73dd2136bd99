"""Alerting on a real store: one alert per rule and story, the stored payload.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

import json

from sqlmodel import select

from pipeline.io.store import Alert, Article, session_scope
from pipeline.runtime import Runtime
from pipeline.services import catalog, delivery, reports
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import poll_all
from worker.loopback import SiteServer, WebhookReceiver


def test_one_alert_per_story_and_one_more_for_a_revised_figure(
    rt: Runtime, site: SiteServer
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        catalog.add_rule(rt, "landslide", "landslide", receiver.url, secret)
        feeds = [
            catalog.add_feed(rt, f"{site.base_url}/stories/{name}", name, backfill=True)
            for name in ("courier.rss", "tribune.rss", "ledger.rss")
        ]
        alert_ids = [a for feed in feeds for a in poll_all(rt, int(feed.id))]  # type: ignore[arg-type]
        assert len(alert_ids) == 1, "three copies of one story must alert once"
        with session_scope(rt.store_url) as session:
            articles = session.exec(select(Article)).all()
            stories = {a.story_id for a in articles if "landslide" in (a.title or "").lower()}
            assert len(articles) == 4 and len(stories) == 1
            other = next(a for a in articles if a.canonical_url.endswith("other.html"))
            assert other.story_id not in stories

        update = catalog.add_feed(
            rt, f"{site.base_url}/stories/courier-update.rss", "update", backfill=True
        )
        update_alerts = poll_all(rt, int(update.id))  # type: ignore[arg-type]
        assert len(update_alerts) == 1, "a revised death toll alerts once more"

        for alert_id in alert_ids + update_alerts:
            assert delivery.deliver_alert(alert_id, rt) == "delivered"
        assert receiver.wait_for(2, timeout=5)
        first, second = (a.payload["data"] for a in receiver.verified)
        assert first["story"]["kind"] == "new" and first["story"]["changes"] is None
        assert second["story"]["kind"] == "update"
        assert second["story"]["id"] == first["story"]["id"]
        revised = second["story"]["changes"]["revised_figures"]
        assert [(r["category"], r["from"], r["to"]) for r in revised] == [
            ("killed", 23, 31),
            ("injured", 301, 412),
        ]
        listed = reports.list_stories(rt)
        story = next(s for s in listed if s["id"] == first["story"]["id"])
        assert len(story["articles"]) == 4 and len(story["alerts"]) == 2
    finally:
        receiver.stop()


def test_payload_is_stored_once_and_sent_verbatim(rt: Runtime, site: SiteServer) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        catalog.add_rule(rt, "ceasefire", "ceasefire", receiver.url, secret)
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        with session_scope(rt.store_url) as session:
            stored = session.get(Alert, alert_id)
            assert stored is not None
            body = stored.payload
        delivery.deliver_alert(alert_id, rt)
        assert receiver.wait_for(1, timeout=5)
        assert receiver.verified[0].payload == json.loads(body)
        assert receiver.verified[0].webhook_id == stored.webhook_id
    finally:
        receiver.stop()
