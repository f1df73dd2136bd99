"""The broker and the store taken away mid-run, and processes that share them.

- Redis SIGKILLed with messages queued, then restarted (a redis-server of the test's own,
  append-only); Redis down while an article is fetched and processed, also with the I/O
  worker killed meanwhile; a worker's consumer letting go of its dead connection while it
  holds unacknowledged tasks.
- PostgreSQL (a cluster of the test's own) unavailable for 30 s mid-run: the workers
  recover by themselves, nobody restarts them.
- SQLite held by ``BEGIN IMMEDIATE`` in another process for 45 s.
- Two beats; two ``newswatch run`` on one data directory.

The cases share nothing (each its own newsroom, data directory and servers: a case on Redis
+ PostgreSQL has a redis-server of its own, as the harness's shared Redis db is flushed by
whoever takes it), so they run in a few lanes side by side: the fixed outages and the
workers' start-ups overlap. Each case still measures its own recovery and reports its own
failure under its own test.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Exchange, Queue

from tests.e2e.harness import Backend, backend, newswatch_process, wait_until
from tests.faults.conftest import Measure
from tests.faults.servers import OwnRedis, install_tripwire, own_postgres, own_redis
from tests.faults.world import (
    Concurrent,
    Newsroom,
    Outcome,
    add_feed,
    assert_promise,
    attempt,
    newsroom,
    store_rows,
    tail,
    wait_for_alerts,
)
from worker import supervisor

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(900)]

STORIES = 6


def _fetched(b: Backend) -> int:
    rows = store_rows(b, "SELECT count(*) FROM articles WHERE fetch_status != 'pending'")
    return int(rows[0][0])


def _redis_killed_with_messages_queued(tmp_path: Path, out: Outcome) -> None:
    """Only the I/O workers run at first, so every article's processing task waits in
    Redis; Redis is SIGKILLed and restarted from its append-only file, then the extract
    worker starts and takes them."""
    log = tmp_path / "worker.log"
    with (
        own_redis(tmp_path / "redis") as redis,
        backend("services", tmp_path, broker_url=redis.url) as b,
        newsroom(b, b.data_dir / "site", STORIES) as room,
    ):
        install_tripwire(tmp_path / "tripwire", b.env)
        add_feed(b, room.feed_url(), "news")
        with (
            newswatch_process(b, tmp_path / "beat.log", "beat"),
            newswatch_process(b, log, "worker", "--queues", "tick,deliver,poll,fetch"),
        ):
            assert wait_until(lambda: _fetched(b) >= STORIES, 120), tail(log)
            # Processing waits in Redis for every article (several to a bulk message).
            assert wait_until(lambda: redis.queued_articles() >= STORIES, 30), "nothing queued"
            queued = redis.queued()
            redis.kill()
            time.sleep(3)
            redis.start()
            restarted_at = time.monotonic()
            survived = redis.queued_articles()
            with newswatch_process(b, log, "worker", "--queues", "extract"):
                took = wait_for_alerts([room.receiver], STORIES, timeout=180)
                assert took is not None, tail(log)
        out.note(
            "queued at the kill",
            f"{queued} messages, {survived} articles' processing after the restart",
        )
        out.note("recovery", f"{time.monotonic() - restarted_at:.1f} s after Redis restarted")
        assert survived >= STORIES
        assert_promise(room.expected, room.receiver, log=log)


@dataclass
class Outage:
    b: Backend
    room: Newsroom
    redis: OwnRedis
    killed: threading.Event  # set when Redis was killed


@contextmanager
def redis_dies_at_the_first_page(tmp_path: Path) -> Iterator[Outage]:
    """Redis of the test's own, SIGKILLed while the first article page is being served."""
    with (
        own_redis(tmp_path / "redis") as redis,
        backend("services", tmp_path, broker_url=redis.url) as b,
        newsroom(b, b.data_dir / "site", STORIES) as room,
    ):
        install_tripwire(tmp_path / "tripwire", b.env)
        killed = threading.Event()

        def kill_redis_once(path: str) -> None:
            if path.startswith("/articles/") and not killed.is_set():
                killed.set()
                redis.kill()

        room.site.on_get = kill_redis_once
        yield Outage(b, room, redis, killed)


