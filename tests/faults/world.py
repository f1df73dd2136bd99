"""What every fault case needs around the worker: a news site with N distinct stories, the
alert ledger (nothing lost, never two webhook-ids for one rule and story), the worker's
peak memory, and a look into the store."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from tests.e2e.harness import Backend, wait_until
from worker.loopback import SiteServer, WebhookReceiver

# Words for the generated articles: each article draws its own sentences from them, so no
# two articles share enough shingles to be grouped into one story.
_WORD_TEXT = (
    "river harbour council mayor village bridge convoy school clinic market railway station "
    "farmers drought flood harvest rainfall valley province border checkpoint governor court "
    "parliament minister budget tariff factory miners strike union teachers nurses hospital "
    "vaccine outbreak cholera measles camp shelter tents blankets water pumps generator fuel "
    "diesel prices bakery flour wheat maize cattle goats fishermen boats coast island storm "
    "cyclone landslide earthquake aftershock rubble rescuers volunteers drones satellite radio "
    "newspaper editor reporter curfew protest march police soldiers militia rebels commander "
    "negotiators envoy mediators talks treaty monitors observers corridor airport runway cargo "
    "aid trucks warehouse donors pledge embassy refugees returnees census election ballots "
    "polling results recount judges lawyers prison amnesty hostages prisoners exchange"
)
_WORDS = _WORD_TEXT.split()
_PLACE_TEXT = (
    "Arden Belmora Corvine Dastra Elmira Fenwick Galdor Hestia Ivora Jarrow Kessel Lorian "
    "Marrow Nadira Orvell Pellam Quill Rosma Sarth Tolvar Ulric Veyra Wendal Xara Yorick Zennor"
)
_PLACES = _PLACE_TEXT.split()


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    text: str


def make_stories(count: int, term: str = "ceasefire", seed: int = 7, first: int = 0) -> list[Story]:
    """``count`` articles, each mentioning ``term`` once, each about something else;
    numbered from ``first``, so sets made for one site never share a page."""
    rng = random.Random(seed)
    stories = []
    for number in range(first, first + count):
        place = f"{_PLACES[number % len(_PLACES)]} {number}"
        body = [
            " ".join(rng.sample(_WORDS, 14)).capitalize() + "." for _ in range(rng.randint(6, 9))
        ]
        body.insert(2, f"A {term} took hold in {place} on Tuesday, officials said.")
        stories.append(
            Story(
                slug=f"story-{number}",
                title=f"{place}: {' '.join(rng.sample(_WORDS, 5))}",
                text=" ".join(body),
            )
        )
    return stories


def write_site(
    root: Path, stories: list[Story], feed_name: str = "news.rss", pages: int = 1
) -> str:
    """An RSS feed listing ``stories`` (published minutes ago) and one page per story,
    its text repeated ``pages`` times (long pages keep a worker busy for a while);
    returns the feed's path on the site server."""
    now = datetime.now(UTC)
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    (root / "articles").mkdir(exist_ok=True)
    items = []
    for number, story in enumerate(stories):
        items.append(
            f"<item><title>{story.title}</title>"
            f"<link>{{{{base}}}}/articles/{story.slug}.html</link><guid>{story.slug}</guid>"
            f"<pubDate>{format_datetime(now - timedelta(minutes=number + 1))}</pubDate>"
            f"<description>{story.text[:200]}</description></item>"
        )
        paragraphs = "".join(f"<p>{part}.</p>" for part in story.text.split(". ")) * pages
        (root / "articles" / f"{story.slug}.html").write_text(
            f"<html><head><title>{story.title}</title></head><body><article>"
            f"<h1>{story.title}</h1>{paragraphs}</article></body></html>"
        )
    (root / "feeds" / feed_name).write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{feed_name}</title><link>{{{{base}}}}/</link>"
        + "".join(items)
        + "</channel></rss>"
    )
    return f"/feeds/{feed_name}"


