"""The embedded broker: a real redis-server newswatch starts in the data directory.

Users are real processes (the same attach code `newswatch worker`/`beat`/`run` call), so
the locks, the reuse and the shutdown at the last exit are exercised as they happen.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.io import embedded_redis
from pipeline.io.embedded_redis import attach, detach
from pipeline.io.embedded_redis import embedded_redis as server_for
from tests.conftest import REPO_ROOT

USER = """
import sys
from pathlib import Path
from pipeline.io.embedded_redis import attach_process
print(attach_process(Path(sys.argv[1])), flush=True)
sys.stdin.read()  # until the test closes stdin; then exit normally (atexit detaches)
"""


def start_user(data_dir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", USER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("redis+socket://"), line
    return process


def end_user(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0


def redis_client(data_dir: Path) -> object:
    import redis

    return redis.Redis(unix_socket_path=str(server_for(data_dir).socket), socket_timeout=5)


def server_pid(data_dir: Path) -> int:
    return int(server_for(data_dir).pidfile.read_text())


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    embedded_redis.stop(path)  # whatever a failed test left running


def test_starts_on_a_unix_socket_with_an_append_only_file_and_stops_with_its_user(
    data_dir: Path,
) -> None:
    user = start_user(data_dir)
    server = server_for(data_dir)
    client = redis_client(data_dir)
    assert client.ping()  # type: ignore[attr-defined]
    assert client.config_get("port") == {"port": "0"}  # type: ignore[attr-defined]
    assert client.config_get("appendonly") == {"appendonly": "yes"}  # type: ignore[attr-defined]
    assert oct(server.socket.stat().st_mode & 0o777) == oct(0o700)
    pid = server_pid(data_dir)

    end_user(user)
    assert wait_gone(pid)
    assert not server.socket.exists()
    assert not embedded_redis.is_running(server)


def test_a_second_process_reuses_the_server_which_outlives_the_first(data_dir: Path) -> None:
    first = start_user(data_dir)
    pid = server_pid(data_dir)
    second = start_user(data_dir)
    assert server_pid(data_dir) == pid  # reused, not a second server

    end_user(first)
    assert redis_client(data_dir).ping()  # type: ignore[attr-defined]
    end_user(second)
    assert wait_gone(pid)


def test_messages_survive_a_stop_and_start(data_dir: Path) -> None:
    user = start_user(data_dir)
    redis_client(data_dir).lpush("fetch", "message-1")  # type: ignore[attr-defined]
    end_user(user)

    user = start_user(data_dir)
    assert redis_client(data_dir).lrange("fetch", 0, -1) == [b"message-1"]  # type: ignore[attr-defined]
    end_user(user)


def test_a_killed_user_leaves_the_server_to_the_next_one_which_stops_it(data_dir: Path) -> None:
    killed = start_user(data_dir)
    pid = server_pid(data_dir)
    killed.kill()
    killed.wait(timeout=10)
    assert redis_client(data_dir).ping()  # type: ignore[attr-defined]

    user = start_user(data_dir)
    assert server_pid(data_dir) == pid
    end_user(user)
    assert wait_gone(pid)


def test_a_crashed_server_leaves_stale_files_that_the_next_start_replaces(data_dir: Path) -> None:
    user = start_user(data_dir)
    pid = server_pid(data_dir)
    redis_client(data_dir).lpush("deliver", "kept")  # type: ignore[attr-defined]
    time.sleep(1.2)  # appendfsync everysec
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    server = server_for(data_dir)
    assert server.socket.exists() and server.pidfile.exists()  # left behind by the crash

    replacement = start_user(data_dir)
    assert server_pid(data_dir) != pid
    assert redis_client(data_dir).lrange("deliver", 0, -1) == [b"kept"]  # type: ignore[attr-defined]
    end_user(replacement)
    end_user(user)
    assert not embedded_redis.is_running(server)


def test_a_socket_file_nobody_listens_on_is_removed(data_dir: Path) -> None:
    server = server_for(data_dir)
    server.directory.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(server.socket))
    stale.close()  # the file stays, nothing listens: as after a power cut
    server.pidfile.write_text("999999999\n")

    attachment = attach(data_dir)
    try:
        assert redis_client(data_dir).ping()  # type: ignore[attr-defined]
    finally:
        assert detach(attachment)
    assert not server.socket.exists()


def test_an_unusable_data_directory_is_one_error_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file\n")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        attach(not_a_dir)

    too_long = tmp_path / ("d" * 120)
    with pytest.raises(ConfigError, match="too long for the embedded broker's socket"):
        attach(too_long)


def test_newswatch_worker_on_an_unusable_data_directory_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(not_a_dir)
    env["NEWSWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "worker", "--queues", "deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "is a file, not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_celery_remote_control_reaches_a_worker_on_the_embedded_broker(data_dir: Path) -> None:
    """`celery inspect` works as on production Redis; the worker, its last user, stops it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(data_dir)
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "worker", "--queues", "deliver", "--name", "probe"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    try:
        ping = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "inspect"]
        answered = ""
        deadline = time.monotonic() + 120
        while "pong" not in answered and time.monotonic() < deadline:
            result = subprocess.run(
                [*ping, "ping", "--destination", f"probe@{socket.gethostname()}", "--timeout", "3"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=REPO_ROOT,
            )
            answered = result.stdout
        assert "pong" in answered, answered
        queues = subprocess.run(
            [*ping, "active_queues", "--timeout", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
        ).stdout
        assert "'deliver'" in queues and "'fetch'" not in queues
        pid = server_pid(data_dir)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert wait_gone(pid)
