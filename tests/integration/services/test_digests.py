"""Digests on a real store: one message per period, late alerts in the next.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from pipeline.runtime import Runtime
from pipeline.services import catalog, delivery, digests, reports
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import Clock, JsonCapture, poll_all
from worker.loopback import SiteServer, WebhookReceiver


def test_hourly_digest_sends_one_message_per_period(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    people = JsonCapture()
    try:
        catalog.add_rule(
            rt,
            "any",
            "ceasefire OR evacuation",
            receiver.url,
            secret,
            mode="hourly",
            channels=[people.url],
        )
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        alert_ids = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        assert len(alert_ids) == 2
        assert delivery.relay_due_alerts(rt) == []  # held for the digest
        assert digests.send_digests(rt) == []  # the hour has not closed yet
        clock.advance(hours=1)
        created = digests.send_digests(rt)
        assert len(created) == 2  # the webhook and the people channel
        assert digests.send_digests(rt) == []  # idempotent
        for note in created:
            assert delivery.deliver_notification(note, rt) == "delivered"
        (digest,) = receiver.verified
        assert digest.payload["type"] == "alert.digest"
        assert digest.payload["data"]["count"] == 2
        assert len(people.posts) == 1 and "2" in str(people.posts[0]["title"])
        assert {row["status"] for row in reports.list_alerts(rt)} == {"digested"}
    finally:
        receiver.stop()
        people.stop()


def test_an_alert_committed_after_its_digest_goes_in_the_next(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    catalog.add_rule(
        rt,
        "any",
        "ceasefire OR evacuation",
        "http://127.0.0.1:9/x",
        mode="hourly",
        channels=["json://127.0.0.1:9/a", "json://127.0.0.1:9/a"],
    )
    (rule,) = catalog.list_rules(rt)
    assert rule.channels == ["json://127.0.0.1:9/a"]  # duplicates dropped
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    clock.advance(hours=1)
    assert len(digests.send_digests(rt)) == 2
    late = catalog.add_feed(rt, f"{site.base_url}/feeds/gamma.rss", "gamma", backfill=True)
    clock.advance(minutes=-30)  # an alert stamped inside the period that was already sent
    assert poll_all(rt, int(late.id))  # type: ignore[arg-type]
    clock.advance(minutes=30)
    assert digests.send_digests(rt) == []  # not lost, not sent twice: it waits
    assert {row["status"] for row in reports.list_alerts(rt)} == {"digested", "held"}
    clock.advance(hours=1)
    assert len(digests.send_digests(rt)) == 2
    assert {row["status"] for row in reports.list_alerts(rt)} == {"digested"}
