"""Claiming due feeds: two ticks at once never claim one feed twice; batches follow the
backlog and the time left."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from pipeline.io import store
from pipeline.io.store import Feed, session_scope
from pipeline.runtime import Runtime
from pipeline.services import polling


def add_due_feeds(rt: Runtime, count: int) -> None:
    due = rt.now() - timedelta(seconds=5)
    with session_scope(rt.store_url) as session:
        session.add_all(
            Feed(url=f"http://feeds{n % 7}.invalid/{n}.xml", name=f"f{n}", next_poll_at=due)
            for n in range(count)
        )


def test_concurrent_ticks_claim_each_due_feed_once(rt: Runtime) -> None:
    add_due_feeds(rt, 1500)
    enqueued: list[list[store.DueFeed]] = [[], []]
    barrier = threading.Barrier(2)

    def tick(n: int) -> None:
        barrier.wait()
        polling.refresh_due_feeds(rt, enqueued[n].extend)

    threads = [threading.Thread(target=tick, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first, second = enqueued
    assert not set(first) & set(second)
    assert len(first) + len(second) == 1500
    assert len(set(first) | set(second)) == 1500
    # All leased now: a third tick finds nothing due.
    assert polling.refresh_due_feeds(rt, lambda ids: None).feed_ids == []


def test_a_tick_takes_the_backlog_in_growing_batches_up_to_its_cap(rt: Runtime) -> None:
    add_due_feeds(rt, 1200)
    report = polling.refresh_due_feeds(rt)
    assert report.backlog == 1200 and len(report.feed_ids) == 1200
    assert 1 < report.batches < 1200 // polling.FIRST_CLAIM_BATCH  # batches grew
    with session_scope(rt.store_url) as session:
        leased = rt.now() + timedelta(seconds=rt.settings.claim_lease)
        assert store.count_due_feeds(session, leased) == 1200
        session.execute(update(Feed).values(next_poll_at=rt.now()))
    capped = Runtime(rt.settings.model_copy(update={"feeds_per_tick": 300}), clock=rt.clock)
    assert len(polling.refresh_due_feeds(capped).feed_ids) == 300


def test_next_batch_follows_the_rate_and_the_time_left() -> None:
    fast = polling.next_claim_batch(left=10_000, claimed=200, seconds=0.05, seconds_left=4.0)
    slow = polling.next_claim_batch(left=10_000, claimed=200, seconds=1.0, seconds_left=4.0)
    assert fast > slow > 0
    # Time for fewer than one more: the tick ends rather than overrun half its interval.
    assert polling.next_claim_batch(left=10_000, claimed=200, seconds=4.0, seconds_left=0.01) == 0
    assert polling.next_claim_batch(left=150, claimed=200, seconds=0.05, seconds_left=4.0) == 150
    assert polling.next_claim_batch(left=10_000, claimed=200, seconds=0.05, seconds_left=0) == 0
    assert polling.next_claim_batch(left=10**6, claimed=10**6, seconds=0.01, seconds_left=9) == (
        polling.MAX_CLAIM_BATCH
    )


def test_a_tick_claims_what_falls_due_before_the_next_with_its_due_time(rt: Runtime) -> None:
    now = rt.now()
    soon = now + timedelta(seconds=rt.settings.beat_interval / 2)
    with session_scope(rt.store_url) as session:
        session.add(Feed(url="http://a.invalid/soon.xml", next_poll_at=soon))
        session.add(Feed(url="http://a.invalid/later.xml", next_poll_at=now + timedelta(hours=1)))
    report = polling.refresh_due_feeds(rt)
    assert [(feed.due_at - soon).total_seconds() for feed in report.feeds] == [0]
