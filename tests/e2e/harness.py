"""End-to-end harness: a real `newswatch run` process on a chosen backend.

Two backends: the embedded defaults (embedded Redis broker + SQLite in a temp dir) and the
real services (Redis db 13 + a fresh PostgreSQL database, dropped afterwards).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io import embedded_redis
from tests.conftest import need_service

REDIS_URL = os.environ.get("NEWSWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def redis_available() -> tuple[bool, str]:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True, REDIS_URL
    except Exception as exc:
        return False, f"{REDIS_URL}: {exc}"


def postgres_available() -> tuple[bool, str]:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True, POSTGRES_ADMIN_URL
    except Exception as exc:
        return False, f"{POSTGRES_ADMIN_URL}: {exc}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty database; yields its SQLAlchemy URL and drops it afterwards."""
    import psycopg

    ok, detail = postgres_available()
    need_service("PostgreSQL", ok, detail)
    name = f"newswatch_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        from pipeline.io.store import dispose_all

        dispose_all()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_broker() -> Iterator[str]:
    import redis

    ok, detail = redis_available()
    need_service("Redis", ok, detail)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()


@dataclass
class Backend:
    name: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def cli(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "worker.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"newswatch {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}"
            )
        return result


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "NEWSWATCH_DATA_DIR": str(data_dir),
            "NEWSWATCH_HTTP_ALLOW_HOSTS": "127.0.0.1",
            "NEWSWATCH_BEAT_INTERVAL": "1",
            "NEWSWATCH_LOG_LEVEL": "INFO",
            "NEWSWATCH_RULES_FILE": str(data_dir / "no-rules.yaml"),
            "NEWSWATCH_FEEDS_FILE": str(data_dir / "no-feeds.yaml"),
        }
    )
    env.update(extra)
    (data_dir / "no-rules.yaml").write_text("rules: []\n")
    (data_dir / "no-feeds.yaml").write_text("feeds: []\n")
    return env


@contextmanager
def backend(
    kind: str, tmp_path: Path, broker_url: str | None = None, database_url: str | None = None
) -> Iterator[Backend]:
    """``broker_url``/``database_url`` replace the shared Redis db / a fresh database on the
    shared PostgreSQL with servers of the test's own (the fault tests kill those)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if kind == "embedded":
        try:
            yield Backend(kind, data_dir, base_env(data_dir))
        finally:
            # `run` stops the embedded broker as it exits; a killed one leaves it running.
            embedded_redis.stop(data_dir)
        return
    with ExitStack() as stack:
        broker = broker_url or stack.enter_context(redis_broker())
        database = database_url or stack.enter_context(postgres_database())
        env = base_env(data_dir, NEWSWATCH_BROKER_URL=broker, NEWSWATCH_DATABASE_URL=database)
        yield Backend(kind, data_dir, env)


@contextmanager
def running_worker(b: Backend, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with newswatch_process(b, log_path, "run", "--concurrency", "2") as process:
        yield process


@contextmanager
def newswatch_process(b: Backend, log_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`newswatch ARGS` (run, worker, beat) in its own process group, appending to
    ``log_path``; stopped with SIGTERM (SIGKILL after 20 s) unless the test killed it."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *args],
            env=b.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session and every process of its group."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Children that outlived their parent (a SIGKILLed main process) are still in the group.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_until(predicate: object, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
