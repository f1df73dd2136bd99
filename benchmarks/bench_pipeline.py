"""The whole pipeline under a burst, through the shipped process layout, beside trafilatura.

A loopback site serves ``--feeds`` RSS feeds (each on its own loopback address, so per-host
politeness is exercised the way many publishers would) listing ``--pages`` distinct article
pages: the 181 article-extraction-benchmark pages, each copy edited (a paragraph of its own
and its own headline) so that it is a distinct article. ``--rules`` alert rules (rare words
of the corpus, each POSTing to a loopback receiver) and the feeds are given to newswatch as
its rules and feeds files. The layout is started as real processes: one ``newswatch worker
--queues …`` per worker of the shipped layout (read from worker.layout when it exists, or
``--layout``) and one ``newswatch beat``.

While the burst runs, ``--trickle-feeds`` other feeds (polled every 30 s, staggered) publish a
single new article about every ``--trickle-every`` seconds: a feed gains the entry when it is
polled, so the poll time is known exactly, and a rule matches only those articles. The
latency of each is poll → its webhook received.

Printed, per backend (Redis + PostgreSQL on Redis db 2 and a dedicated database dropped
afterwards; and the embedded defaults):
- articles/s: burst articles stored ÷ (last one stored - first feed poll);
- trafilatura alone: pages/s of ``trafilatura.extract`` on the same cores (one process per
  core), measured in the same run just before the burst; and the ratio of the two
  (targets: ≥ 0.4 on Redis + PostgreSQL, ≥ 0.35 embedded);
- poll → webhook p50/p99 of the trickle (target p99 ≤ 2 s);
- peak RSS and CPU seconds per process, and each worker's RSS at the middle and the end of
  the burst (memory flat).

    .venv/bin/python -m benchmarks.bench_pipeline [--backend redis-pg|embedded|both]
        [--pages 2000] [--feeds 50] [--rules 1000] [--timeout 1200]

Everything listens and connects on loopback only; every wait is bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.eval_clean import CORPUS, Page, load_pages

REPO_ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("NEWSWATCH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TRICKLE_TERM = "quokkaflight"
TRICKLE_INTERVAL = 30  # the shortest poll interval a feed may have
_WORD = re.compile(r"[A-Za-z]{7,}")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_FIRST_P = re.compile(r"<p[\s>]", re.IGNORECASE)


# --- the loopback site -----------------------------------------------------------------


@dataclass
class Item:
    title: str
    link: str
    published: datetime
    summary: str


@dataclass
class Site:
    """Feeds and pages by (host, path); the trickle feeds gain an entry when polled."""

    port: int = 0
    routes: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    feed_items: dict[tuple[str, str], list[Item]] = field(default_factory=dict)
    trickle_feeds: dict[tuple[str, str], int] = field(default_factory=dict)
    trickle_texts: list[str] = field(default_factory=list)
    trickle_every: float = 3.0
    trickle_on: bool = False
    trickle_last: float = 0.0
    trickle_polls: dict[str, float] = field(default_factory=dict)  # page URL -> poll time
    first_poll: float | None = None
    staggered: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, host: str, path: str) -> tuple[int, bytes, dict[str, str]]:
        key = (host, path)
        now = time.time()
        with self.lock:
            if key in self.feed_items and key not in self.trickle_feeds:
                self.first_poll = self.first_poll or now
            if key in self.trickle_feeds:
                stagger = self._stagger(key)
                if stagger:
                    return 503, b"later", {"Retry-After": str(stagger)}
                if self.trickle_on:
                    self._maybe_publish(key, now)
            items = self.feed_items.get(key)
            if items is not None:
                shown = items[-20:] if key in self.trickle_feeds else items
                return 200, rss(f"feed {path}", shown), {"Content-Type": "application/rss+xml"}
            found = self.routes.get(key)
        if found is None:
            return 404, b"not found", {"Content-Type": "text/plain"}
        return 200, found[0], {"Content-Type": found[1]}

    def _stagger(self, key: tuple[str, str]) -> int:
        """Seconds trickle feed t asks its first poll to wait: all are due at once at the
        start, and staggering them spreads the trickle over the 30 s poll interval."""
        if key in self.staggered:
            return 0
        self.staggered.add(key)
        t = self.trickle_feeds[key]
        return round(t * TRICKLE_INTERVAL / max(1, len(self.trickle_feeds)))

    def _maybe_publish(self, key: tuple[str, str], now: float) -> None:
        if now - self.trickle_last < self.trickle_every:
            return
        n = len(self.trickle_polls)
        if n >= len(self.trickle_texts):
            return
        host = key[0]
        path = f"/trickle/{n}.html"
        link = self.url(host, path)
        title = f"Quokka flight report {n}"
        html = article_html(title, self.trickle_texts[n])
        self.routes[(host, path)] = (html.encode(), "text/html; charset=utf-8")
        summary = self.trickle_texts[n][:200]
        self.feed_items[key].append(Item(title, link, datetime.now(UTC), summary))
        self.trickle_polls[link] = now
        self.trickle_last = now


def rss(title: str, items: Sequence[Item]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid>{escape(i.link)}</guid><pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{escape(i.summary)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>bench</description>{entries}</channel></rss>"
    ).encode()


def article_html(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n") if p.strip())
    return (
        f"<!doctype html><html lang='en'><head><title>{escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
        f"<h1>{escape(title)}</h1>{paragraphs}</article><footer>© bench</footer></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        host = self.server.server_address[0]  # type: ignore[index]
        status, body, headers = self.site.answer(str(host), self.path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return


@dataclass
class Receiver:
    """Webhook receiver: the time each trickle article's alert arrived, and a count."""

    received: dict[str, float] = field(default_factory=dict)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        now = time.time()
        try:
            url = json.loads(body)["data"]["article"]["url"]
        except (ValueError, KeyError, TypeError):
            url = ""
        with self.lock:
            self.count += 1
            if "/trickle/" in url:
                self.received.setdefault(url, now)


