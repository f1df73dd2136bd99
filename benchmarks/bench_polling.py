"""Polling at scale: 10,000 feeds at a 60 s interval over 500 loopback hosts, through the
shipped worker layout, against the raw GET rate of the same server in the same run.

One server process listens on ``--hosts`` loopback addresses (127.1.x.y, one port) and
serves ``--feeds`` feeds, ``feeds/hosts`` per host, each host with the same mix: of every
ten feeds eight answer 304 to a conditional GET (200 with an ETag the first time), one
answers after 2 s, one answers 500. It counts the requests in flight per host. The feeds
are scheduled evenly over the first interval, as feeds added over time would be, and the
worker processes are the README's layout (the rows of "How it runs" that start a
`newswatch worker` or `newswatch beat`, read when the benchmark starts).

Prints, per backend (Redis + PostgreSQL, then the embedded defaults): sustained polls/s
against the demand (feeds / interval), p50/p99/max lateness of a due feed (request start
minus the time it was due: its first slot, then its previous answer + interval, so the
schedule's 0-5 % jitter counts as lateness; a due feed not polled by the end counts with
the time it has waited), the most requests in flight at once on any host against the
per-host limit, feeds deferred because their host was busy, the claim ticks (seconds,
milliseconds per claimed and enqueued feed), and each process's peak RSS and CPU per poll
while measured (on shared cores, a worker that uses little CPU and still falls behind waits
on something other than the CPU). The baseline:
a plain threaded httpx client GETting the same server's 304 feeds for a few seconds
before the workers start (1, 4 and 16 threads; the best counts); the ratio is sustained
polls/s over that rate.

    .venv/bin/python -m benchmarks.bench_polling [--feeds 10000 --hosts 500 --duration 180]
        [--backend services|embedded|both]

The Redis + PostgreSQL run uses NEWSWATCH_TEST_REDIS_URL (default db 3, flushed before and
after) and a throw-away database on NEWSWATCH_TEST_POSTGRES_URL's server.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("NEWSWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SLOW_SECONDS = 2.0
FEED_XML = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
    b"<link>http://bench.invalid/</link><description>no items</description></channel></rss>"
)


def host_address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


def first_due(n: int, feeds: int, hosts: int, interval: int) -> float:
    """Seconds after the start when feed n is first due: all feeds spread evenly over one
    interval, and the feeds of one host (n // per_host) spread evenly among them, as feeds
    added over time would be."""
    per_host = max(1, feeds // hosts)
    rank = (n % per_host) * hosts + n // per_host
    return rank * interval / feeds


def feed_kind(n: int) -> str:
    return {0: "slow", 1: "error"}.get(n % 10, "ok")


# --- the loopback server (its own process) -------------------------------------------


@dataclass
class SiteState:
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    most: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # (feed number, start, end) of every answered request, wall-clock seconds
    requests: list[tuple[int, float, float]] = field(default_factory=list)


async def _handle(
    state: SiteState, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                return
            start = time.time()
            state.in_flight[host] += 1
            state.most[host] = max(state.most[host], state.in_flight[host])
            try:
                path = head.split(b" ", 2)[1]
                match = re.search(rb"/(\d+)\.xml$", path)
                n = int(match.group(1)) if match else -1
                kind = feed_kind(n) if n >= 0 else "error"
                if kind == "slow":
                    await asyncio.sleep(SLOW_SECONDS)
                if kind == "error":
                    status, extra, body = b"500 Internal Server Error", b"", b"error"
                elif b"if-none-match" in head.lower():
                    status, extra, body = b"304 Not Modified", b'ETag: "v1"\r\n', b""
                else:
                    status = b"200 OK"
                    extra = b'ETag: "v1"\r\nContent-Type: application/rss+xml\r\n'
                    body = FEED_XML
                writer.write(
                    b"HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n%s"
                    % (status, extra, len(body), body)
                )
                await writer.drain()
            finally:
                state.in_flight[host] -= 1
            state.requests.append((n, start, time.time()))
    finally:
        writer.close()


async def _serve(hosts: int, conn: Connection) -> None:
    state = SiteState()
    servers = []
    port = 0
    for index in range(hosts):
        host = host_address(index)
        server = await asyncio.start_server(
            functools.partial(_handle, state, host), host, port, backlog=512
        )
        port = server.sockets[0].getsockname()[1]
        servers.append(server)
    conn.send(port)
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "stats":
            conn.send({"most": dict(state.most), "requests": list(state.requests)})
        else:
            break
    for server in servers:
        server.close()


def serve(hosts: int, conn: Connection) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_serve(hosts, conn))


# --- the worker layout -------------------------------------------------------------------

_LAYOUT_ROW = re.compile(r"^\|\s*[^|]*\|\s*`newswatch ((?:worker|beat)[^`]*)`")


def readme_layout() -> list[list[str]]:
    """The processes of README's "How it runs" table, as newswatch argument lists."""
    return [
        shlex.split(m.group(1))
        for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
        if (m := _LAYOUT_ROW.match(line))
    ]


def polling_queues() -> set[str]:
    """The queues the claim tick and the feed poll are routed to."""
    try:
        from worker.layout import TASK_QUEUES

        routes = {task: str(queue) for task, queue in TASK_QUEUES.items()}
    except ImportError:
        from worker.celery_app import TASK_ROUTES

        routes = {task: route["queue"] for task, route in TASK_ROUTES.items()}
    return {routes["newswatch.refresh_due_feeds"], routes["newswatch.refresh_feed"]}


def checked_layout(layout: list[list[str]]) -> list[list[str]]:
    """The layout, plus a worker for any polling queue nobody consumes (said out loud)."""
    consumed: set[str] = set()
    for args in layout:
        if args[0] != "worker":
            continue
        if "--queues" in args:
            consumed |= set(args[args.index("--queues") + 1].split(","))
        else:
            consumed |= polling_queues()  # a worker without --queues takes them all
    missing = polling_queues() - consumed
    if missing:
        print(f"note: the README layout consumes no {sorted(missing)}; adding a worker for them")
        layout = [*layout, ["worker", "--queues", ",".join(sorted(missing))]]
    if not any(args[0] == "beat" for args in layout):
        layout = [*layout, ["beat"]]
    return layout


# --- processes, memory ---------------------------------------------------------------------


@dataclass
class Proc:
    label: str
    popen: subprocess.Popen[bytes]
    log: Path
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> KiB
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds (user + system)

    def pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError, IndexError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[2]) == self.popen.pid:  # process group
                        found.append(int(entry.name))
        return found

    def sample(self, key: str = "VmRSS") -> None:
        for pid in self.pids():
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12])  # utime + stime
                self.cpu[pid] = ticks / os.sysconf("SC_CLK_TCK")
            with suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(key + ":"):
                        kib = int(line.split()[1])
                        self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), kib)


