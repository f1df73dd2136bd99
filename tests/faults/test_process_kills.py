"""Processes killed mid-work: a worker child, the whole worker, the beat — on Redis +
PostgreSQL and on the embedded defaults. Every story still alerts, each (rule, story)
under one webhook-id, and the time from the fault to the last alert is reported.

The three cases run one after another in one newsroom per backend, each with a feed, a
rule and a receiver of its own, so a case counts only its own alerts: the whole-worker case
kills the `newswatch run` the child case already warmed up, instead of starting another.
The two backends share nothing and run side by side.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Backend,
    backend,
    newswatch_process,
    stop_process_group,
)
from tests.faults.conftest import Measure
from tests.faults.servers import install_tripwire
from tests.faults.world import (
    Concurrent,
    Newsroom,
    Outcome,
    Story,
    add_feed,
    assert_promise,
    attempt,
    busy_pool_child,
    make_stories,
    newsroom,
    tail,
    wait_for_alerts,
    write_site,
)
from worker.loopback import WebhookReceiver

Cases = Concurrent[dict[str, Outcome]]

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900)]

KINDS = ["services", "embedded"]
STORIES = 6


@dataclass
class KillWorld:
    """One backend's newsroom; ``run`` is the `newswatch run` the next case may reuse."""

    b: Backend
    room: Newsroom
    processes: ExitStack
    tmp_path: Path
    tripwire: Path
    run: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.tmp_path / "worker.log"

    def start(self, log: Path, *args: str) -> subprocess.Popen[bytes]:
        return self.processes.enter_context(newswatch_process(self.b, log, *args))

    def running(self) -> subprocess.Popen[bytes]:
        if self.run is None or self.run.poll() is not None:
            self.run = self.start(self.log, "run", "--concurrency", "2")
        return self.run

    def hooked(self, rule: str, stories: list[Story], *feeds: str) -> WebhookReceiver:
        """A rule of its own for a case: ``stories`` mention ``rule``, split over ``feeds``
        on the site (not added yet), and alert to the receiver returned."""
        receiver = WebhookReceiver(self.room.receiver.secret).start()
        self.processes.callback(receiver.stop)
        self.b.cli(
            "rules", "add", rule, rule, "--webhook", receiver.url, "--secret", receiver.secret
        )
        share = len(stories) // len(feeds)
        for number, feed in enumerate(feeds):
            part = stories[number * share : (number + 1) * share]
            write_site(self.b.data_dir / "site", part, feed)
        return receiver


def _child_killed(w: KillWorld, out: Outcome) -> None:
    """A prefork pool process SIGKILLed while it processes an article (long pages keep it
    busy): Celery replaces the process, the task runs again, nothing is lost."""
    room, log = w.room, w.log
    add_feed(w.b, room.feed_url(), "news")
    worker = w.running()
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
    out.note("recovery", f"{took:.1f} s after the kill")
    assert_promise(room.expected, room.receiver, log=log)
    assert w.tripwire.read_text() == ""
    assert time.monotonic() - killed_at < 150


def _whole_worker_killed(
    w: KillWorld, receiver: WebhookReceiver, stories: list[Story], out: Outcome
) -> None:
    first = w.running()
    pages = {f"/articles/{story.slug}.html" for story in stories}
    killed = threading.Event()

    # Kill as soon as the first page is asked for, before it is answered: polls done,
    # pages and processing and deliveries still to come. From the site's request thread,
    # as a worker that is already warm would otherwise be done before a poll noticed.
    def kill_at_first_page(path: str) -> None:
        if path in pages and not killed.is_set():
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(first.pid, signal.SIGKILL)

    w.room.site.on_get = kill_at_first_page
    add_feed(w.b, w.room.feed_url("restart.rss"), "restart")
    assert killed.wait(90), tail(w.log)
    w.room.site.on_get = None
    stop_process_group(first, signal.SIGKILL)
    before = len(receiver.verified)
    restarted_at = time.monotonic()
    second = w.running()
    took = wait_for_alerts([receiver], STORIES, timeout=150)
    assert took is not None, tail(w.log)
    assert second.poll() is None
    out.note("recovery", f"{took:.1f} s after the restart ({before} alerts before the kill)")
    assert time.monotonic() - restarted_at < 150
    assert_promise({"evacuation": STORIES}, receiver, log=w.log)


def _beat_killed(w: KillWorld, receiver: WebhookReceiver, out: Outcome) -> None:
    """Worker and beat as separate processes, as in production; the beat is SIGKILLed
    after the first feed's alerts and a second feed is added while it is down."""
    log, beat_log = w.log, w.tmp_path / "beat.log"
    if w.run is not None:
        stop_process_group(w.run)  # this case runs the worker and the beat apart
        w.run = None
    add_feed(w.b, w.room.feed_url("first.rss"), "first")
    worker = w.start(log, "worker", "--concurrency", "2")
    beat = w.start(beat_log, "beat")
    assert receiver.wait_for(STORIES // 2, 120), tail(log) + tail(beat_log)
    stop_process_group(beat, signal.SIGKILL)
    add_feed(w.b, w.room.feed_url("second.rss"), "second")
    time.sleep(5)  # no beat: nothing polls the second feed
    assert len(receiver.verified) == STORIES // 2
    restarted_at = time.monotonic()
    w.start(beat_log, "beat")
    took = wait_for_alerts([receiver], STORIES, timeout=120)
    assert took is not None, tail(log) + tail(beat_log)
    assert worker.poll() is None
    out.note("recovery", f"{time.monotonic() - restarted_at:.1f} s after the beat restart")
    assert_promise({"blockade": STORIES}, receiver, log=log)


def _kill_cases(kind: str, tmp_path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    with (
        backend(kind, tmp_path) as b,
        newsroom(b, b.data_dir / "site", STORIES, pages=200) as room,
        ExitStack() as processes,
    ):
        tripwire = install_tripwire(tmp_path / "tripwire", b.env)
        w = KillWorld(b, room, processes, tmp_path, tripwire)
        # Every rule is saved before the first worker starts, as an operator would.
        later = make_stories(STORIES, "evacuation", seed=8, first=STORIES)
        restart = w.hooked("evacuation", later, "restart.rss")
        beat = w.hooked(
            "blockade", make_stories(STORIES, "blockade", 9, 2 * STORIES), "first.rss", "second.rss"
        )
        outcomes["child"] = attempt(functools.partial(_child_killed, w))
        outcomes["whole"] = attempt(functools.partial(_whole_worker_killed, w, restart, later))
        outcomes["beat"] = attempt(functools.partial(_beat_killed, w, beat))
    return outcomes


@pytest.fixture(scope="module")
def kill_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cases]:
    cases = Concurrent(
        {
            kind: functools.partial(_kill_cases, kind, tmp_path_factory.mktemp(f"kills-{kind}"))
            for kind in KINDS
        }
    )
    yield cases
    cases.join()


@pytest.mark.parametrize("kind", KINDS)
def test_worker_child_killed_mid_task(kind: str, kill_cases: Cases, measure: Measure) -> None:
    kill_cases.result(kind)["child"].report(measure)


@pytest.mark.parametrize("kind", KINDS)
def test_whole_worker_killed_and_restarted(kind: str, kill_cases: Cases, measure: Measure) -> None:
    kill_cases.result(kind)["whole"].report(measure)


@pytest.mark.parametrize("kind", KINDS)
def test_beat_killed_and_restarted(kind: str, kill_cases: Cases, measure: Measure) -> None:
    kill_cases.result(kind)["beat"].report(measure)