class _ReceiverHandler(BaseHTTPRequestHandler):
    receiver: Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.receiver.record(body)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], host: str, port: int) -> Iterator[int]:
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.daemon = True
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# --- the workload ----------------------------------------------------------------------


def distinct_articles(pages: Sequence[Page], count: int) -> list[tuple[str, str]]:
    """(title, html) of ``count`` distinct articles: copy k of a page gets its own headline
    and a paragraph of its own (copy 0 is the page as it is)."""
    rng = random.Random(11)
    vocabulary = sorted({w.lower() for p in pages for w in _WORD.findall(p.gold)})
    out = []
    for i in range(count):
        page = pages[i % len(pages)]
        copy = i // len(pages)
        found = _TITLE.search(page.html)
        title = " ".join(found.group(1).split())[:150] if found else f"Article {i}"
        html = page.html
        if copy:
            title = f"{title} (update {copy})"
            words = " ".join(rng.choice(vocabulary) for _ in range(24))
            para = f"<p>Update {copy}: officials added on the record that {words}.</p>"
            hit = _FIRST_P.search(html)
            at = hit.start() if hit else len(html)
            html = html[:at] + para + html[at:]
        out.append((title, html))
    return out


def trickle_texts(pages: Sequence[Page], count: int) -> list[str]:
    """Articles unlike each other and the burst (sentences drawn across the corpus), each
    mentioning the trickle rule's term, so each is a story of its own."""
    rng = random.Random(7)
    sentences = [s.strip() for p in pages for s in re.split(r"(?<=[.!?])\s+", p.gold)]
    sentences = [s for s in sentences if 40 < len(s) < 400]
    texts = []
    for n in range(count):
        chosen = rng.sample(sentences, 14)
        chosen.insert(3, f"Witnesses described a {TRICKLE_TERM} over the harbour, report {n}.")
        texts.append("\n".join(chosen))
    return texts


