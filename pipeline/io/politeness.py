"""Per-host politeness shared by every worker: requests in flight per host, a minimum gap
between requests to one host, and a host blocked for everyone after its Retry-After.

State lives in the broker's Redis, so every worker process on every machine sees the same
host: a slot is a member of a sorted set scored by its lease's end (a worker that dies
holding a slot frees it when the lease runs out), and a host's earliest next start is one
key with a TTL. Each step is one Lua script on Redis's own clock, so workers with skewed
clocks agree. Without a Redis broker (the filesystem transport) the same rules hold within
one process only; if Redis cannot be reached, requests go ahead (the broker being down
stops the workers anyway, and a CLI poll should not fail for it).

Feed polls and page fetches go through here; webhook deliveries do not (see README).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pipeline.errors import HostBusyError, HTTPStatusError
from pipeline.settings import HostLimit, parse_host_limits

if TYPE_CHECKING:
    import redis

    from pipeline.io.http import FetchResult, HttpClient
    from pipeline.settings import Settings

log = logging.getLogger("newswatch")

# Statuses whose Retry-After speaks for the whole host, not just the URL asked for.
_HOST_WIDE_STATUSES = frozenset({429, 503})
# Sleeps while a slot is taken: short at first (loopback answers in milliseconds), then
# coarser so that many waiting threads do not hammer Redis.
_FIRST_PAUSE, _LAST_PAUSE = 0.02, 0.25


@dataclass(frozen=True)
class PolitenessPolicy:
    default: HostLimit
    overrides: Mapping[str, HostLimit] = field(default_factory=dict)
    lease: float = 60.0  # longest a slot is held: the HTTP deadline plus a margin
    max_wait: float = 2.0  # longest a caller waits for a busy host before giving up
    max_block: float = 6 * 3600.0  # cap on a Retry-After block

    @classmethod
    def from_settings(cls, settings: Settings) -> PolitenessPolicy:
        return cls(
            default=HostLimit(settings.host_concurrency, settings.host_min_gap),
            overrides=parse_host_limits(settings.host_limits),
            lease=settings.http_total_timeout + 30.0,
            max_wait=settings.host_wait,
            max_block=float(settings.max_poll_backoff),
        )

    def limit_for(self, host: str) -> HostLimit:
        return self.overrides.get(host, self.default)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class SlotStore(Protocol):
    """Where slots and gaps are kept. ``try_acquire`` returns ``(token, 0)`` on success,
    else ``(None, seconds)``: how long until the host may be free (0 = unknown, a request
    is in flight)."""

    def try_acquire(self, host: str, limit: HostLimit, lease: float) -> tuple[str | None, float]:
        """Take a slot on ``host`` if one is free and its gap has passed."""

    def release(self, host: str, token: str, limit: HostLimit) -> None:
        """Give the slot back; the host's next start is at least one gap away."""

    def block(self, host: str, seconds: float) -> None:
        """No new request to ``host`` for ``seconds`` (Retry-After)."""


_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, gap, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return nxt - now end
if redis.call('ZCARD', KEYS[1]) >= limit then return -1 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
if gap > 0 then redis.call('SET', KEYS[2], now + gap, 'PX', gap) end
return 0
"""

# Release and block share one rule: the next start is pushed to now + ms, never earlier.
_RELEASE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
local ms = tonumber(ARGV[2])
if ms > 0 then
  local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
  if now + ms > nxt then redis.call('SET', KEYS[2], now + ms, 'PX', ms) end
end
return 0
"""


class RedisSlots:
    """Slots in Redis, shared by every process that uses the same server and db."""

    def __init__(self, client: redis.Redis, prefix: str = "newswatch:host") -> None:
        self._client = client
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    def _keys(self, host: str) -> list[str]:
        # The braces keep both keys of a host on one slot of a Redis Cluster.
        return [f"{self._prefix}:{{{host}}}:inflight", f"{self._prefix}:{{{host}}}:next"]

    def try_acquire(self, host: str, limit: HostLimit, lease: float) -> tuple[str | None, float]:
        token = uuid.uuid4().hex
        args = [token, limit.concurrency, int(limit.min_gap * 1000), int(lease * 1000)]
        wait_ms = int(self._acquire(keys=self._keys(host), args=args))  # type: ignore[arg-type]
        if wait_ms == 0:
            return token, 0.0
        return None, max(wait_ms, 0) / 1000

    def release(self, host: str, token: str, limit: HostLimit) -> None:
        self._release(keys=self._keys(host), args=[token, int(limit.min_gap * 1000)])

    def block(self, host: str, seconds: float) -> None:
        self._release(keys=self._keys(host), args=["", int(seconds * 1000)])