def bring_redis_back(
    outage: Outage, worker: subprocess.Popen[bytes], log: Path, out: Outcome
) -> None:
    """Redis restarted: every story alerts with the same `newswatch run` still up."""
    outage.redis.start()
    restarted_at = time.monotonic()
    took = wait_for_alerts([outage.room.receiver], STORIES, timeout=240)
    assert took is not None, tail(log)
    assert worker.poll() is None, "the worker gave up while Redis was down"
    out.note("recovery", f"{time.monotonic() - restarted_at:.1f} s after Redis restarted")


def _redis_down_while_an_article_is_processed(tmp_path: Path, out: Outcome) -> None:
    """Redis is SIGKILLed while the first page is being served, so the follow-up task
    cannot be sent; it comes back 10 s later. The stored state (the article's relay, the
    alerts outbox) catches what was lost, with no restart of the worker."""
    log = tmp_path / "worker.log"
    with redis_dies_at_the_first_page(tmp_path) as outage:
        add_feed(outage.b, outage.room.feed_url(), "news")
        with newswatch_process(outage.b, log, "run", "--concurrency", "2") as worker:
            assert outage.killed.wait(120), tail(log)
            time.sleep(10)
            bring_redis_back(outage, worker, log, out)
        assert_promise(outage.room.expected, outage.room.receiver, log=log)