def rule_queries(pages: Sequence[Page], count: int) -> list[str]:
    """A rule set's queries: a tenth are words found in one or two of the corpus's
    articles (each matches a story or two, about one alert per article overall), the rest
    are phrases of two such words that never meet (they cost the matcher, and never fire)."""
    frequency: Counter[str] = Counter()
    for page in pages:
        frequency.update({w.lower() for w in _WORD.findall(page.gold)})
    rare = sorted(w for w, n in frequency.items() if n <= 2 and w.isascii())
    rng = random.Random(5)
    rng.shuffle(rare)
    matching = rare[: max(1, count // 10)]
    queries = list(matching)
    while len(queries) < count:
        first, second = rng.sample(rare, 2)
        queries.append(f'"{first} {second}"')
    return queries[:count]


def yaml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML string


# --- processes and measurements ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(c) for c in text.split())
    return found


def _rss_and_cpu(pid: int) -> tuple[float, float] | None:
    """(RSS MiB, CPU seconds) of one process, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0
    )
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss / 1024, (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Sampler:
    """Samples every process of the layout (and their children) once a second."""

    procs: list[Proc]
    peak: dict[str, float] = field(default_factory=dict)
    cpu: dict[tuple[str, int], float] = field(default_factory=dict)
    series: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        deadline = time.monotonic() + 24 * 3600
        while not self.stop.wait(1.0) and time.monotonic() < deadline:
            self.sample()

    def sample(self) -> None:
        totals: dict[str, float] = {}
        for proc in self.procs:
            stack = [(proc.popen.pid, proc.name)]
            seen = 0
            while stack and seen < 200:
                pid, name = stack.pop()
                seen += 1
                got = _rss_and_cpu(pid)
                if got is None:
                    continue
                rss, cpu = got
                self.peak[name] = max(self.peak.get(name, 0.0), rss)
                self.cpu[(name, pid)] = cpu
                totals[proc.name] = totals.get(proc.name, 0.0) + rss
                child_name = f"{proc.name} child" if name == proc.name else name
                stack.extend((child, child_name) for child in _children(pid))
        self.series.append((time.time(), totals))

    def rss_at(self, moment: float) -> dict[str, float]:
        best = min(self.series, key=lambda s: abs(s[0] - moment), default=(0.0, {}))
        return best[1]

    def cpu_by_name(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, _), seconds in self.cpu.items():
            out[name] = out.get(name, 0.0) + seconds
        return out


def start(name: str, args: Sequence[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *args],
            env=env,
            cwd=env["NEWSWATCH_DATA_DIR"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log)


def stop_all(procs: Sequence[Proc]) -> None:
    for proc in reversed(procs):
        with suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=10)


def wait_ready(procs: Sequence[Proc], timeout: float) -> None:
    """Until each worker logged Celery's "ready." (after its warm-up), or a clear failure."""
    deadline = time.monotonic() + timeout
    waiting = list(procs)
    while waiting and time.monotonic() < deadline:
        for proc in list(waiting):
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-1500:]
                raise SystemExit(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")
            if " ready." in proc.log.read_text(errors="replace"):
                waiting.remove(proc)
        time.sleep(0.5)
    if waiting:
        raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(p.name for p in waiting)}")


def layout(override: str | None) -> list[tuple[str, list[str]]]:
    """(name, worker arguments) of each worker process of the shipped layout."""
    if override:
        groups = [g.strip() for g in override.split(";") if g.strip()]
        return [(g.replace(",", "-"), [f"--queues={g}"]) for g in groups]
    try:
        from pipeline.settings import Settings
        from worker.layout import run_layout
    except ImportError:  # the two-queue layout
        return [("fetch", ["--queues=fetch"]), ("extract", ["--queues=extract"])]
    return [
        (
            spec.name,
            [
                f"--queues={','.join(q.value for q in spec.queues)}",
                f"--concurrency={spec.concurrency}",
                f"--name={spec.name}",
            ],
        )
        for spec in run_layout(Settings())
    ]


def _baseline_page(html: str) -> int:
    import trafilatura

    return len(trafilatura.extract(html, include_comments=False) or "")


def trafilatura_alone(pages: Sequence[Page], count: int, cores: int) -> float:
    """Pages/s of trafilatura.extract alone, one process per core (after one warm page)."""
    import multiprocessing

    htmls = [pages[i % len(pages)].html for i in range(count)]
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(_baseline_page, [pages[0].html] * cores))
        started = time.perf_counter()
        list(pool.map(_baseline_page, htmls, chunksize=4))
        return count / (time.perf_counter() - started)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


# --- backends ------------------------------------------------------------------------------


