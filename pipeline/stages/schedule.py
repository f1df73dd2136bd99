"""When to poll a feed next and when to retry a webhook: pure time arithmetic."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

# Delays after each failed delivery (attempt 1 failed -> wait 5 s, …); then dead-lettered.
# About 28 hours in all, so a receiver down for a day still gets every alert.
DELIVERY_RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
RETRY_JITTER = 0.1


def next_poll_at(
    now: datetime,
    interval: timedelta,
    error_count: int = 0,
    retry_after: float | None = None,
    max_backoff: timedelta = timedelta(hours=6),
    rng: random.Random | None = None,
) -> datetime:
    """Next poll: the interval when healthy; doubling per consecutive error up to a cap.

    A server's Retry-After is honoured when it asks for longer. A little jitter spreads
    feeds that were added together so they do not all fall due on the same tick.
    """
    delay = interval
    if error_count > 0:
        delay = min(interval * (2 ** min(error_count, 16)), max(max_backoff, interval))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, max_backoff.total_seconds())))
    jitter = (rng or random).uniform(0, 0.05) * delay.total_seconds()
    return now + delay + timedelta(seconds=jitter)


class _Due(Protocol):
    @property
    def due_at(self) -> datetime: ...


D = TypeVar("D", bound=_Due)


def due_batches(due: Sequence[D], size: int, spread: timedelta) -> list[list[D]]:
    """Items in order of ``due_at``, in batches of at most ``size`` that all fall due within
    ``spread`` of the batch's first: a batch started when its last item is due starts none
    more than ``spread`` late."""
    batches: list[list[D]] = []
    for item in sorted(due, key=lambda d: d.due_at):
        last = batches[-1] if batches else None
        if last and len(last) < size and item.due_at - last[0].due_at <= spread:
            last.append(item)
        else:
            batches.append([item])
    return batches


def next_delivery_at(
    now: datetime,
    attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try a webhook again after ``attempts`` failed tries; None = give up."""
    if attempts < 1 or attempts > len(DELIVERY_RETRY_DELAYS):
        return None
    base = DELIVERY_RETRY_DELAYS[attempts - 1]
    factor = 1 + (rng or random).uniform(-RETRY_JITTER, RETRY_JITTER)
    delay = base * factor
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 86_400)))
    return now + delay
