"""End-to-end harness: a real `newswatch run` process on a chosen backend.

Two backends: the embedded defaults (filesystem broker + SQLite in a temp dir) and the
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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

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
def backend(kind: str, tmp_path: Path) -> Iterator[Backend]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if kind == "embedded":
        yield Backend(kind, data_dir, base_env(data_dir))
        return
    with redis_broker() as broker_url, postgres_database() as database_url:
        env = base_env(
            data_dir, NEWSWATCH_BROKER_URL=broker_url, NEWSWATCH_DATABASE_URL=database_url
        )
        yield Backend(kind, data_dir, env)


@contextmanager
def running_worker(b: Backend, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "run", "--concurrency", "2"],
            env=b.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until(predicate: object, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
