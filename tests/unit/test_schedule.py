from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pipeline.stages.schedule import (
    DELIVERY_RETRY_DELAYS,
    due_batches,
    next_delivery_at,
    next_poll_at,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_healthy_feed_polls_at_its_interval() -> None:
    when = next_poll_at(NOW, timedelta(minutes=10), rng=random.Random(1))
    assert timedelta(minutes=10) <= when - NOW <= timedelta(minutes=10.5)


def test_errors_back_off_exponentially_up_to_the_cap() -> None:
    delays = [
        next_poll_at(NOW, timedelta(minutes=10), error_count=n, rng=random.Random(0)) - NOW
        for n in range(1, 8)
    ]
    assert delays[0] >= timedelta(minutes=20)
    assert delays == sorted(delays)
    assert delays[-1] <= timedelta(hours=6) * 1.05


def test_retry_after_is_honoured() -> None:
    when = next_poll_at(NOW, timedelta(minutes=1), retry_after=3600, rng=random.Random(0))
    assert when - NOW >= timedelta(hours=1)


def test_delivery_schedule_covers_about_a_day_then_gives_up() -> None:
    rng = random.Random(3)
    total = timedelta()
    for attempt in range(1, len(DELIVERY_RETRY_DELAYS) + 1):
        when = next_delivery_at(NOW, attempt, rng=rng)
        assert when is not None
        base = DELIVERY_RETRY_DELAYS[attempt - 1]
        assert base * 0.9 <= when - NOW <= base * 1.1
        total += when - NOW
    assert timedelta(hours=20) < total < timedelta(hours=36)
    assert next_delivery_at(NOW, len(DELIVERY_RETRY_DELAYS) + 1) is None


class Due(NamedTuple):
    feed_id: int
    due_at: datetime


def test_due_feeds_go_in_batches_of_a_size_due_within_a_spread() -> None:
    # Out of order on purpose: batches follow the due times, not the claim order.
    due = [Due(n, NOW + timedelta(seconds=0.1 * n)) for n in (5, 0, 1, 2, 3, 4, 30, 31)]
    batches = due_batches(due, size=4, spread=timedelta(seconds=1))
    assert [[d.feed_id for d in batch] for batch in batches] == [[0, 1, 2, 3], [4, 5], [30, 31]]
    assert due_batches([], size=4, spread=timedelta(seconds=1)) == []
