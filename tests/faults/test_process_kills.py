"""Processes killed mid-work: a worker child, the whole worker, the beat — on Redis +
PostgreSQL and on the embedded defaults. Every story still alerts, each (rule, story)
under one webhook-id, and the time from the fault to the last alert is reported."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.harness import backend, newswatch_process, stop_process_group, wait_until
from tests.faults.conftest import Measure
from tests.faults.servers import install_tripwire
from tests.faults.world import (
    add_feed,
    assert_promise,
    busy_pool_child,
    newsroom,
    tail,
    wait_for_alerts,
    write_site,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

KINDS = ["services", "embedded"]
STORIES = 6


@pytest.mark.parametrize("kind", KINDS)
def test_worker_child_killed_mid_task(kind: str, tmp_path: Path, measure: Measure) -> None:
    """A prefork pool process SIGKILLed while it processes an article (long pages keep it
    busy): Celery replaces the process, the task runs again, nothing is lost."""
    log = tmp_path / "worker.log"
    with backend(kind, tmp_path) as b, newsroom(b, b.data_dir / "site", STORIES, pages=200) as room:
        tripwire = install_tripwire(tmp_path / "tripwire", b.env)
        add_feed(b, room.feed_url(), "news")
        with newswatch_process(b, log, "run", "--concurrency", "2") as worker:
            victim = None
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and worker.poll() is None:
                victim = busy_pool_child(worker.pid)
            assert victim is not None, "no pool process was ever busy\n" + tail(log)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            took = wait_for_alerts([room.receiver], STORIES, timeout=150)
            assert took is not None, tail(log)
            assert worker.poll() is None, "the worker died with its child"
        measure("recovery", f"{took:.1f} s after the kill")
        assert_promise(room.expected, room.receiver, log=log)
        assert tripwire.read_text() == ""
        assert time.monotonic() - killed_at < 150


@pytest.mark.parametrize("kind", KINDS)
def test_whole_worker_killed_and_restarted(kind: str, tmp_path: Path, measure: Measure) -> None:
    log = tmp_path / "worker.log"
    with backend(kind, tmp_path) as b, newsroom(b, b.data_dir / "site", STORIES) as room:
        install_tripwire(tmp_path / "tripwire", b.env)
        add_feed(b, room.feed_url(), "news")
        with newswatch_process(b, log, "run", "--concurrency", "2") as first:
            # Kill as soon as the first page is asked for: polls done, pages and
            # processing and deliveries still to come.
            assert wait_until(lambda: any(p.startswith("/articles/") for p in room.site.hits), 90)
            stop_process_group(first, signal.SIGKILL)
        before = len(room.receiver.verified)
        restarted_at = time.monotonic()
        with newswatch_process(b, log, "run", "--concurrency", "2") as second:
            took = wait_for_alerts([room.receiver], STORIES, timeout=150)
            assert took is not None, tail(log)
            assert second.poll() is None
        measure("recovery", f"{took:.1f} s after the restart ({before} alerts before the kill)")
        assert time.monotonic() - restarted_at < 150
        assert_promise(room.expected, room.receiver, log=log)


@pytest.mark.parametrize("kind", KINDS)
def test_beat_killed_and_restarted(kind: str, tmp_path: Path, measure: Measure) -> None:
    """Worker and beat as separate processes, as in production; the beat is SIGKILLed
    after the first feed's alerts and a second feed is added while it is down."""
    log = tmp_path / "worker.log"
    beat_log = tmp_path / "beat.log"
    with backend(kind, tmp_path) as b, newsroom(b, b.data_dir / "site", STORIES) as room:
        install_tripwire(tmp_path / "tripwire", b.env)
        later = room.stories[STORIES // 2 :]
        write_site(b.data_dir / "site", room.stories[: STORIES // 2], "first.rss")
        write_site(b.data_dir / "site", later, "second.rss")
        add_feed(b, room.feed_url("first.rss"), "first")
        with newswatch_process(b, log, "worker", "--concurrency", "2") as worker:
            with newswatch_process(b, beat_log, "beat") as beat:
                assert room.receiver.wait_for(STORIES // 2, 120), tail(log) + tail(beat_log)
                stop_process_group(beat, signal.SIGKILL)
            add_feed(b, room.feed_url("second.rss"), "second")
            time.sleep(5)  # no beat: nothing polls the second feed
            assert len(room.receiver.verified) == STORIES // 2
            restarted_at = time.monotonic()
            with newswatch_process(b, beat_log, "beat"):
                took = wait_for_alerts([room.receiver], STORIES, timeout=120)
                assert took is not None, tail(log) + tail(beat_log)
            assert worker.poll() is None
        measure("recovery", f"{time.monotonic() - restarted_at:.1f} s after the beat restart")
        assert_promise(room.expected, room.receiver, log=log)