def start(label: str, args: list[str], env: dict[str, str], log: Path) -> Proc:
    handle = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *args],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=log.parent,
    )
    return Proc(label, popen, log)


def stop(proc: Proc) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGTERM)
    try:
        proc.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait()
    with suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)


def cli(env: dict[str, str], cwd: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], env=env, cwd=cwd, check=True, timeout=300
    )


# --- backends -----------------------------------------------------------------------------


@contextmanager
def services_env() -> Iterator[dict[str, str]]:
    import psycopg
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    name = f"bench_polling_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield {"NEWSWATCH_BROKER_URL": REDIS_URL, "NEWSWATCH_DATABASE_URL": f"{base}/{name}"}
    finally:
        from pipeline.io.store import dispose_all

        dispose_all()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client.flushdb()


def add_feeds(store_url: str, urls: list[str], interval: int) -> None:
    from pipeline.io.store import Feed, session_scope

    never = datetime.now(UTC) + timedelta(days=365)
    with session_scope(store_url) as session:
        session.add_all(
            Feed(url=url, name=f"bench {n}", interval_seconds=interval, next_poll_at=never)
            for n, url in enumerate(urls)
        )


def schedule_feeds(store_url: str, start: float, interval: int, count: int, hosts: int) -> None:
    """Feed n falls due at start + first_due(n) (ids follow n on a fresh store)."""
    from sqlalchemy import bindparam, update

    from pipeline.io.store import Feed, session_scope

    rows = [
        {
            "fid": n + 1,
            "due": datetime.fromtimestamp(start + first_due(n, count, hosts, interval), UTC),
        }
        for n in range(count)
    ]
    with session_scope(store_url) as session:
        session.connection().execute(
            update(Feed)
            .where(Feed.id == bindparam("fid"))  # type: ignore[arg-type]
            .values(next_poll_at=bindparam("due")),
            rows,
        )