class LocalSlots:
    """The same rules within one process (threads share it): without a Redis broker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight: dict[str, dict[str, float]] = {}
        self._next: dict[str, float] = {}

    def try_acquire(self, host: str, limit: HostLimit, lease: float) -> tuple[str | None, float]:
        with self._lock:
            now = self._clock()
            slots = {t: end for t, end in self._inflight.get(host, {}).items() if end > now}
            self._inflight[host] = slots
            next_start = self._next.get(host, 0.0)
            if next_start > now:
                return None, next_start - now
            if len(slots) >= limit.concurrency:
                return None, 0.0
            token = uuid.uuid4().hex
            slots[token] = now + lease
            self._next[host] = now + limit.min_gap
            return token, 0.0

    def release(self, host: str, token: str, limit: HostLimit) -> None:
        with self._lock:
            self._inflight.get(host, {}).pop(token, None)
            self._push(host, limit.min_gap)

    def block(self, host: str, seconds: float) -> None:
        with self._lock:
            self._push(host, seconds)

    def _push(self, host: str, seconds: float) -> None:
        self._next[host] = max(self._next.get(host, 0.0), self._clock() + seconds)


class HostGate:
    """What the services call: wait (briefly) for a host, request, give the host back."""

    def __init__(
        self,
        slots: SlotStore,
        policy: PolitenessPolicy,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = slots
        self.policy = policy
        self._sleep = sleep
        self._clock = clock

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold a slot on the URL's host for the block; raises HostBusyError (with how long
        to wait) when none came free within the policy's wait."""
        host = host_of(url)
        limit = self.policy.limit_for(host)
        token = self._acquire(host, limit)
        try:
            yield
        finally:
            if token is not None:
                self._safely(lambda: self.slots.release(host, token, limit), host)

    def get(self, http: HttpClient, url: str, headers: Mapping[str, str]) -> FetchResult:
        """``http.get`` inside a slot; a 429/503 with Retry-After blocks the host for all."""
        with self.slot(url):
            try:
                return http.get(url, headers)
            except HTTPStatusError as exc:
                if exc.retry_after and exc.status_code in _HOST_WIDE_STATUSES:
                    self.block(url, exc.retry_after)
                raise

    def block(self, url: str, seconds: float) -> None:
        host = host_of(url)
        seconds = min(seconds, self.policy.max_block)
        log.info("host %s asked to wait %.0fs: no request to it until then", host, seconds)
        self._safely(lambda: self.slots.block(host, seconds), host)

    def _acquire(self, host: str, limit: HostLimit) -> str | None:
        """A slot's token; None when the slot store is unreachable (the request goes on)."""
        deadline = self._clock() + self.policy.max_wait
        pause = _FIRST_PAUSE
        while True:
            try:
                token, wait = self.slots.try_acquire(host, limit, self.policy.lease)
            except Exception as exc:  # the broker's Redis is down or refuses: fail open
                _warn_unreachable(host, exc)
                return None
            if token is not None:
                return token
            left = deadline - self._clock()
            # A known wait (gap, Retry-After) longer than what is left is not worth sitting
            # out: the caller re-schedules at once and the worker takes other work.
            if left <= 0 or wait > left:
                retry_in = max(wait, limit.min_gap, _LAST_PAUSE)
                raise HostBusyError(
                    f"host {host} is busy (per-host limit): try again in {retry_in:.1f}s",
                    retry_in=retry_in,
                )
            if wait <= 0:
                wait, pause = pause, min(pause * 2, _LAST_PAUSE)
            self._sleep(min(wait, left))

    def _safely(self, step: Callable[[], None], host: str) -> None:
        try:
            step()
        except Exception as exc:
            _warn_unreachable(host, exc)


_last_warning = 0.0


def _warn_unreachable(host: str, exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:  # one line a minute, not one per request
        _last_warning = now
        log.warning(
            "per-host limits unavailable, requests go ahead unthrottled: %s: %s",
            type(exc).__name__,
            exc,
            extra={"host": host},
        )


_local_slots = LocalSlots()


def host_gate_for(settings: Settings, client: redis.Redis | None) -> HostGate:
    """A gate over the broker's Redis when there is one, else over this process's slots."""
    slots: SlotStore = RedisSlots(client) if client is not None else _local_slots
    return HostGate(slots, PolitenessPolicy.from_settings(settings))