@contextmanager
def redis_pg_env() -> Iterator[dict[str, str]]:
    import psycopg
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    client.ping()
    client.flushdb()  # this benchmark's own db number only
    name = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield {"NEWSWATCH_BROKER_URL": REDIS_URL, "NEWSWATCH_DATABASE_URL": f"{base}/{name}"}
    finally:
        client.flushdb()
        from pipeline.io.store import dispose_all

        dispose_all()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Result:
    backend: str
    articles: int = 0
    fallback: int = 0
    seconds: float = 0.0
    baseline: float = 0.0
    latencies: list[float] = field(default_factory=list)
    trickle_published: int = 0
    webhooks: int = 0
    peak: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mid: dict[str, float] = field(default_factory=dict)
    rss_end: dict[str, float] = field(default_factory=dict)
    complete: bool = False
    baselines: tuple[float, float] = (0.0, 0.0)
    # The slowest trickle articles: seconds into the burst, then when polled, stored,
    # processed, alerted and received.
    slowest: list[list[float | None]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0


def burst_state(store_url: str) -> tuple[int, int, float | None]:
    """(burst articles processed, of which fallbacks, last processed_at as epoch seconds)."""
    from sqlalchemy import text

    from pipeline.io.store import get_engine

    query = text(
        "SELECT count(*), sum(CASE WHEN fetch_status = 'fallback' THEN 1 ELSE 0 END), "
        "max(processed_at) FROM articles "
        "WHERE processed_at IS NOT NULL AND canonical_url LIKE '%/page/%'"
    )
    with get_engine(store_url).connect() as conn:
        row: tuple[Any, Any, Any] = tuple(conn.execute(query).one())  # type: ignore[assignment]
    count, fallback, value = row
    last: datetime | None = datetime.fromisoformat(value) if isinstance(value, str) else value
    if last is not None and last.tzinfo is None:  # SQLite hands back naive UTC text
        last = last.replace(tzinfo=UTC)
    return int(count or 0), int(fallback or 0), last.timestamp() if last else None


def _epoch(value: Any) -> float | None:
    moment: datetime | None = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC text
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() if moment else None


def trickle_stages(store_url: str, urls: Sequence[str]) -> dict[str, list[float | None]]:
    """Per trickle article, when its poll stored it, it was processed and its alert was
    created (epoch seconds): where a slow one spent its time. (The page's capture time is
    kept to the second only, too coarse to show here.)"""
    from sqlalchemy import bindparam, text

    from pipeline.io.store import get_engine

    query = text(
        "SELECT a.canonical_url, a.created_at, a.processed_at, min(l.created_at) "
        "FROM articles a LEFT JOIN alerts l ON l.article_id = a.id "
        "WHERE a.canonical_url IN :urls GROUP BY a.canonical_url, a.created_at, a.processed_at"
    ).bindparams(bindparam("urls", expanding=True))
    with get_engine(store_url).connect() as conn:
        rows = conn.execute(query, {"urls": list(urls)}).all() if urls else []
    return {str(row[0]): [_epoch(value) for value in row[1:]] for row in rows}


def run_backend(backend: str, args: argparse.Namespace, pages: Sequence[Page]) -> Result:
    result = Result(backend)
    articles = distinct_articles(pages, args.pages)
    texts = trickle_texts(pages, 400)
    site = Site(trickle_texts=texts, trickle_every=args.trickle_every)
    receiver = Receiver()
    _Handler.site = site
    _ReceiverHandler.receiver = receiver
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nw-bench-")))
        data_dir, logs = tmp / "data", tmp / "logs"
        data_dir.mkdir()
        logs.mkdir()
        extra = stack.enter_context(redis_pg_env()) if backend == "redis-pg" else {}
        hook_port = stack.enter_context(serving(_ReceiverHandler, "127.0.0.1", 0))
        # One listener per publisher (a loopback address each), all on one port number.
        site.port = stack.enter_context(serving(_Handler, "127.0.1.1", 0))
        hosts = [f"127.0.1.{j + 1}" for j in range(args.feeds)]
        trickle_hosts = [f"127.0.2.{t + 1}" for t in range(args.trickle_feeds)]
        for host in hosts[1:] + trickle_hosts:
            stack.enter_context(serving(_Handler, host, site.port))
        now = datetime.now(UTC)
        for i, (title, html) in enumerate(articles):
            host = hosts[i % args.feeds]
            path = f"/page/{i}.html"
            site.routes[(host, path)] = (html.encode(), "text/html; charset=utf-8")
            item = Item(title, site.url(host, path), now, pages[i % len(pages)].gold[:200])
            site.feed_items.setdefault((host, "/feed.xml"), []).append(item)
        for t, host in enumerate(trickle_hosts):
            site.feed_items[(host, "/trickle.xml")] = []
            site.trickle_feeds[(host, "/trickle.xml")] = t
        hook = f"http://127.0.0.1:{hook_port}/hook"
        feeds_file, rules_file = data_dir / "feeds.yaml", data_dir / "rules.yaml"
        feeds_file.write_text(
            "feeds:\n"
            + "".join(
                f"  - url: {site.url(h, '/feed.xml')}\n    name: burst {j}\n    interval: 3600\n"
                for j, h in enumerate(hosts)
            )
            + "".join(
                f"  - url: {site.url(h, '/trickle.xml')}\n    name: trickle {t}\n"
                f"    interval: {TRICKLE_INTERVAL}\n"
                for t, h in enumerate(trickle_hosts)
            )
        )
        rules_file.write_text(
            "rules:\n"
            + f"  - name: trickle\n    query: {TRICKLE_TERM}\n    webhook: {hook}\n"
            + "".join(
                f"  - name: r{n:05d}\n    query: {yaml_string(word)}\n    webhook: {hook}\n"
                for n, word in enumerate(rule_queries(pages, args.rules - 1))
            )
        )
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        env.update(
            {
                "NEWSWATCH_DATA_DIR": str(data_dir),
                "NEWSWATCH_HTTP_ALLOW_HOSTS": "127.0.0.0/8",
                "NEWSWATCH_FEEDS_FILE": str(feeds_file),
                "NEWSWATCH_RULES_FILE": str(rules_file),
                "NEWSWATCH_WEBHOOK_SECRET": secret,
                "PYTHONPATH": str(REPO_ROOT),
                **extra,
            }
        )
        from pipeline.settings import Settings

        store_url = Settings(
            data_dir=data_dir, database_url=extra.get("NEWSWATCH_DATABASE_URL")
        ).store_url
        upgrade = subprocess.run(
            [sys.executable, "-m", "worker.cli", "db", "upgrade"],
            env=env,
            cwd=data_dir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if upgrade.returncode != 0:
            raise SystemExit(f"newswatch db upgrade failed: {upgrade.stderr[-1500:]}")
        # The rules exist before the workers start, as in production: the extract worker
        # compiles them in its warm-up. (Beat would sync the files too.)
        sync = subprocess.run(
            [sys.executable, "-m", "worker.cli", "config", "sync"],
            env=env,
            cwd=data_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if sync.returncode != 0:
            raise SystemExit(f"newswatch config sync failed: {sync.stderr[-1500:]}")

        cores = os.cpu_count() or 2
        before = trafilatura_alone(pages, args.baseline_pages, cores)
        print(f"[{backend}] trafilatura alone: {before:.1f} pages/s on {cores} cores")

        procs: list[Proc] = []
        stack.callback(stop_all, procs)
        for name, worker_args in layout(args.layout):
            procs.append(start(name, ["worker", *worker_args], env, logs))
        wait_ready(procs, min(args.timeout, 300))
        sampler = Sampler(procs)
        threading.Thread(target=sampler.run, daemon=True).start()
        stack.callback(sampler.stop.set)
        procs.append(start("beat", ["beat"], env, logs))
        site.trickle_on = True
        print(f"[{backend}] layout up: {', '.join(p.name for p in procs)}; burst started")

        deadline = time.monotonic() + args.timeout
        last_report = 0.0
        count = 0
        mid_taken = False
        while time.monotonic() < deadline:
            time.sleep(1.0)
            for proc in procs:
                if proc.popen.poll() is not None:
                    tail = proc.log.read_text(errors="replace")[-1500:]
                    raise SystemExit(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")
            count, fallback, _ = burst_state(store_url)
            if not mid_taken and count >= args.pages // 2:
                result.rss_mid = sampler.rss_at(time.time())
                mid_taken = True
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                print(f"[{backend}]   {count}/{args.pages} stored, {receiver.count} webhooks")
            if count >= args.pages:
                result.complete = True
                break
        site.trickle_on = False
        result.rss_end = sampler.rss_at(time.time())
        # The last trickle articles still get their chance to arrive.
        settle = time.monotonic() + 20
        while time.monotonic() < settle and len(receiver.received) < len(site.trickle_polls):
            time.sleep(0.5)
        sampler.stop.set()
        count, fallback, last = burst_state(store_url)
        result.articles, result.fallback = count, fallback
        if site.first_poll is not None and last is not None:
            result.seconds = max(last - site.first_poll, 1e-9)
        result.latencies = [
            receiver.received[url] - polled
            for url, polled in site.trickle_polls.items()
            if url in receiver.received
        ]
        result.trickle_published = len(site.trickle_polls)
        slowest = sorted(
            (receiver.received[url] - polled, url, polled)
            for url, polled in site.trickle_polls.items()
            if url in receiver.received
        )[-2:]
        stages = trickle_stages(store_url, [url for _, url, _ in slowest])
        for _, url, polled in slowest:
            into = polled - (site.first_poll or polled)
            moments = [into, polled, *stages.get(url, [None] * 3), receiver.received[url]]
            result.slowest.append(moments)
        result.webhooks = receiver.count
        result.peak = dict(sampler.peak)
        result.cpu = sampler.cpu_by_name()
        stop_all(procs)
        # Measured again once the layout has stopped: on a shared machine the load drifts,
        # and the mean of the two brackets the burst.
        after = trafilatura_alone(pages, args.baseline_pages, cores)
        result.baseline = (before + after) / 2
        result.baselines = (before, after)
        if args.keep_logs:
            kept = Path(args.keep_logs) / backend
            kept.mkdir(parents=True, exist_ok=True)
            for proc in procs:
                kept.joinpath(proc.log.name).write_bytes(proc.log.read_bytes())
    return result


def report(result: Result, target: float) -> None:
    name = result.backend
    ratio = result.rate / result.baseline if result.baseline else 0.0
    done = "" if result.complete else " (INCOMPLETE: timed out)"
    print(f"\n== {name}{done}")
    print(
        f"articles/s            {result.rate:8.2f}   ({result.articles} burst articles in "
        f"{result.seconds:.1f} s, {result.fallback} on the feed's text)"
    )
    print(
        f"trafilatura alone     {result.baseline:8.2f}   pages/s, same cores, same run "
        f"(before {result.baselines[0]:.1f}, after {result.baselines[1]:.1f})"
    )
    print(f"ratio                 {ratio:8.3f}   (target >= {target})")
    if result.latencies:
        print(
            f"poll -> webhook       p50 {percentile(result.latencies, 0.5):.2f} s, "
            f"p99 {percentile(result.latencies, 0.99):.2f} s, max {max(result.latencies):.2f} s "
            f"({len(result.latencies)} of {result.trickle_published} trickle articles; "
            "target p99 <= 2 s)"
        )
    else:
        print(f"poll -> webhook       none received ({result.trickle_published} published)")
    names = ("stored", "processed", "alert", "webhook")
    for into, *moments in reversed(result.slowest):
        steps, last = [], moments[0]
        for name, moment in zip(names, moments[1:], strict=True):
            if moment is not None and last is not None:
                steps.append(f"{name} +{moment - last:.2f}")
                last = moment
        print(f"  a slow one, polled {into or 0:.0f} s into the burst: {', '.join(steps)} s")
    print(f"webhooks received     {result.webhooks}")
    extract_cpu = sum(cpu for name, cpu in result.cpu.items() if name.startswith("extract"))
    if result.articles and extract_cpu:
        print(
            f"extract worker CPU    {1000 * extract_cpu / result.articles:8.1f}   ms per article "
            "(its parent's warm-up included)"
        )
    print("process                     peak RSS MiB   CPU s   RSS mid -> end (MiB, with children)")
    for proc in sorted(result.peak):
        cpu = result.cpu.get(proc, 0.0)
        flat = ""
        if proc in result.rss_end:
            flat = f"{result.rss_mid.get(proc, 0.0):8.0f} -> {result.rss_end[proc]:.0f}"
        print(f"{proc:28}{result.peak[proc]:12.0f}{cpu:9.1f}   {flat}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["redis-pg", "embedded", "both"], default="both")
    parser.add_argument("--pages", type=int, default=2000, help="Burst articles.")
    parser.add_argument("--feeds", type=int, default=50, help="Burst feeds (<= 250).")
    parser.add_argument("--rules", type=int, default=1000, help="Alert rules (>= 1).")
    parser.add_argument("--trickle-feeds", type=int, default=10)
    parser.add_argument("--trickle-every", type=float, default=3.0, help="Seconds.")
    parser.add_argument("--baseline-pages", type=int, default=362)
    parser.add_argument("--timeout", type=float, default=1200, help="Seconds per backend.")
    parser.add_argument("--keep-logs", help="Directory to copy each process's log into.")
    parser.add_argument(
        "--layout", help='Worker queues per process, e.g. "tick,deliver;poll,fetch;extract".'
    )
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: the benchmark corpus is needed", file=sys.stderr)
        return 2
    if not 1 <= args.feeds <= 250 or args.rules < 1 or args.pages < 1:
        print("--feeds must be 1..250, --rules and --pages at least 1", file=sys.stderr)
        return 2
    pages = load_pages()
    backends = ["redis-pg", "embedded"] if args.backend == "both" else [args.backend]
    print(
        f"burst: {args.pages} pages over {args.feeds} feeds, {args.rules} rules; trickle: one "
        f"article per ~{args.trickle_every:g} s over {args.trickle_feeds} feeds"
    )
    results = []
    for backend in backends:
        results.append(run_backend(backend, args, pages))
        report(results[-1], 0.4 if backend == "redis-pg" else 0.35)
    return 0 if all(r.complete for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