def _child_pids(log: Path, name: str) -> list[int]:
    """The pids `newswatch run` logged for its child ``name``, in the order it started them."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [int(pid) for pid in re.findall(rf"\b{re.escape(name)} started, pid (\d+)", text)]


def _io_worker_killed_while_redis_is_down(tmp_path: Path, out: Outcome) -> None:
    """The threaded I/O worker of `newswatch run`, up for a while, is SIGKILLed while Redis
    is down: run starts it again at once, and the new one waits for Redis (it does not
    exit at start, which would stop the whole run); nothing is lost once Redis is back."""
    log = tmp_path / "worker.log"
    with redis_dies_at_the_first_page(tmp_path) as outage:
        with newswatch_process(outage.b, log, "run", "--concurrency", "2") as worker:
            assert wait_until(lambda: _child_pids(log, "io"), 60), tail(log)
            # Past its start-up: a death now is a crash to recover from, not a bad start.
            time.sleep(supervisor.MIN_UPTIME + 1)
            add_feed(outage.b, outage.room.feed_url(), "news")
            assert outage.killed.wait(120), tail(log)
            os.kill(_child_pids(log, "io")[0], signal.SIGKILL)
            assert wait_until(lambda: len(_child_pids(log, "io")) == 2, 30), tail(log)
            time.sleep(supervisor.MIN_UPTIME)  # longer than a child that exits at start lives
            assert worker.poll() is None, "run gave up while Redis was down\n" + tail(log)
            bring_redis_back(outage, worker, log, out)
            assert len(_child_pids(log, "io")) == 2, "the new I/O worker exited too"
        assert_promise(outage.room.expected, outage.room.receiver, log=log)


def _postgres_unavailable_for_30s(tmp_path: Path, out: Outcome) -> None:
    log = tmp_path / "worker.log"
    with (
        own_postgres() as pg,
        own_redis(tmp_path / "redis") as redis,
        backend("services", tmp_path, broker_url=redis.url, database_url=pg.url) as b,
        newsroom(b, b.data_dir / "site", STORIES) as room,
    ):
        install_tripwire(tmp_path / "tripwire", b.env)
        in_page = threading.Event()

        def slow_page(path: str) -> None:
            if path.startswith("/articles/"):
                in_page.set()
                time.sleep(0.5)

        room.site.on_get = slow_page
        add_feed(b, room.feed_url(), "news")
        with newswatch_process(b, log, "run", "--concurrency", "2") as worker:
            assert in_page.wait(120), tail(log)
            pg.crash()
            time.sleep(30)
            pg.start()
            back_at = time.monotonic()
            took = wait_for_alerts([room.receiver], STORIES, timeout=240)
            assert took is not None, tail(log)
            assert worker.poll() is None, "a worker gave up while PostgreSQL was down"
        out.note("recovery", f"{time.monotonic() - back_at:.1f} s after PostgreSQL was back")
        assert_promise(room.expected, room.receiver, log=log)


def _sqlite_locked_for_45s(tmp_path: Path, out: Outcome) -> None:
    log = tmp_path / "worker.log"
    with backend("embedded", tmp_path) as b, newsroom(b, b.data_dir / "site", STORIES) as room:
        install_tripwire(tmp_path / "tripwire", b.env)
        in_page = threading.Event()
        room.site.on_get = lambda path: in_page.set() if path.startswith("/articles/") else None
        add_feed(b, room.feed_url(), "news")
        with newswatch_process(b, log, "run", "--concurrency", "2") as worker:
            assert in_page.wait(120), tail(log)
            # Another process holds the write lock, as a backup or a stray shell would.
            holder = sqlite3.connect(b.data_dir / "newswatch.db", timeout=60, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            time.sleep(45)
            holder.execute("ROLLBACK")
            holder.close()
            released_at = time.monotonic()
            took = wait_for_alerts([room.receiver], STORIES, timeout=240)
            assert took is not None, tail(log)
            assert worker.poll() is None
        out.note("recovery", f"{time.monotonic() - released_at:.1f} s after the lock was released")
        assert_promise(room.expected, room.receiver, log=log)


def _two_beats(kind: str, tmp_path: Path, out: Outcome) -> None:
    log = tmp_path / "worker.log"
    with ExitStack() as stack:
        broker = None
        if kind == "services":
            broker = stack.enter_context(own_redis(tmp_path / "redis")).url
        b = stack.enter_context(backend(kind, tmp_path, broker_url=broker))
        room = stack.enter_context(newsroom(b, b.data_dir / "site", STORIES))
        install_tripwire(tmp_path / "tripwire", b.env)
        add_feed(b, room.feed_url(), "news")
        started = time.monotonic()
        with (
            newswatch_process(b, log, "worker", "--concurrency", "2") as worker,
            newswatch_process(b, tmp_path / "beat-1.log", "beat"),
            newswatch_process(b, tmp_path / "beat-2.log", "beat"),
        ):
            took = wait_for_alerts([room.receiver], STORIES, timeout=180)
            assert took is not None, tail(log)
            time.sleep(5)  # both beats keep ticking: nothing may arrive twice
            assert worker.poll() is None
        out.note("all alerts", f"{time.monotonic() - started:.1f} s with two beats")
        ledger = assert_promise(room.expected, room.receiver, log=log)
        assert ledger.duplicates == 0, f"{ledger.duplicates} alerts were sent twice"


def _two_runs_on_one_data_directory(tmp_path: Path, out: Outcome) -> None:
    """A second `newswatch run` on the same data directory either runs beside the first
    or refuses with one line; either way nothing is lost and nothing alerts twice."""
    log = tmp_path / "worker.log"
    second_log = tmp_path / "second.log"
    with backend("embedded", tmp_path) as b, newsroom(b, b.data_dir / "site", STORIES) as room:
        install_tripwire(tmp_path / "tripwire", b.env)
        add_feed(b, room.feed_url(), "news")
        started = time.monotonic()
        with (
            newswatch_process(b, log, "run", "--concurrency", "2") as first,
            newswatch_process(b, second_log, "run", "--concurrency", "2"),
        ):
            took = wait_for_alerts([room.receiver], STORIES, timeout=180)
            assert took is not None, tail(log) + tail(second_log)
            time.sleep(5)
            assert first.poll() is None
        out.note("all alerts", f"{time.monotonic() - started:.1f} s with two runs")
        second_text = second_log.read_text(errors="replace")
        before_stop = second_text.split("Warm shutdown")[0]
        assert "Traceback" not in before_stop, second_text[-3000:]
        assert_promise(room.expected, room.receiver, log=log)


def _consumer_holding_a_task(app: Celery) -> tuple[Any, Connection, Any]:
    """A newswatch consumer as its event loop leaves it while a task runs: one task message
    delivered and not acknowledged (late acks), a BRPOP waiting for the next one, and a
    fanout subscription (the pidbox of remote control) on a second channel."""
    from worker.consumer import Consumer

    connection = app.connection_for_read()
    tasks = Queue("fetch", Exchange("fetch", type="direct"), routing_key="fetch")
    with app.connection_for_write() as writer, writer.Producer() as producer:
        producer.publish(
            {"article_id": 1}, exchange=tasks.exchange, routing_key="fetch", declare=[tasks]
        )
    channel = connection.default_channel
    channel.basic_qos(0, 1, False)
    connection.Consumer(tasks, channel=channel, callbacks=[lambda body, message: None]).consume()
    pidbox = Queue("pidbox", Exchange("pidbox", type="fanout"), auto_delete=True)
    connection.Consumer(pidbox, channel=connection.channel(), no_ack=True).consume()
    deadline = time.monotonic() + 10
    while not channel.qos._delivered and time.monotonic() < deadline:
        connection.drain_events(timeout=1)  # the pubsub confirmations come first
    channel._brpop_start()  # the event loop asks for the next message at once
    consumer = Consumer.__new__(Consumer)  # only what its connection-error path reads
    consumer.app = app
    consumer.connection = connection
    consumer.pool = SimpleNamespace(num_processes=8, flush=None)  # a thread pool
    consumer.prefetch_multiplier = 1
    consumer.qos_global = False
    return consumer, connection, channel


Case = Callable[[Path, Outcome], None]

# Keyed by test name. Each lane runs its cases one after another and the lanes run side by
# side: four lanes of about one length, each a long case then a short one (80, 80, 57 and
# 52 s alone, then 35 to 50 s), as more workers starting at once on two cores would only
# slow each other down.
CASES: dict[str, Case] = {
    "test_postgres_unavailable_for_30s": _postgres_unavailable_for_30s,
    "test_sqlite_locked_for_45s": _sqlite_locked_for_45s,
    "test_redis_down_while_an_article_is_processed": _redis_down_while_an_article_is_processed,
    "test_a_worker_killed_while_redis_is_down_is_started_again": (
        _io_worker_killed_while_redis_is_down
    ),
    "test_redis_killed_with_messages_queued": _redis_killed_with_messages_queued,
    "test_two_beats[services]": functools.partial(_two_beats, "services"),
    "test_two_beats[embedded]": functools.partial(_two_beats, "embedded"),
    "test_two_runs_on_one_data_directory": _two_runs_on_one_data_directory,
}
LANES: tuple[tuple[str, ...], ...] = (
    ("test_redis_down_while_an_article_is_processed", "test_two_beats[services]"),
    ("test_a_worker_killed_while_redis_is_down_is_started_again", "test_two_beats[embedded]"),
    ("test_sqlite_locked_for_45s", "test_two_runs_on_one_data_directory"),
    ("test_postgres_unavailable_for_30s", "test_redis_killed_with_messages_queued"),
)


def _run_case(case: Case, tmp_path: Path) -> Outcome:
    try:
        return attempt(functools.partial(case, tmp_path))
    except pytest.skip.Exception as skip:  # a service missing: this case's test skips
        return Outcome(error=skip)


def _lane(cases: list[tuple[str, Path]]) -> dict[str, Outcome]:
    return {name: _run_case(CASES[name], tmp_path) for name, tmp_path in cases}


class StoreCases:
    """The cases this session selected, started at once in their lanes."""

    def __init__(self, selected: set[str], tmp_path_factory: pytest.TempPathFactory) -> None:
        self._lane_of: dict[str, str] = {}
        lanes: dict[str, Callable[[], dict[str, Outcome]]] = {}
        for number, names in enumerate(LANES):
            key = f"lane-{number}"
            # Directories made here, not in the lanes' threads; short names keep the
            # embedded broker's socket path under its length limit.
            cases = [
                (name, tmp_path_factory.mktemp(re.sub(r"\W+", "-", name[5:])[:24]))
                for name in names
                if name in selected
            ]
            self._lane_of.update({name: key for name, _ in cases})
            if cases:
                lanes[key] = functools.partial(_lane, cases)
        self._runs = Concurrent(lanes)

    def outcome(self, name: str) -> Outcome:
        return self._runs.result(self._lane_of[name])[name]

    def join(self) -> None:
        self._runs.join()


@pytest.fixture(scope="module")
def store_cases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreCases]:
    selected = {
        item.name
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module
    }
    cases = StoreCases(selected, tmp_path_factory)
    yield cases
    cases.join()


@pytest.fixture
def case(request: pytest.FixtureRequest, store_cases: StoreCases) -> Outcome:
    """What the case named like the test measured, and the failure it stopped at."""
    return store_cases.outcome(request.node.name)


@pytest.mark.slow
def test_postgres_unavailable_for_30s(case: Outcome, measure: Measure) -> None:
    case.report(measure)


def test_a_worker_holding_tasks_lets_go_of_a_dead_broker(tmp_path: Path) -> None:
    """The cause of the Redis-down cases failing now and then: a worker whose Redis dies
    while it runs a task must drop the dead connection and go back to waiting for the
    broker. Celery's own teardown raised AttributeError here (an "Unrecoverable error": the
    worker stopped) when the error was read on the pubsub socket while a BRPOP was
    outstanding. Runs while the lanes above do: it starts no worker."""
    from pipeline.settings import Settings
    from worker.celery_app import celery_config

    with own_redis(tmp_path / "redis") as redis:
        app = Celery("newswatch-fault", set_as_current=False)
        settings = Settings(broker_url=redis.url, data_dir=tmp_path / "data")
        app.conf.update(celery_config(settings))
        consumer, connection, channel = _consumer_holding_a_task(app)
        assert len(channel.qos._delivered) == 1 and channel._in_poll
        redis.kill()
        consumer.on_connection_error_after_connected(
            ConnectionError("Connection closed by server.")
        )
        assert consumer.connection is None
        assert channel.closed
        # Restoring the unacknowledged task failed with the broker down; it stays in
        # Redis's unacked set, which Redis restores after the visibility timeout.
        connection.close()  # nothing left half-closed: a second close is quiet too


@pytest.mark.slow
def test_sqlite_locked_for_45s(case: Outcome, measure: Measure) -> None:
    case.report(measure)


def test_redis_down_while_an_article_is_processed(case: Outcome, measure: Measure) -> None:
    case.report(measure)


def test_a_worker_killed_while_redis_is_down_is_started_again(
    case: Outcome, measure: Measure
) -> None:
    case.report(measure)


def test_redis_killed_with_messages_queued(case: Outcome, measure: Measure) -> None:
    case.report(measure)


@pytest.mark.parametrize("kind", ["services", "embedded"])
def test_two_beats(kind: str, case: Outcome, measure: Measure) -> None:
    case.report(measure)


def test_two_runs_on_one_data_directory(case: Outcome, measure: Measure) -> None:
    case.report(measure)
