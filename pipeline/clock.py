"""Time: aware UTC everywhere, and a clock that drills and tests can move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path


def utcnow() -> datetime:
    """Aware UTC; the store's datetime columns refuse naive datetimes."""
    return datetime.now(UTC)


class OffsetClock:
    """Wall-clock time plus the seconds written in a file (drills and end-to-end tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return utcnow() + timedelta(seconds=offset)
