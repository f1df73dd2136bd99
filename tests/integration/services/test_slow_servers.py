"""Slow servers on a real store: a feed or receiver that drips its headers is a failure with
a reason at the deadline, and a poll cut by the worker's time limit counts as failed.

No worker here: the services are called directly, as the tasks call them; the clock is
injected. Elapsed-time asserts are generous correctness guards, not benchmarks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from pipeline.io.store import DeliveryAttempt, Feed, session_scope
from pipeline.runtime import Runtime, http_client_for
from pipeline.services import catalog, delivery, polling
from pipeline.settings import Settings
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import Clock, poll_all
from tests.unit.test_http_limits import HEADERS, RawServer, _drip
from worker.loopback import SiteServer


@pytest.fixture
def fast_rt(store_url: str, tmp_path: Path, clock: Clock) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        topics_file=Settings().topics_file,
        http_total_timeout=2,
        http_read_timeout=5,
        webhook_timeout=1,
    )
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=clock)


@pytest.fixture
def dripping() -> Iterator[RawServer]:
    stop = threading.Event()
    server = RawServer(lambda conn: _drip(conn, HEADERS + b"0123456789", 0.5, stop))
    yield server
    stop.set()
    server.close()


def _feed_row(rt: Runtime, feed_id: int) -> Feed:
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        session.expunge(feed)
        return feed


def test_feed_dripping_its_headers_is_a_failed_poll_with_backoff(
    fast_rt: Runtime, dripping: RawServer
) -> None:
    rt = fast_rt
    feed = catalog.add_feed(rt, dripping.url(), "drip")
    started = time.monotonic()
    report = polling.refresh_feed(int(feed.id), rt)  # type: ignore[arg-type]
    assert time.monotonic() - started < 15
    assert report.status == "error" and "deadline of 2s" in (report.error or "")
    row = _feed_row(rt, int(feed.id))  # type: ignore[arg-type]
    assert row.error_count == 1 and "deadline" in (row.last_error or "")
    assert row.next_poll_at > rt.now() + timedelta(seconds=row.interval_seconds)


def test_poll_cut_by_the_time_limit_counts_as_failed(fast_rt: Runtime, site: SiteServer) -> None:
    rt = fast_rt
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha")
    feed_id = int(feed.id)  # type: ignore[arg-type]
    for expected in (1, 2):
        report = polling.record_poll_cut(feed_id, rt, 120)
        assert report.status == "error" and "time limit after 120s" in (report.error or "")
        row = _feed_row(rt, feed_id)
        assert row.error_count == expected and "time limit" in (row.last_error or "")
    # The backoff grows with the failures, as for any failed poll.
    assert row.next_poll_at > rt.now() + timedelta(seconds=row.interval_seconds)
    assert polling.record_poll_cut(10**9, rt, 120).status == "error"  # a removed feed


def test_webhook_receiver_dripping_its_headers_is_a_recorded_failed_attempt(
    fast_rt: Runtime, site: SiteServer, dripping: RawServer
) -> None:
    rt = fast_rt
    catalog.add_rule(rt, "evac", "evacuation", dripping.url("/hook"), generate_secret())
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
    (alert_id,) = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    started = time.monotonic()
    assert delivery.deliver_alert(alert_id, rt) == "pending"  # retried later, not lost
    assert time.monotonic() - started < 10
    with session_scope(rt.store_url) as session:
        attempts = session.exec(
            select(DeliveryAttempt).where(DeliveryAttempt.alert_id == alert_id)
        ).all()
        assert len(attempts) == 1 and "deadline of 1s" in (attempts[0].error or "")
