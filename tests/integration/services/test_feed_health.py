"""Feed health and the first poll, on a real store: failing, silent and recovered feeds are
told to the operator through the signed outbox; a new feed's backlog raises no alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from pipeline.model import FeedEventKind, FeedHealth, PollStatus
from pipeline.runtime import Runtime, http_client_for
from pipeline.services import articles, catalog, delivery, polling
from pipeline.settings import Settings
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import Clock
from worker.loopback import SiteServer, WebhookReceiver


def _rss(items: list[tuple[str, str, datetime | None]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{{{{base}}}}/a/{slug}.html</link>"
        f"<guid>{slug}</guid>"
        + (f"<pubDate>{format_datetime(when)}</pubDate>" if when else "")
        + f"<description>{title}.</description></item>"
        for slug, title, when in items
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
    return f"{head}{entries}</channel></rss>"


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[Path, SiteServer]]:
    root = tmp_path / "site"
    root.mkdir()
    server = SiteServer(root).start()
    yield root, server
    server.stop()


@pytest.fixture
def operator() -> Iterator[tuple[WebhookReceiver, str]]:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    yield receiver, secret
    receiver.stop()


@pytest.fixture
def ops_rt(
    store_url: str, tmp_path: Path, clock: Clock, operator: tuple[WebhookReceiver, str]
) -> Runtime:
    receiver, secret = operator
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        operator_webhook_url=receiver.url,
        operator_webhook_secret=secret,
        feed_failing_after=2,
        feed_silent_min=3600,
        feed_silent_gaps=3,
    )
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=clock)


def _deliver(rt: Runtime, report: polling.PollReport) -> None:
    for notification_id in report.notification_ids:
        assert delivery.deliver_notification(notification_id, rt) == "delivered"


def test_failing_then_recovered_is_told_to_the_operator_once_each(
    ops_rt: Runtime,
    pages: tuple[Path, SiteServer],
    clock: Clock,
    operator: tuple[WebhookReceiver, str],
) -> None:
    root, server = pages
    receiver, _ = operator
    feed = catalog.add_feed(ops_rt, f"{server.base_url}/desk.rss", "desk")
    feed_id = int(feed.id)  # type: ignore[arg-type]
    first = polling.refresh_feed(feed_id, ops_rt)  # 404: one failure is not yet failing
    assert first.status == PollStatus.ERROR and first.health == FeedHealth.OK
    assert first.notification_ids == []
    clock.advance(hours=1)
    (root / "desk.rss").write_text("<html><body>Not the feed you want</body></html>")
    second = polling.refresh_feed(feed_id, ops_rt)  # a web page is not a feed: 2nd failure
    assert second.status == PollStatus.ERROR and second.health == FeedHealth.FAILING
    _deliver(ops_rt, second)
    clock.advance(hours=1)
    third = polling.refresh_feed(feed_id, ops_rt)  # still failing: no second event
    assert third.health == FeedHealth.FAILING and third.notification_ids == []
    clock.advance(hours=1)
    now = clock()
    (root / "desk.rss").write_text(_rss([("s1", "Calm returns", now - timedelta(hours=1))]))
    fourth = polling.refresh_feed(feed_id, ops_rt)
    assert fourth.status == PollStatus.OK and fourth.health == FeedHealth.OK
    _deliver(ops_rt, fourth)
    kinds = [alert.payload["type"] for alert in receiver.verified]
    assert kinds == [FeedEventKind.FAILING, FeedEventKind.RECOVERED]
    failing = receiver.verified[0].payload["data"]
    assert failing["feed"]["id"] == feed_id and "not a feed" in failing["reason"]
    assert failing["consecutive_failures"] == 2
    events = catalog.list_feed_events(ops_rt)
    assert [e.kind for e in events] == [FeedEventKind.RECOVERED, FeedEventKind.FAILING]


def test_a_304_never_hides_a_failure(ops_rt: Runtime, pages: tuple[Path, SiteServer]) -> None:
    _, server = pages
    feed = catalog.add_feed(ops_rt, f"{server.base_url}/gone.rss", "gone")
    feed_id = int(feed.id)  # type: ignore[arg-type]
    for _ in range(2):
        polling.refresh_feed(feed_id, ops_rt)
    (failing,) = catalog.list_feeds(ops_rt)
    assert failing.health == FeedHealth.FAILING and failing.error_count == 2
    # A not-modified answer says nothing about the failure: the verdict stands.
    from pipeline.stages.health import HealthPolicy, PollOutcome, next_health

    policy = HealthPolicy(2, 3, timedelta(hours=1))
    kept = next_health(
        FeedHealth.FAILING,
        PollOutcome(failed=False, not_modified=True),
        2,
        None,
        None,
        datetime.now(),
        policy,
    )
    assert kept == FeedHealth.FAILING


def test_a_feed_that_stops_publishing_goes_silent(
    ops_rt: Runtime, pages: tuple[Path, SiteServer], clock: Clock
) -> None:
    root, server = pages
    now = clock()
    hourly = [(f"h{i}", f"Update {i}", now - timedelta(hours=i)) for i in range(1, 6)]
    (root / "hourly.rss").write_text(_rss(hourly))
    feed = catalog.add_feed(ops_rt, f"{server.base_url}/hourly.rss", "hourly")
    feed_id = int(feed.id)  # type: ignore[arg-type]
    assert polling.refresh_feed(feed_id, ops_rt).health == FeedHealth.OK
    clock.advance(hours=2)  # two usual gaps: still ok
    assert polling.refresh_feed(feed_id, ops_rt).health == FeedHealth.OK
    clock.advance(hours=2)  # four gaps (policy: three, at least an hour): silent
    silent = polling.refresh_feed(feed_id, ops_rt)
    assert silent.health == FeedHealth.SILENT and len(silent.notification_ids) == 1
    later = clock()
    (root / "hourly.rss").write_text(_rss([("h0", "News again", later), *hourly]))
    back = polling.refresh_feed(feed_id, ops_rt)
    assert back.health == FeedHealth.OK and len(back.notification_ids) == 1


def test_first_poll_backlog_is_stored_but_raises_no_alerts(
    rt: Runtime, pages: tuple[Path, SiteServer], clock: Clock
) -> None:
    root, server = pages
    now = clock()
    (root / "desk.rss").write_text(
        _rss(
            [
                ("old", "Ceasefire signed last year", now - timedelta(days=400)),
                ("undated", "Ceasefire talk, no date", None),
                ("fresh", "Ceasefire holds in the north", now - timedelta(hours=3)),
            ]
        )
    )
    catalog.add_rule(rt, "ceasefire", "ceasefire", "https://hooks.invalid/x")
    feed = catalog.add_feed(rt, f"{server.base_url}/desk.rss", "desk")
    report = polling.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
    assert len(report.new_article_ids) == 3
    alerted = []
    for article_id in report.new_article_ids:
        articles.fetch_article(article_id, rt)
        alerted += articles.process_article(article_id, rt).alert_ids
    assert len(alerted) == 1  # only the fresh entry; the backlog is stored quietly
    (root / "desk.rss").write_text(
        _rss([("later", "Ceasefire broken again", None), ("old", "x", now - timedelta(days=400))])
    )
    clock.advance(hours=1)
    second = polling.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
    (new_id,) = second.new_article_ids
    articles.fetch_article(new_id, rt)
    assert len(articles.process_article(new_id, rt).alert_ids) == 1  # after the first poll


def test_backfill_alerts_on_the_backlog(
    rt: Runtime, pages: tuple[Path, SiteServer], clock: Clock
) -> None:
    root, server = pages
    (root / "desk.rss").write_text(
        _rss([("old", "Ceasefire signed last year", clock() - timedelta(days=400))])
    )
    catalog.add_rule(rt, "ceasefire", "ceasefire", "https://hooks.invalid/x")
    feed = catalog.add_feed(rt, f"{server.base_url}/desk.rss", "desk", backfill=True)
    (article_id,) = polling.refresh_feed(int(feed.id), rt).new_article_ids  # type: ignore[arg-type]
    articles.fetch_article(article_id, rt)
    assert len(articles.process_article(article_id, rt).alert_ids) == 1
