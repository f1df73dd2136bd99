"""Delivery on a real store with a loopback receiver: retries, dead letters, 410, secret
rotation, channels for people, and the outbox relay.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

from sqlmodel import select

from pipeline.io.store import Alert, DeliveryAttempt, session_scope
from pipeline.runtime import Runtime
from pipeline.services import articles, catalog, delivery, polling, reports
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import Clock, JsonCapture, poll_all
from worker.loopback import SiteServer, WebhookReceiver


def test_failed_delivery_is_retried_on_schedule_and_recorded(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret, script=[(500, {}), (503, {"Retry-After": "60"})]).start()
    try:
        catalog.add_rule(rt, "evac", "evacuation", receiver.url, secret)
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]

        assert delivery.deliver_alert(alert_id, rt) == "pending"  # 500
        assert delivery.relay_due_alerts(rt) == []  # not due yet
        clock.advance(seconds=6)
        assert delivery.relay_due_alerts(rt) == [alert_id]
        assert delivery.deliver_alert(alert_id, rt) == "pending"  # 503, Retry-After: 60
        clock.advance(seconds=30)
        assert delivery.relay_due_alerts(rt) == []  # the 5-minute step outlasts Retry-After: 60
        clock.advance(minutes=6)
        assert delivery.relay_due_alerts(rt) == [alert_id]
        assert delivery.deliver_alert(alert_id, rt) == "delivered"
        assert delivery.deliver_alert(alert_id, rt) == "delivered"  # idempotent: no resend
        assert receiver.requests == 3 and len(receiver.verified) == 1
        with session_scope(rt.store_url) as session:
            attempts = session.exec(
                select(DeliveryAttempt).where(DeliveryAttempt.alert_id == alert_id)
            ).all()
            assert [a.status_code for a in attempts] == [500, 503, 204]
            alert = session.get(Alert, alert_id)
            assert alert is not None and alert.attempts == 3 and alert.status == "delivered"
        ids = {a.webhook_id for a in receiver.verified}
        assert len(ids) == 1
    finally:
        receiver.stop()


def test_receiver_down_for_a_day_dead_letters_only_after_the_schedule(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    catalog.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/down", generate_secret())
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    statuses = []
    for _ in range(8):
        statuses.append(delivery.deliver_alert(alert_id, rt))
        clock.advance(hours=11)
        assert delivery.relay_due_alerts(rt) in ([alert_id], [])
    assert statuses == ["pending"] * 7 + ["dead"]
    rows = reports.list_alerts(rt, "dead")
    assert rows[0]["id"] == alert_id and "127.0.0.1:9" in (rows[0]["last_error"] or "")


def test_410_disables_the_endpoint_and_replay_keeps_the_webhook_id(
    rt: Runtime, site: SiteServer
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret, script=[(410, {})]).start()
    try:
        catalog.add_rule(rt, "evac", "evacuation", receiver.url, secret)
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        assert delivery.deliver_alert(alert_id, rt) == "dead"
        (rule,) = catalog.list_rules(rt)
        assert rule.disabled_at is not None and "410" in (rule.disabled_reason or "")
        assert reports.list_alerts(rt, "dead")[0]["id"] == alert_id

        assert delivery.replay_alerts(rt) == [alert_id]
        assert delivery.deliver_alert(alert_id, rt) == "dead"  # still disabled: not sent
        assert receiver.requests == 1
        delivery.enable_endpoint(rt, "evac")
        delivery.replay_alerts(rt, [alert_id])
        assert delivery.deliver_alert(alert_id, rt) == "delivered"
        (delivered,) = receiver.verified
        with session_scope(rt.store_url) as session:
            stored = session.get(Alert, alert_id)
            assert stored is not None and delivered.webhook_id == stored.webhook_id
    finally:
        receiver.stop()


def test_secret_rotation_signs_with_both_secrets(rt: Runtime, site: SiteServer) -> None:
    old = generate_secret()
    catalog.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/unused", old)
    rule = delivery.rotate_secret(rt, "evac")
    new = rule.secret
    assert new != old and rule.previous_secrets == [old]
    for secret in (old, new):  # a receiver on either secret verifies during the rotation
        receiver = WebhookReceiver(secret).start()
        try:
            catalog.add_rule(rt, "evac", "evacuation", receiver.url, new)
            with session_scope(rt.store_url) as session:
                from pipeline.io.store import Rule

                stored = session.exec(select(Rule)).one()
                stored.previous_secrets = [old]
            feed = catalog.add_feed(
                rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True, update=True
            )
            alert_ids = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
            if not alert_ids:
                alert_ids = delivery.replay_alerts(rt, [a["id"] for a in reports.list_alerts(rt)])
            assert delivery.deliver_alert(alert_ids[0], rt) == "delivered"
            assert len(receiver.verified) == 1
        finally:
            receiver.stop()
    finished = delivery.rotate_secret(rt, "evac", finish=True)
    assert finished.previous_secrets == []


def test_apprise_channel_gets_each_alert_beside_the_webhook(rt: Runtime, site: SiteServer) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    people = JsonCapture()
    try:
        catalog.add_rule(rt, "evac", "evacuation", receiver.url, secret, channels=[people.url])
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        report = polling.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
        notes: list[int] = []
        for article_id in report.new_article_ids:
            articles.fetch_article(article_id, rt)
            processed = articles.process_article(article_id, rt)
            for alert_id in processed.alert_ids:
                assert delivery.deliver_alert(alert_id, rt) == "delivered"
            notes += processed.notification_ids
        assert len(notes) == 1
        assert delivery.deliver_notification(notes[0], rt) == "delivered"
        assert len(receiver.verified) == 1 and len(people.posts) == 1
        post = people.posts[0]
        assert "evac" in str(post["title"]) and "evacuat" in str(post["message"]).lower()
    finally:
        receiver.stop()
        people.stop()


def test_relay_does_not_enqueue_the_same_alert_every_tick(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    catalog.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/x")
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    assert delivery.relay_due_alerts(rt) == [alert_id]
    assert delivery.relay_due_alerts(rt) == []  # queued a moment ago
    clock.advance(seconds=61)
    assert delivery.relay_due_alerts(rt) == [alert_id]  # that task was lost too
