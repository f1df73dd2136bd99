"""Units of work on a real store (SQLite and PostgreSQL), loopback feeds and a loopback receiver.

No worker here: the services are called directly, as the CLI does; the clock is injected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from pipeline import services
from pipeline.io.store import Alert, Article, DeliveryAttempt, Feed, session_scope
from pipeline.runtime import Runtime, http_client_for
from pipeline.settings import Settings
from pipeline.stages.alert import generate_secret
from tests.conftest import FIXTURES
from worker.loopback import SiteServer, WebhookReceiver


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(store_url: str, tmp_path: Path, clock: Clock) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        topics_file=Settings().topics_file,
    )
    return Runtime(settings=settings, http=http_client_for(settings), clock=clock)


def _poll_all(rt: Runtime, feed_id: int) -> list[int]:
    alerts: list[int] = []
    report = services.refresh_feed(feed_id, rt)
    assert report.status == "ok", report
    for article_id in report.new_article_ids:
        services.fetch_article(article_id, rt)
        alerts += services.process_article(article_id, rt).alert_ids
    return alerts


def test_one_alert_per_story_and_one_more_for_a_revised_figure(
    rt: Runtime, site: SiteServer
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        services.add_rule(rt, "landslide", "landslide", receiver.url, secret)
        feeds = [
            services.add_feed(rt, f"{site.base_url}/stories/{name}", name)
            for name in ("courier.rss", "tribune.rss", "ledger.rss")
        ]
        alert_ids = [a for feed in feeds for a in _poll_all(rt, int(feed.id))]  # type: ignore[arg-type]
        assert len(alert_ids) == 1, "three copies of one story must alert once"
        with session_scope(rt.store_url) as session:
            articles = session.exec(select(Article)).all()
            stories = {a.story_id for a in articles if "landslide" in (a.title or "").lower()}
            assert len(articles) == 4 and len(stories) == 1
            other = next(a for a in articles if a.canonical_url.endswith("other.html"))
            assert other.story_id not in stories

        update = services.add_feed(rt, f"{site.base_url}/stories/courier-update.rss", "update")
        update_alerts = _poll_all(rt, int(update.id))  # type: ignore[arg-type]
        assert len(update_alerts) == 1, "a revised death toll alerts once more"

        for alert_id in alert_ids + update_alerts:
            assert services.deliver_alert(alert_id, rt) == "delivered"
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
        listed = services.list_stories(rt)
        story = next(s for s in listed if s["id"] == first["story"]["id"])
        assert len(story["articles"]) == 4 and len(story["alerts"]) == 2
    finally:
        receiver.stop()


def test_failed_delivery_is_retried_on_schedule_and_recorded(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret, script=[(500, {}), (503, {"Retry-After": "60"})]).start()
    try:
        services.add_rule(rt, "evac", "evacuation", receiver.url, secret)
        feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
        (alert_id,) = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]

        assert services.deliver_alert(alert_id, rt) == "pending"  # 500
        assert services.relay_due_alerts(rt) == []  # not due yet
        clock.advance(seconds=6)
        assert services.relay_due_alerts(rt) == [alert_id]
        assert services.deliver_alert(alert_id, rt) == "pending"  # 503, Retry-After: 60
        clock.advance(seconds=30)
        assert services.relay_due_alerts(rt) == []  # the 5-minute step outlasts Retry-After: 60
        clock.advance(minutes=6)
        assert services.relay_due_alerts(rt) == [alert_id]
        assert services.deliver_alert(alert_id, rt) == "delivered"
        assert services.deliver_alert(alert_id, rt) == "delivered"  # idempotent: no resend
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
    services.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/down", generate_secret())
    feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    (alert_id,) = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    statuses = []
    for _ in range(8):
        statuses.append(services.deliver_alert(alert_id, rt))
        clock.advance(hours=11)
        assert services.relay_due_alerts(rt) in ([alert_id], [])
    assert statuses == ["pending"] * 7 + ["dead"]
    rows = services.list_alerts(rt, "dead")
    assert rows[0]["id"] == alert_id and "127.0.0.1:9" in (rows[0]["last_error"] or "")


def test_malformed_feed_and_unreachable_feed(rt: Runtime, site: SiteServer) -> None:
    broken = services.add_feed(rt, f"{site.base_url}/feeds/broken.rss", "broken")
    report = services.refresh_feed(int(broken.id), rt)  # type: ignore[arg-type]
    assert report.status == "ok" and len(report.new_article_ids) == 2 and report.problem
    missing = services.add_feed(rt, f"{site.base_url}/feeds/nope.rss", "nope")
    failed = services.refresh_feed(int(missing.id), rt)  # type: ignore[arg-type]
    assert failed.status == "error" and "404" in (failed.error or "")
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, missing.id)
        assert feed is not None and feed.error_count == 1 and "404" in (feed.last_error or "")
        assert feed.next_poll_at > rt.now() + timedelta(seconds=feed.interval_seconds)
    # A second poll of the same feed adds nothing.
    again = services.refresh_feed(int(broken.id), rt)  # type: ignore[arg-type]
    assert again.new_article_ids == []


def test_payload_is_stored_once_and_sent_verbatim(rt: Runtime, site: SiteServer) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        services.add_rule(rt, "ceasefire", "ceasefire", receiver.url, secret)
        feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
        (alert_id,) = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        with session_scope(rt.store_url) as session:
            stored = session.get(Alert, alert_id)
            assert stored is not None
            body = stored.payload
        services.deliver_alert(alert_id, rt)
        assert receiver.wait_for(1, timeout=5)
        assert receiver.verified[0].payload == json.loads(body)
        assert receiver.verified[0].webhook_id == stored.webhook_id
    finally:
        receiver.stop()


def test_410_disables_the_endpoint_and_replay_keeps_the_webhook_id(
    rt: Runtime, site: SiteServer
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret, script=[(410, {})]).start()
    try:
        services.add_rule(rt, "evac", "evacuation", receiver.url, secret)
        feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
        (alert_id,) = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        assert services.deliver_alert(alert_id, rt) == "dead"
        (rule,) = services.list_rules(rt)
        assert rule.disabled_at is not None and "410" in (rule.disabled_reason or "")
        assert services.list_alerts(rt, "dead")[0]["id"] == alert_id

        assert services.replay_alerts(rt) == [alert_id]
        assert services.deliver_alert(alert_id, rt) == "dead"  # still disabled: not sent
        assert receiver.requests == 1
        services.enable_endpoint(rt, "evac")
        services.replay_alerts(rt, [alert_id])
        assert services.deliver_alert(alert_id, rt) == "delivered"
        (delivered,) = receiver.verified
        with session_scope(rt.store_url) as session:
            stored = session.get(Alert, alert_id)
            assert stored is not None and delivered.webhook_id == stored.webhook_id
    finally:
        receiver.stop()


def test_secret_rotation_signs_with_both_secrets(rt: Runtime, site: SiteServer) -> None:
    old = generate_secret()
    services.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/unused", old)
    rule = services.rotate_secret(rt, "evac")
    new = rule.secret
    assert new != old and rule.previous_secrets == [old]
    for secret in (old, new):  # a receiver on either secret verifies during the rotation
        receiver = WebhookReceiver(secret).start()
        try:
            services.add_rule(rt, "evac", "evacuation", receiver.url, new)
            with session_scope(rt.store_url) as session:
                from pipeline.io.store import Rule

                stored = session.exec(select(Rule)).one()
                stored.previous_secrets = [old]
            feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
            alert_ids = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
            if not alert_ids:
                alert_ids = services.replay_alerts(rt, [a["id"] for a in services.list_alerts(rt)])
            assert services.deliver_alert(alert_ids[0], rt) == "delivered"
            assert len(receiver.verified) == 1
        finally:
            receiver.stop()
    finished = services.rotate_secret(rt, "evac", finish=True)
    assert finished.previous_secrets == []


def test_backtest_shows_what_a_rule_would_have_fired_on(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    assert _poll_all(rt, int(feed.id)) == []  # type: ignore[arg-type]
    services.add_rule(rt, "evac", "evacuat* AND feed:alpha", "http://127.0.0.1:9/x")
    ticks: list[int] = []
    fired = services.backtest_rule(rt, "evac", timedelta(days=7), progress=ticks.append)
    assert [row["url"].rsplit("/", 1)[1] for row in fired] == ["port-evacuation.html"]
    assert fired[0]["hits"][0]["sentence"]
    assert len(ticks) == 3
    clock.advance(days=2)
    assert services.backtest_rule(rt, "evac", timedelta(days=1)) == []


class _Capture:
    """A loopback server that records JSON posts (Apprise's json:// channel)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posts: list[dict[str, object]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/notify"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_apprise_channel_gets_each_alert_beside_the_webhook(rt: Runtime, site: SiteServer) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    people = _Capture()
    try:
        services.add_rule(rt, "evac", "evacuation", receiver.url, secret, channels=[people.url])
        feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
        report = services.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
        notes: list[int] = []
        for article_id in report.new_article_ids:
            services.fetch_article(article_id, rt)
            processed = services.process_article(article_id, rt)
            for alert_id in processed.alert_ids:
                assert services.deliver_alert(alert_id, rt) == "delivered"
            notes += processed.notification_ids
        assert len(notes) == 1
        assert services.deliver_notification(notes[0], rt) == "delivered"
        assert len(receiver.verified) == 1 and len(people.posts) == 1
        post = people.posts[0]
        assert "evac" in str(post["title"]) and "evacuat" in str(post["message"]).lower()
    finally:
        receiver.stop()
        people.stop()


def test_hourly_digest_sends_one_message_per_period(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    people = _Capture()
    try:
        services.add_rule(
            rt,
            "any",
            "ceasefire OR evacuation",
            receiver.url,
            secret,
            mode="hourly",
            channels=[people.url],
        )
        feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
        alert_ids = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        assert len(alert_ids) == 2
        assert services.relay_due_alerts(rt) == []  # held for the digest
        assert services.send_digests(rt) == []  # the hour has not closed yet
        clock.advance(hours=1)
        created = services.send_digests(rt)
        assert len(created) == 2  # the webhook and the people channel
        assert services.send_digests(rt) == []  # idempotent
        for note in created:
            assert services.deliver_notification(note, rt) == "delivered"
        (digest,) = receiver.verified
        assert digest.payload["type"] == "alert.digest"
        assert digest.payload["data"]["count"] == 2
        assert len(people.posts) == 1 and "2" in str(people.posts[0]["title"])
        assert {row["status"] for row in services.list_alerts(rt)} == {"digested"}
    finally:
        receiver.stop()
        people.stop()


def test_channels_are_validated_when_the_rule_is_saved(rt: Runtime) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="rule 'x'"):
        services.add_rule(rt, "x", "a", "https://h.example/", channels=["nonsense://x"])
    with pytest.raises(ConfigError, match="mode"):
        services.add_rule(rt, "x", "a", "https://h.example/", mode="weekly")


def test_lost_article_tasks_are_relayed(rt: Runtime, site: SiteServer, clock: Clock) -> None:
    feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    report = services.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
    assert len(report.new_article_ids) == 3  # ... and every follow-up task is lost
    assert services.relay_stuck_articles(rt) == ([], [])  # not overdue yet
    clock.advance(seconds=rt.settings.claim_lease + 1)
    to_fetch, to_process = services.relay_stuck_articles(rt)
    assert sorted(to_fetch) == sorted(report.new_article_ids) and to_process == []
    assert services.relay_stuck_articles(rt) == ([], [])  # not again at once
    for article_id in to_fetch:
        services.fetch_article(article_id, rt)
    clock.advance(seconds=rt.settings.claim_lease + 1)
    assert sorted(services.relay_stuck_articles(rt)[1]) == sorted(report.new_article_ids)
    for article_id in report.new_article_ids:
        services.process_article(article_id, rt)
    clock.advance(seconds=rt.settings.claim_lease + 1)
    assert services.relay_stuck_articles(rt) == ([], [])


def test_relay_does_not_enqueue_the_same_alert_every_tick(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    services.add_rule(rt, "evac", "evacuation", "http://127.0.0.1:9/x")
    feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    (alert_id,) = _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    assert services.relay_due_alerts(rt) == [alert_id]
    assert services.relay_due_alerts(rt) == []  # queued a moment ago
    clock.advance(seconds=61)
    assert services.relay_due_alerts(rt) == [alert_id]  # that task was lost too


def test_config_sync_keeps_the_stored_secret(rt: Runtime) -> None:
    first = services.add_rule(rt, "r", "ceasefire", "https://h.example/x")
    again = services.add_rule(rt, "r", "ceasefire OR truce", "https://h.example/x")
    assert again.secret == first.secret and again.query == "ceasefire OR truce"
    rotated = services.rotate_secret(rt, "r")
    synced = services.add_rule(rt, "r", "ceasefire", "https://h.example/x", first.secret)
    assert synced.secret == rotated.secret  # a sync does not undo a rotation
    numeric = services.add_rule(rt, "123", "a", "https://h.example/x")
    assert services.add_rule(rt, "123", "b", "https://h.example/x").id == numeric.id


def test_removing_a_feed_disables_rules_scoped_to_it(rt: Runtime, site: SiteServer) -> None:
    services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    services.add_rule(rt, "scoped", "evacuation", "https://h.example/x", feed="alpha")
    services.remove_feed(rt, "alpha")
    (rule,) = services.list_rules(rt)
    assert rule.enabled is False


def test_an_alert_committed_after_its_digest_goes_in_the_next(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    services.add_rule(
        rt,
        "any",
        "ceasefire OR evacuation",
        "http://127.0.0.1:9/x",
        mode="hourly",
        channels=["json://127.0.0.1:9/a", "json://127.0.0.1:9/a"],
    )
    (rule,) = services.list_rules(rt)
    assert rule.channels == ["json://127.0.0.1:9/a"]  # duplicates dropped
    feed = services.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    _poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    clock.advance(hours=1)
    assert len(services.send_digests(rt)) == 2
    late = services.add_feed(rt, f"{site.base_url}/feeds/gamma.rss", "gamma")
    clock.advance(minutes=-30)  # an alert stamped inside the period that was already sent
    assert _poll_all(rt, int(late.id))  # type: ignore[arg-type]
    clock.advance(minutes=30)
    assert services.send_digests(rt) == []  # not lost, not sent twice: it waits
    assert {row["status"] for row in services.list_alerts(rt)} == {"digested", "held"}
    clock.advance(hours=1)
    assert len(services.send_digests(rt)) == 2
    assert {row["status"] for row in services.list_alerts(rt)} == {"digested"}
