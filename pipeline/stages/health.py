"""Feed health: pure decisions about whether a feed is ok, failing or silent.

A feed is failing after several failed polls in a row (an error, or an answer that is not
a feed); a 304 leaves the verdict as it was, so it never hides a failure. A feed is silent
when no new entry arrived for several of its own usual gaps between entries (and never
before a minimum, so a busy feed is not called silent after a quiet hour). Entering or
leaving these states is an event the operator is told about.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from pipeline.model import FeedEventKind, FeedHealth

MIN_GAP_SECONDS = 60


@dataclass(frozen=True)
class HealthPolicy:
    failing_after: int  # failed polls in a row
    silent_gaps: float  # usual gaps without a new entry
    silent_min: timedelta


@dataclass(frozen=True)
class PollOutcome:
    """What one poll tells about health: failed, or answered (with or without new entries;
    ``not_modified`` for a 304)."""

    failed: bool
    not_modified: bool = False
    new_entries: int = 0


def next_health(
    current: FeedHealth,
    outcome: PollOutcome,
    failures_in_a_row: int,
    last_new_entry_at: datetime | None,
    gap_seconds: int | None,
    now: datetime,
    policy: HealthPolicy,
) -> FeedHealth:
    """The feed's health after this poll (``failures_in_a_row`` already counts it)."""
    if current == FeedHealth.PAUSED:
        return current
    if outcome.failed:
        return FeedHealth.FAILING if failures_in_a_row >= policy.failing_after else current
    if outcome.not_modified and current == FeedHealth.FAILING:
        return current
    if outcome.new_entries:
        return FeedHealth.OK
    if is_silent(last_new_entry_at, gap_seconds, now, policy):
        return FeedHealth.SILENT
    return FeedHealth.OK if current == FeedHealth.FAILING else current


def is_silent(
    last_new_entry_at: datetime | None,
    gap_seconds: int | None,
    now: datetime,
    policy: HealthPolicy,
) -> bool:
    if last_new_entry_at is None or gap_seconds is None:
        return False  # no history yet: nothing to compare the quiet with
    allowed = max(policy.silent_min, timedelta(seconds=gap_seconds * policy.silent_gaps))
    return now - last_new_entry_at > allowed


def health_event(previous: FeedHealth, health: FeedHealth) -> FeedEventKind | None:
    """The event a change of health is, or None when nothing the operator needs changed."""
    if previous == health or FeedHealth.PAUSED in (previous, health):
        return None
    if health == FeedHealth.FAILING:
        return FeedEventKind.FAILING
    if health == FeedHealth.SILENT:
        return FeedEventKind.SILENT
    return FeedEventKind.RECOVERED


def usual_gap(published: list[datetime]) -> int | None:
    """The median gap between a feed's dated entries, in seconds (None under two dates)."""
    times = sorted(set(published))
    if len(times) < 2:
        return None
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    return max(MIN_GAP_SECONDS, int(statistics.median(gaps)))
