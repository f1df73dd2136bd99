"""What a unit of work needs from its process: settings, the HTTP seam and a clock.

Built lazily once per process (and again in a forked child, since HTTP connections must
not be shared across a fork). Tests pass their own Runtime with a fake transport or clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.clock import OffsetClock, utcnow
from pipeline.settings import Settings, get_settings

if TYPE_CHECKING:
    from pipeline.io.http import HttpClient


@dataclass
class Runtime:
    """``http`` is built on first use from the settings unless a test passes its own, so a
    command that never goes online does not pay for the HTTP stack."""

    settings: Settings
    http_client: HttpClient | None = None
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def http(self) -> HttpClient:
        if self.http_client is None:
            self.http_client = http_client_for(self.settings)
        return self.http_client

    @property
    def store_url(self) -> str:
        return self.settings.store_url

    def now(self) -> datetime:
        return self.clock()


def http_client_for(settings: Settings) -> HttpClient:
    from pipeline.io.http import HttpClient, HttpLimits

    return HttpClient(
        limits=HttpLimits.from_settings(settings), allow_hosts=settings.http_allow_hosts
    )


_runtime: tuple[int, Runtime] | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None or _runtime[0] != os.getpid():
        settings = get_settings()
        clock = OffsetClock(settings.clock_offset_file) if settings.clock_offset_file else utcnow
        runtime = Runtime(settings=settings, clock=clock)
        _runtime = (os.getpid(), runtime)
    return _runtime[1]


def reset_runtime() -> None:
    """Forget the cached runtime and settings (tests and the demo change the environment)."""
    global _runtime
    _runtime = None
    get_settings.cache_clear()


def start_worker_process() -> None:
    """A fresh worker child: database connections and HTTP pools must not be shared with
    the parent after fork, so both are dropped and rebuilt on first use."""
    from pipeline.io.store import dispose_all

    dispose_all()
    reset_runtime()


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` (and its parents) if needed and check newswatch can write there;
    a path it cannot use is one ConfigError line naming it and why."""
    from pipeline.errors import ConfigError

    resolved = path.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise ConfigError(f"{what} {resolved} is a file, not a directory")
    try:
        resolved.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {resolved}: {exc.strerror or exc}") from exc
    if not os.access(resolved, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to {what} {resolved}: permission denied")
    return resolved
