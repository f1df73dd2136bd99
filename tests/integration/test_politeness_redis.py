"""Per-host slots in a real Redis: shared between clients, leased, blocked by Retry-After."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from pipeline.io.politeness import HostLimit, RedisSlots
from tests.e2e.harness import redis_broker


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    with redis_broker() as url:
        yield redis.Redis.from_url(url)


def test_slots_are_shared_between_clients_and_leases_expire(client: redis.Redis) -> None:
    one, two = RedisSlots(client), RedisSlots(redis.Redis(connection_pool=client.connection_pool))
    limit = HostLimit(1, 0.0)
    token, _ = one.try_acquire("a.invalid", limit, lease=0.3)
    assert token is not None
    assert two.try_acquire("a.invalid", limit, lease=0.3) == (None, 0.0)  # in flight
    assert two.try_acquire("b.invalid", limit, lease=0.3)[0] is not None
    time.sleep(0.4)  # the holder never released: its lease ran out
    again, _ = two.try_acquire("a.invalid", limit, lease=5.0)
    assert again is not None
    two.release("a.invalid", again, limit)
    assert one.try_acquire("a.invalid", limit, lease=5.0)[0] is not None


def test_gap_and_block_are_seen_by_every_client(client: redis.Redis) -> None:
    one, two = RedisSlots(client), RedisSlots(client)
    limit = HostLimit(2, 0.5)
    token, _ = one.try_acquire("a.invalid", limit, lease=5.0)
    assert token is not None
    refused, wait = two.try_acquire("a.invalid", limit, lease=5.0)
    assert refused is None and 0.3 < wait <= 0.5  # the gap after a start
    one.release("a.invalid", token, limit)
    one.block("a.invalid", 20)
    refused, wait = two.try_acquire("a.invalid", limit, lease=5.0)
    assert refused is None and 19 < wait <= 20
    ttl = int(client.pttl("newswatch:host:{a.invalid}:next"))  # type: ignore[arg-type]
    assert 19 < ttl / 1000 <= 20  # no key is left forever
