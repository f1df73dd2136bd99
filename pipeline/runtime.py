"""What a unit of work needs from its process: settings, the HTTP seam and a clock.

Built lazily once per process (and again in a forked child, since HTTP connections must
not be shared across a fork). Tests pass their own Runtime with a fake transport or clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.io.http import HttpClient, HttpLimits
from pipeline.io.store import utcnow
from pipeline.settings import Settings, get_settings


@dataclass
class Runtime:
    settings: Settings
    http: HttpClient
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def store_url(self) -> str:
        return self.settings.store_url

    def now(self) -> datetime:
        return self.clock()


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


def http_client_for(settings: Settings) -> HttpClient:
    limits = HttpLimits(
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
        total_timeout=settings.http_total_timeout,
        max_bytes=settings.http_max_bytes,
        max_redirects=settings.http_max_redirects,
        user_agent=settings.http_user_agent,
    )
    return HttpClient(limits=limits, allow_hosts=settings.http_allow_hosts)


_runtime: tuple[int, Runtime] | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None or _runtime[0] != os.getpid():
        settings = get_settings()
        clock = OffsetClock(settings.clock_offset_file) if settings.clock_offset_file else utcnow
        runtime = Runtime(settings=settings, http=http_client_for(settings), clock=clock)
        _runtime = (os.getpid(), runtime)
    return _runtime[1]


def reset_runtime() -> None:
    """Forget the cached runtime and settings (tests and the demo change the environment)."""
    global _runtime
    _runtime = None
    get_settings.cache_clear()