def claim_cost(settings: Any, count: int) -> tuple[float, float | None]:
    """Milliseconds per feed of claiming every feed at once (the tick's store work, no
    enqueue), and per message of enqueueing a poll on the broker with one producer (Redis
    + PostgreSQL only: the embedded broker belongs to the processes that start it)."""
    from sqlalchemy import update

    from pipeline.io.store import Feed, session_scope
    from pipeline.runtime import Runtime
    from pipeline.services import polling

    with session_scope(settings.store_url) as session:
        session.execute(update(Feed).values(next_poll_at=datetime.now(UTC)))
    started = time.perf_counter()
    claimed = polling.refresh_due_feeds(Runtime(settings)).feed_ids
    claim_ms = 1000 * (time.perf_counter() - started) / max(len(claimed), 1)
    if settings.broker_url is None:
        return claim_ms, None
    from worker.celery_app import create_app

    app = create_app(settings)
    probe = f"bench-polling-probe-{uuid.uuid4().hex[:6]}"
    sends = min(count, 2000)
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for n in range(sends):
            app.send_task("newswatch.refresh_feed", (n,), queue=probe, producer=producer)
    enqueue_ms = 1000 * (time.perf_counter() - started) / sends
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(probe)
    return claim_ms, enqueue_ms


def baseline_rate(urls: list[str], seconds: float, threads: int) -> float:
    """GETs per second of a plain threaded httpx client on the 304 feeds (the clients are
    built before the clock starts: building one loads the CA bundle)."""
    import httpx

    clients = [
        httpx.Client(headers={"If-None-Match": '"v1"'}, trust_env=False) for _ in range(threads)
    ]
    done = [0] * threads
    stop_at = time.monotonic() + seconds

    def run(slot: int) -> None:
        n = slot
        while time.monotonic() < stop_at:
            clients[slot].get(urls[n % len(urls)])
            done[slot] += 1
            n += threads

    workers = [threading.Thread(target=run, args=(slot,)) for slot in range(threads)]
    started = time.monotonic()
    stop_at = started + seconds
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    for client in clients:
        client.close()
    return sum(done) / elapsed


# --- figures --------------------------------------------------------------------------------


def lateness(
    requests: list[tuple[int, float, float]], start: float, end: float, args: argparse.Namespace
) -> list[float]:
    by_feed: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for n, began, ended in requests:
        by_feed[n].append((began, ended))
    late: list[float] = []
    for n in range(args.feeds):
        if feed_kind(n) == "error":  # its next poll is its error backoff, not the interval
            continue
        due = start + first_due(n, args.feeds, args.hosts, args.interval)
        for began, ended in sorted(by_feed.get(n, [])):
            late.append(max(0.0, began - due))
            due = ended + args.interval
        if due < end:
            late.append(end - due)  # due and still waiting at the end
    return sorted(late)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


_CLAIMED = re.compile(r"claimed (\d+) of (\d+) due feeds in (\d+) batches, ([\d.]+)s")


def log_lines(procs: list[Proc]) -> set[str]:
    lines: set[str] = set()
    for proc in procs:
        with suppress(OSError):
            lines |= set(proc.log.read_text(errors="replace").splitlines())
    return lines


