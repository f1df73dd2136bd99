"""Per-host politeness rules on the in-process slot store, with a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError, HostBusyError
from pipeline.io.politeness import (
    HostGate,
    HostLimit,
    LocalSlots,
    PolitenessPolicy,
    parse_host_limits,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def gate(clock: FakeClock, concurrency: int = 1, gap: float = 1.0, wait: float = 2.0) -> HostGate:
    policy = PolitenessPolicy(HostLimit(concurrency, gap), lease=60.0, max_wait=wait)
    return HostGate(LocalSlots(clock), policy, sleep=clock.sleep, clock=clock)


def test_one_request_in_flight_per_host_and_other_hosts_go_on() -> None:
    clock = FakeClock()
    g = gate(clock, gap=0.0, wait=0.5)
    with g.slot("http://a.invalid/feed"):
        with pytest.raises(HostBusyError) as busy, g.slot("http://A.invalid/other"):
            pass
        assert busy.value.retry_in > 0
        with g.slot("http://b.invalid/feed"):  # another host is not held up
            pass
    with g.slot("http://a.invalid/feed"):  # released: free again
        pass


def test_the_gap_is_waited_out_when_short_and_refused_when_longer_than_the_wait() -> None:
    clock = FakeClock()
    g = gate(clock, gap=1.0, wait=2.0)
    with g.slot("http://a.invalid/1"):
        clock.now += 0.3
    started = clock.now
    with g.slot("http://a.invalid/2"):
        assert clock.now == pytest.approx(started + 1.0)  # a gap after the first one's end
    short = gate(clock, gap=5.0, wait=2.0)
    with short.slot("http://a.invalid/1"):
        pass
    before = clock.now
    with pytest.raises(HostBusyError) as busy, short.slot("http://a.invalid/2"):
        pass
    assert clock.now == before  # did not sit out a wait it could not finish
    assert busy.value.retry_in == pytest.approx(5.0)


def test_retry_after_blocks_the_host_for_every_caller() -> None:
    clock = FakeClock()
    slots = LocalSlots(clock)
    policy = PolitenessPolicy(HostLimit(1, 0.0), lease=60.0, max_wait=1.0)
    first = HostGate(slots, policy, sleep=clock.sleep, clock=clock)
    second = HostGate(slots, policy, sleep=clock.sleep, clock=clock)
    first.block("http://a.invalid/feed", 30)
    with pytest.raises(HostBusyError) as busy, second.slot("http://a.invalid/page"):
        pass
    assert busy.value.retry_in == pytest.approx(30, abs=0.01)
    clock.now += 30
    with second.slot("http://a.invalid/page"):
        pass


def test_a_slot_held_past_its_lease_frees_itself() -> None:
    clock = FakeClock()
    slots = LocalSlots(clock)
    limit = HostLimit(1, 0.0)
    token, _ = slots.try_acquire("a.invalid", limit, lease=10.0)  # its holder "crashes"
    assert token is not None
    assert slots.try_acquire("a.invalid", limit, lease=10.0)[0] is None
    clock.now += 10.5
    assert slots.try_acquire("a.invalid", limit, lease=10.0)[0] is not None


def test_overrides_per_host() -> None:
    assert parse_host_limits(["127.0.0.1=8/0", "feeds.example.org=2"]) == {
        "127.0.0.1": HostLimit(8, 0.0),
        "feeds.example.org": HostLimit(2, 0.0),
    }
    for bad in ("127.0.0.1", "=3", "h=0", "h=x", "h=1/-1"):
        with pytest.raises(ConfigError, match="HOST=N"):
            parse_host_limits([bad])
    clock = FakeClock()
    policy = PolitenessPolicy(HostLimit(1, 0.0), {"a.invalid": HostLimit(2, 0.0)}, max_wait=0)
    g = HostGate(LocalSlots(clock), policy, sleep=clock.sleep, clock=clock)
    with (
        g.slot("http://a.invalid/1"),
        g.slot("http://a.invalid/2"),
        pytest.raises(HostBusyError),
        g.slot("http://a.invalid/3"),
    ):
        pass


def test_an_unreachable_slot_store_lets_the_request_through() -> None:
    class Down(LocalSlots):
        def try_acquire(
            self, host: str, limit: HostLimit, lease: float
        ) -> tuple[str | None, float]:
            raise ConnectionError("redis is down")

    clock = FakeClock()
    g = HostGate(Down(clock), PolitenessPolicy(HostLimit(1, 0.0)), sleep=clock.sleep, clock=clock)
    entered = False
    with g.slot("http://a.invalid/feed"):
        entered = True
    assert entered