@dataclass
class Ledger:
    """Every verified webhook a receiver got, by (rule, story)."""

    by_key: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    articles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    duplicates: int = 0

    @classmethod
    def of(cls, *receivers: WebhookReceiver) -> Ledger:
        ledger = cls()
        seen: set[str] = set()
        for receiver in receivers:
            for alert in list(receiver.verified):
                data = alert.payload["data"]
                rule = data["rule"]["name"]
                ledger.by_key[(rule, int(data["story"]["id"]))].add(alert.webhook_id)
                ledger.articles[rule].add(data["article"]["url"].rsplit("/", 1)[-1])
                if alert.webhook_id in seen:
                    ledger.duplicates += 1  # a redelivery, same webhook-id: allowed
                seen.add(alert.webhook_id)
        return ledger

    def problems(self, expected: dict[str, int]) -> list[str]:
        """What breaks the promise: a (rule, story) under two webhook-ids, an alert lost."""
        found = []
        for key, ids in sorted(self.by_key.items()):
            if len(ids) > 1:
                found.append(f"{key} alerted under {len(ids)} webhook-ids: {sorted(ids)}")
        for rule, count in expected.items():
            stories = {story for (name, story) in self.by_key if name == rule}
            if len(stories) != count:
                found.append(f"rule {rule!r}: {len(stories)} of {count} stories alerted")
        return found


def assert_promise(expected: dict[str, int], *receivers: WebhookReceiver, log: Path) -> Ledger:
    ledger = Ledger.of(*receivers)
    problems = ledger.problems(expected)
    rejected = [r for receiver in receivers for r in receiver.rejected]
    assert not problems and not rejected, (
        f"{problems} rejected={rejected}\nworker log:\n{tail(log)}"
    )
    return ledger


# Log lines of the every-second beat ticks: they would fill a failure's excerpt.
_TICK_NOISE = ("refresh_due_feeds", "relay_due_alerts", "celery.beat", "relay-due", "refresh-due")


def tail(log: Path, chars: int = 6000) -> str:
    """The end of a worker log without the tick noise, for a failure message."""
    if not log.exists():
        return "(no log)"
    lines = log.read_text(errors="replace").splitlines()
    kept = [line[:300] for line in lines if not any(n in line for n in _TICK_NOISE)]
    return "\n".join(kept)[-chars:]


def wait_for_alerts(receivers: list[WebhookReceiver], total: int, timeout: float) -> float | None:
    """Seconds until ``total`` distinct webhook-ids arrived, or None after ``timeout``."""
    started = time.monotonic()

    def arrived() -> bool:
        return len({a.webhook_id for r in receivers for a in list(r.verified)}) >= total

    if wait_until(arrived, timeout, interval=0.25):
        return time.monotonic() - started
    return None


# --- scenarios side by side -----------------------------------------------------------

T = TypeVar("T")


class Concurrent(Generic[T]):
    """Scenarios that share nothing (each its own backend and servers), all started at once,
    one thread each. Most of a fault case is waiting (a lease, a retry, a timeout, a worker
    starting), so two cases overlap for little more than the time of one. A test waits for
    the scenario it checks and gets its value, or the error (a failure, a skip) it raised."""

    def __init__(self, scenarios: dict[str, Callable[[], T]]) -> None:
        self._values: dict[str, T] = {}
        self._errors: dict[str, BaseException] = {}
        self._threads = {
            key: threading.Thread(target=self._run, args=(key, run), name=key, daemon=True)
            for key, run in scenarios.items()
        }
        for thread in self._threads.values():
            thread.start()

    def _run(self, key: str, run: Callable[[], T]) -> None:
        try:
            self._values[key] = run()
        except BaseException as exc:  # pytest's skip and fail too: raised again in the test
            self._errors[key] = exc

    def result(self, key: str, timeout: float = 900) -> T:
        thread = self._threads[key]
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"scenario {key} still running after {timeout:.0f} s")
        if key in self._errors:
            raise self._errors[key]
        return self._values[key]

    def join(self, timeout: float = 900) -> None:
        """Wait for every scenario: each stops its own processes and servers as it ends."""
        deadline = time.monotonic() + timeout
        for thread in self._threads.values():
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class Outcome:
    """What one case measured, and the error it stopped at (None: every assertion held)."""

    figures: list[tuple[str, str]] = field(default_factory=list)
    error: BaseException | None = None

    def note(self, name: str, value: str) -> None:
        self.figures.append((name, value))

    def report(self, measure: Callable[[str, str], None]) -> None:
        """In the test: the figures under its id, then its failure, if any."""
        for name, value in self.figures:
            measure(name, value)
        if self.error is not None:
            raise self.error


def attempt(case: Callable[[Outcome], None]) -> Outcome:
    """Run one case of a scenario: its failure is kept for its test, and the scenario goes
    on to the next case."""
    outcome = Outcome()
    try:
        case(outcome)
    except Exception as exc:  # an assertion, or the CLI failing: the test's to report
        outcome.error = exc
    return outcome


