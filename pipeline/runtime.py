"""What a unit of work needs from its process: settings, the HTTP seam and a clock.

Built lazily once per process (and again in a forked child, since HTTP connections must
not be shared across a fork). Tests pass their own Runtime with a fake transport or clock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.clock import OffsetClock, utcnow
from pipeline.settings import Settings, get_settings

if TYPE_CHECKING:
    import redis

    from pipeline.io.http import HttpClient
    from pipeline.io.politeness import HostGate


@dataclass
class Runtime:
    """``http`` is built on first use from the settings unless a test passes its own, so a
    command that never goes online does not pay for the HTTP stack."""

    settings: Settings
    http_client: HttpClient | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    host_gate: HostGate | None = None

    @property
    def http(self) -> HttpClient:
        if self.http_client is None:
            with _build_lock:  # a thread-pool worker: one client (one pool) for all threads
                if self.http_client is None:
                    self.http_client = http_client_for(self.settings)
        return self.http_client

    @property
    def hosts(self) -> HostGate:
        """Per-host politeness, shared through the broker's Redis (see io/politeness.py)."""
        if self.host_gate is None:
            from pipeline.io.politeness import host_gate_for

            self.host_gate = host_gate_for(self.settings, broker_redis(self.settings))
        return self.host_gate

    @cached_property
    def store_url(self) -> str:
        # Read many times per unit of work; the settings resolve the SQLite path (a file
        # system lookup) on every read.
        return self.settings.store_url

    def now(self) -> datetime:
        return self.clock()


def http_client_for(settings: Settings) -> HttpClient:
    from pipeline.io.http import HttpClient, HttpLimits

    return HttpClient(
        limits=HttpLimits.from_settings(settings), allow_hosts=settings.http_allow_hosts
    )


def broker_redis(settings: Settings) -> redis.Redis | None:
    """A client of the broker's Redis (TCP or unix socket), or None when the broker is not
    Redis: the one place that knows how to reach it, for whoever shares state through it."""
    from urllib.parse import parse_qs, urlsplit

    url = settings.celery_broker_url
    parts = urlsplit(url)
    options = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
    if parts.scheme in ("redis", "rediss"):
        import redis

        return redis.Redis.from_url(url, **options)
    if parts.scheme in ("redis+socket", "socket", "unix"):
        if not Path(parts.path).exists():
            return None  # the embedded server is not running: no worker to share with
        import redis

        query = parse_qs(parts.query)
        db = (query.get("virtual_host") or query.get("db") or ["0"])[0]
        return redis.Redis(
            unix_socket_path=parts.path,
            db=int(db) if db.isdigit() else 0,
            **options,  # type: ignore[arg-type]
        )
    return None


_runtime: tuple[int, Runtime] | None = None
# Re-entrant: building the runtime may build what it holds. Never held across a fork.
_build_lock = threading.RLock()


def get_runtime() -> Runtime:
    global _runtime
    with _build_lock:  # thread-pool workers share one runtime per process
        if _runtime is None or _runtime[0] != os.getpid():
            settings = get_settings()
            clock = (
                OffsetClock(settings.clock_offset_file) if settings.clock_offset_file else utcnow
            )
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