def run_backend(kind: str, args: argparse.Namespace, layout: list[list[str]]) -> None:
    from pipeline.settings import Settings

    print(f"\n== {kind} ==")
    with ExitStack() as stack:
        extra = stack.enter_context(services_env()) if kind == "services" else {}
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-polling-")))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        env.update(
            NEWSWATCH_DATA_DIR=str(work / "data"),
            NEWSWATCH_HTTP_ALLOW_HOSTS="127.0.0.0/8",
            PYTHONPATH=str(REPO),
            **extra,
        )
        settings = Settings(
            data_dir=work / "data",
            database_url=extra.get("NEWSWATCH_DATABASE_URL"),
            broker_url=extra.get("NEWSWATCH_BROKER_URL"),
        )
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(args.hosts, child), daemon=True)
        server.start()
        stack.callback(server.terminate)
        port = parent.recv()
        per_host = max(1, args.feeds // args.hosts)
        urls = [
            f"http://{host_address(min(n // per_host, args.hosts - 1))}:{port}/feeds/{n}.xml"
            for n in range(args.feeds)
        ]
        cli(env, work, "db", "upgrade")
        add_feeds(settings.store_url, urls, args.interval)
        claim_ms, enqueue_ms = claim_cost(settings, args.feeds)
        print(
            f"claim of all {args.feeds} feeds at once: {claim_ms:.3f} ms per feed"
            + (f"; enqueue: {enqueue_ms:.3f} ms per message" if enqueue_ms else "")
        )
        plain = [u for n, u in enumerate(urls) if feed_kind(n) == "ok"]
        rates = {threads: baseline_rate(plain, 2.0, threads) for threads in (1, 4, 16)}
        rate = max(rates.values())
        print(
            "baseline: plain httpx client on the 304 feeds, GET/s with 1/4/16 threads: "
            + " / ".join(f"{r:,.0f}" for r in rates.values())
            + f" (best: {rate:,.0f})"
        )

        procs = [
            start(f"{i}: newswatch {' '.join(a)}", a, env, work / f"proc{i}.log")
            for i, a in enumerate(layout)
        ]
        for proc in procs:
            stack.callback(stop, proc)
        workers = [p for p, a in zip(procs, layout, strict=True) if a[0] == "worker"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if all(" ready." in p.log.read_text(errors="replace") for p in workers):
                break
            if any(p.popen.poll() is not None for p in procs):
                break
            time.sleep(1)
        if any(p.popen.poll() is not None for p in procs):
            print("a process exited early; its log's tail:")
            for p in procs:
                if p.popen.poll() is not None:
                    print(p.label, p.log.read_text(errors="replace")[-2000:])
            return
        begin = time.time() + 5
        schedule_feeds(settings.store_url, begin, args.interval, args.feeds, args.hosts)
        end = begin + args.duration
        for proc in procs:
            proc.sample()
        cpu_before = [sum(proc.cpu.values()) for proc in procs]
        while time.time() < end:
            for proc in procs:
                proc.sample()
            time.sleep(2)
        parent.send("stats")
        stats = parent.recv()
        for proc in procs:
            proc.sample("VmHWM")
        lines = log_lines(procs)

    requests = [r for r in stats["requests"] if begin <= r[1] < end]
    polls = len(requests) / args.duration
    steady_from = begin + args.interval
    steady = [r for r in requests if r[1] >= steady_from]
    demand = args.feeds / args.interval
    late = lateness(requests, begin, end, args)
    most = max(stats["most"].values(), default=0)
    over = sum(1 for v in stats["most"].values() if v > settings.host_concurrency)
    ticks = [tuple(map(float, m.groups())) for line in lines if (m := _CLAIMED.search(line))]
    # A retry after a short countdown, or (blocked for long) a feed re-scheduled.
    busy = sum(1 for line in lines if "busy (per-host limit)" in line and "polled" not in line)
    print(f"feeds {args.feeds} on {args.hosts} hosts, interval {args.interval}s, {args.duration}s")
    print(f"sustained polls/s: {polls:.1f} (demand {demand:.1f}/s: {polls / demand:.2f}x)", end="")
    if args.duration > args.interval + 10:
        print(f"; after the first interval {len(steady) / (end - steady_from):.1f}/s", end="")
    print(f"; ratio to baseline {polls / rate:.3f}")
    print(
        f"lateness of a due feed: p50 {percentile(late, 0.5):.1f}s, "
        f"p99 {percentile(late, 0.99):.1f}s, max {late[-1] if late else float('nan'):.1f}s "
        f"({len(late)} due polls)"
    )
    # Each feed is due an interval after its previous answer (plus jitter), and an erroring
    # feed backs off: what falls due in the window is below feeds/interval, so polls/s is
    # read beside how much of what fell due was polled.
    made = sum(1 for r in requests if feed_kind(r[0]) != "error")
    print(
        f"due polls made: {made} of {len(late)} ({made / max(1, len(late)):.1%}); "
        f"{len(late) - made} still waiting at the end"
    )
    print(
        f"most requests in flight on one host: {most} "
        f"(limit {settings.host_concurrency}; hosts over it: {over}); "
        f"polls put off for a busy host: {busy}"
    )
    if ticks:
        claimed = sum(t[0] for t in ticks)
        spent = sum(t[3] for t in ticks)
        print(
            f"claim ticks: {len(ticks)}, {claimed:.0f} feeds claimed, slowest tick "
            f"{max(t[3] for t in ticks):.2f}s, {1000 * spent / max(claimed, 1):.2f} ms per "
            "claimed and enqueued feed"
        )
    for proc, before in zip(procs, cpu_before, strict=True):
        peak = max(proc.peak_rss.values(), default=0) / 1024
        # CPU spent while measured, per poll the server answered then.
        cpu_ms = 1000 * (sum(proc.cpu.values()) - before) / max(len(requests), 1)
        print(
            f"peak RSS {peak:7.1f} MiB (largest of {len(proc.peak_rss)} processes), "
            f"CPU {cpu_ms:5.2f} ms per poll  {proc.label}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--duration", type=int, default=180, help="seconds measured")
    parser.add_argument("--backend", choices=["services", "embedded", "both"], default="both")
    parser.add_argument(
        "--process",
        action="append",
        metavar="ARGS",
        help="newswatch arguments of one process (repeat), instead of README's layout",
    )
    args = parser.parse_args(argv)
    layout = checked_layout([shlex.split(p) for p in args.process or []] or readme_layout())
    print("layout:", "; ".join("newswatch " + " ".join(a) for a in layout))
    print(f"cores: {os.cpu_count()}")
    for kind in ("services", "embedded") if args.backend == "both" else (args.backend,):
        run_backend(kind, args, layout)


if __name__ == "__main__":
    main()