# --- the worker's memory --------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    """Every live process of the process group ``pgid`` (the worker and its children)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Largest resident set of any one process of the worker's group, in MiB: each
    process's own high-water mark (VmHWM), sampled every 0.2 s so a child that is killed
    and replaced still counts."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._read()

    def _read(self) -> None:
        for pid in group_pids(self.pgid):
            self.peak_kib = max(self.peak_kib, _status_kib(pid, "VmHWM"))

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._read()

    @property
    def peak_mib(self) -> float:
        self._read()
        return self.peak_kib / 1024


# --- the store, read as the CLI shows it ---------------------------------------------


def feeds(b: Backend) -> dict[str, dict[str, Any]]:
    rows = [json.loads(x) for x in b.cli("feeds", "list", "--json").stdout.splitlines()]
    return {row["name"]: row for row in rows}


def alerts(b: Backend) -> list[dict[str, Any]]:
    out = b.cli("alerts", "list", "--json", "--limit", "100000").stdout
    return [json.loads(x) for x in out.splitlines()]


def store_rows(b: Backend, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the worker's store (SQLite or PostgreSQL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    url = b.env.get("NEWSWATCH_DATABASE_URL") or f"sqlite:///{b.data_dir / 'newswatch.db'}"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


# --- a newsroom: site, receiver, rule and feed ------------------------------------------

FAULT_ENV = {
    # Short leases so lost work is found again within a test's time; the README's
    # Reliability table states the recovery times measured with these.
    "NEWSWATCH_CLAIM_LEASE": "30",
    "NEWSWATCH_RELAY_LEASE": "10",
    "NEWSWATCH_WEBHOOK_TIMEOUT": "3",
    "NEWSWATCH_HTTP_TOTAL_TIMEOUT": "10",
    "NEWSWATCH_HTTP_READ_TIMEOUT": "5",
    "NEWSWATCH_TASK_SOFT_TIME_LIMIT": "40",
    "NEWSWATCH_TASK_TIME_LIMIT": "50",
}


@dataclass
class Newsroom:
    site: SiteServer
    receiver: WebhookReceiver
    stories: list[Story]
    rule: str = "ceasefire"

    @property
    def expected(self) -> dict[str, int]:
        return {self.rule: len(self.stories)}

    def feed_url(self, name: str = "news.rss") -> str:
        return f"{self.site.base_url}/feeds/{name}"


@contextmanager
def newsroom(
    b: Backend,
    root: Path,
    count: int,
    script: list[tuple[int, dict[str, str]]] | None = None,
    pages: int = 1,
) -> Iterator[Newsroom]:
    """A loopback site with ``count`` stories in one feed, a receiver, the rule and the
    feed saved through the CLI (the feed added with --backfill so every story alerts)."""
    from pipeline.stages.alert import generate_secret

    b.env.update(FAULT_ENV)
    stories = make_stories(count)
    write_site(root, stories, pages=pages)
    secret = generate_secret()
    site = SiteServer(root).start()
    receiver = WebhookReceiver(secret, script=script or []).start()
    try:
        room = Newsroom(site, receiver, stories)
        b.cli("db", "upgrade")
        b.cli("rules", "add", room.rule, room.rule, "--webhook", receiver.url, "--secret", secret)
        yield room
    finally:
        site.stop()
        receiver.stop()


def add_feed(b: Backend, url: str, name: str) -> None:
    b.cli("feeds", "add", url, "--name", name, "--backfill", "--no-check")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if len(fields) > 12 else 0


def busy_pool_child(pgid: int, window: float = 0.3) -> int | None:
    """A prefork pool process that is using the CPU right now, i.e. running a task; None if
    none is. `newswatch run` (the group leader) starts one process per worker, and a prefork
    worker forks its pool: the pool processes are the leader's grandchildren."""
    group = set(group_pids(pgid))
    children = []
    for pid in group:
        fields = _stat(pid)
        parent = int(fields[1]) if len(fields) > 1 else 0
        if parent in group and parent != pgid and b"redis" not in _cmdline(pid):
            children.append(pid)
    before = {pid: _cpu_ticks(pid) for pid in children}
    time.sleep(window)
    busy = [(_cpu_ticks(pid) - ticks, pid) for pid, ticks in before.items()]
    busy = [(delta, pid) for delta, pid in busy if delta > 0]
    return max(busy)[1] if busy else None
